"""Shared helpers for the pledge tests: composed configs (the real Hydra files) and small inputs."""

from __future__ import annotations

import pytest

from forecast.pledge.config import load_config


@pytest.fixture(scope="session")
def worked():
    """The worked example exactly as users compose it (no tracking)."""
    return load_config(["pledge=worked_example", "tracking=false"])


@pytest.fixture(scope="session")
def portfolio():
    return load_config(["pledge=pjm_portfolio", "tracking=false", "pledge.montecarlo.samples=40"])
