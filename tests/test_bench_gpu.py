"""scripts/bench_gpu.py in its tiny mode: it runs, prints the table, and its JSON holds every row."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_gpu_tiny(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_gpu.py"), "--tiny", "--device", "cpu",
                           "--series", "3,6", "--out", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-4000:]
    r = json.loads(out.read_text())

    train = r["train"]
    assert [row["pipeline"].split(" (")[0] for row in train] == [
        "device-resident", "device-resident, Lightning", "per-sample DataLoader"]
    for row in train:
        assert row["windows_per_s"] > 0 and row["peak_mib"] > 0
        assert row["epoch_s"] == pytest.approx(row["windows_per_epoch"] / row["windows_per_s"])
        assert row["busy"] != row["busy"]  # NaN: no GPU to profile on the CPU
    assert train[2]["vs_dataloader"] == pytest.approx(1.0)

    inf = r["inference"]
    assert [(row["series"], row["pipeline"].split(" ")[0]) for row in inf] == [
        (3, "batched"), (3, "per-site"), (6, "batched"), (6, "per-site")]
    horizon = r["sizes"]["horizon"]
    for row in inf:
        assert row["rows"] == row["series"] * horizon  # one parquet row per series and hour
        assert row["quantiles"] == 9
        assert row["series_per_s"] == pytest.approx(row["series"] / row["seconds"])
    assert [c["history_h"] for c in r["cost_history"]] == list(r["sizes"]["histories"])

    text = proc.stdout
    for header in ("TRAINING", "INFERENCE", "COST vs SERIES", "COST vs HISTORY", "windows/s", "series/s", "GPU busy"):
        assert header in text
    assert "n/a" in text.split("INFERENCE")[0]  # busy fraction without CUDA
