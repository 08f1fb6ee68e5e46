from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public data sets beside the repo; tests that need them skip when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def small_scenario():
    """A 60-day, 2-site scenario: fast, but with every mechanism of the full one."""
    from forecast.data.simulate import FleetConfig, ScenarioConfig, SiteConfig, ZoneConfig, simulate

    cfg = ScenarioConfig(
        seed=11, days=60,
        sites=[SiteConfig("s1", "Z1", [FleetConfig("H100", 20_000)]),
               SiteConfig("s2", "Z1", [FleetConfig("B200", 8_000), FleetConfig("A100", 8_000)], pue_min=1.2)],
        zones=[ZoneConfig("Z1", 9_000.0)],
    )
    return cfg, simulate(cfg)
