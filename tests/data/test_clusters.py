"""Cluster-trace readers on small fixtures with each source's quirks, and on the real files when present."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecast.data.clusters import (OPENB_ANCHOR, openb_occupancy, read_openb_nodes, read_openb_pods, read_philly,
                                    read_venus, venus_events)
from forecast.errors import ContractError

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "clusters"
REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "clusters"


# ---------------------------------------------------------------- Venus
def test_venus_hourly_counts_running_level_and_gap():
    h, rep = read_venus(FIX / "venus_10min.csv")
    # net started − ended GPUs reaches −8 at 00:20, so the initial level is 8
    assert rep.values["initial_running_gpus"] == 8
    assert list(h["ts"]) == list(pd.date_range("2020-03-31T16:00Z", periods=3, freq="h"))  # UTC+8 → UTC
    assert h.loc[0, "start_gpus"] == 14 and h.loc[0, "end_gpus"] == 10
    assert h.loc[0, "running_gpus"] == pytest.approx((5 + 5 + 0 + 8 + 12 + 12) / 6)
    # the 01:30 interval is missing: that hour's counts and level are unknown, not zero
    assert h.loc[1, "n_intervals"] == 5 and np.isnan(h.loc[1, "start_gpus"]) and np.isnan(h.loc[1, "running_gpus"])
    assert rep.excluded["incomplete_hours_set_nan"] == 1
    assert rep.flagged["rows_after_10min_gap"] == 1
    assert not h.loc[0, "after_gap"] and h.loc[2, "after_gap"]
    assert h.loc[2, "running_gpus"] == pytest.approx((13 * 5 + 29) / 6)
    assert np.nanmin(h["running_gpus"]) >= 0
    # without a capacity, occupancy is relative to the series' peak
    assert np.nanmax(h["occupancy"]) == pytest.approx(1.0)


def test_venus_capacity_and_events():
    h, rep = read_venus(FIX / "venus_10min.csv", capacity_gpus=20)
    assert h.loc[0, "occupancy"] == pytest.approx(7.0 / 20)
    ev = venus_events(h)
    assert len(ev) == 3 * len(h)
    row = ev[(ev["ts"] == h.loc[0, "ts"]) & (ev["event"] == "start")]
    assert row["n_gpus"].item() == 14
    assert ev[ev["ts"] == h.loc[1, "ts"]]["n_gpus"].isna().all()


def test_venus_rejects_duplicates_and_negative_counts(tmp_path):
    txt = (FIX / "venus_10min.csv").read_text().splitlines()
    dup = tmp_path / "dup.csv"
    dup.write_text("\n".join([txt[0], txt[1], txt[1], *txt[2:]]) + "\n")
    with pytest.raises(ContractError, match=r"dup\.csv: column 'time': timestamps not strictly increasing"):
        read_venus(dup)
    neg = tmp_path / "neg.csv"
    fields = txt[2].split(",")
    fields[8] = "-3"
    neg.write_text("\n".join([txt[0], txt[1], ",".join(fields)]) + "\n")
    with pytest.raises(ContractError, match="column 'start_gpu_num': values below 0"):
        read_venus(neg)


# ---------------------------------------------------------------- Philly
def test_philly_quirks_are_flagged_not_dropped():
    p, rep = read_philly(FIX / "philly_hourly.csv")
    assert len(p) == 13  # 12 rows + the absent 19:00 hour, added as an explicit gap
    assert p["ts"].iloc[0] == pd.Timestamp("2017-10-25T10:00Z")
    q = p.set_index(p["ts"].dt.hour)["quality"]
    assert q[12] == q[13] == q[19] == "missing"
    assert q[14] == q[15] == "zero_active"
    assert q[17] == q[18] == "total_off_nominal"
    assert q[10] == "ok"
    assert rep.flagged == {"missing": 3, "zero_active": 2, "total_off_nominal": 2}
    occ = p.set_index(p["ts"].dt.hour)["occupancy"]
    assert occ[10] == pytest.approx(300.5 / 420) and occ[17] == pytest.approx(394.05 / 552)
    assert np.isnan(occ[19]) and occ[14] == 0.0


def test_philly_active_above_total_is_an_error(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("time,active,total\n2017-10-03 00:00:00,10,420\n2017-10-03 01:00:00,430,420\n")
    with pytest.raises(ContractError, match=r"column 'active': more active nodes than total \(1 rows\); first offending rows: row 1"):
        read_philly(f)


# ---------------------------------------------------------------- Alibaba openb
def test_openb_pods_exclusions_and_fractional_gpus():
    pods, rep = read_openb_pods(FIX / "openb_pods.csv")
    assert rep.excluded == {"never_scheduled": 2, "zero_gpu": 2, "deleted_before_scheduled": 1}
    assert rep.n_rows_in == 11 and rep.n_rows_out == 6 == rep.n_rows_in - rep.n_excluded
    by = pods.set_index("job_id")
    assert by.loc["openb-pod-0001", "n_gpus"] == 0.5
    assert by.loc["openb-pod-0003", "n_gpus"] == 8.0
    assert by.loc["openb-pod-0003", "planned_start"] == OPENB_ANCHOR + pd.Timedelta(seconds=7300)
    assert by.loc["openb-pod-0003", "created_at"] == OPENB_ANCHOR + pd.Timedelta(seconds=7200)
    assert by.loc["openb-pod-0009", "gpu_type"] == "V100M16"
    assert by.loc["openb-pod-0000", "gpu_type"] == "unknown"
    assert set(by.index[by["censored"]]) == {"openb-pod-0000", "openb-pod-0009", "openb-pod-0010"}
    assert rep.flagged["fractional_gpu"] == 3
    assert (pods["planned_end"] > pods["planned_start"]).all()


def test_openb_anchor_is_explicit():
    anchor = pd.Timestamp("2024-06-01T00:00Z")
    pods, _ = read_openb_pods(FIX / "openb_pods.csv", anchor=anchor)
    assert pods["planned_start"].min() == anchor


def test_openb_occupancy_time_weighted():
    pods, _ = read_openb_pods(FIX / "openb_pods.csv")
    nodes, nrep = read_openb_nodes(FIX / "openb_nodes.csv")
    assert nodes["n_gpus"].sum() == 20 and nrep.values["gpus_T4"] == 2
    occ, rep = openb_occupancy(pods, nodes, observed_from_s=0)
    assert occ["ts"].iloc[0] == OPENB_ANCHOR and len(occ) == 10
    exp = [1.0 + 0.5 * 0.5, 1.0 + 0.5 + 0.25 * 0.5, 1.0 + 0.5 * 0.5 + 8 * 3500 / 3600]
    np.testing.assert_allclose(occ["gpus_in_use"].iloc[:3], exp)
    np.testing.assert_allclose(occ["occupancy"].iloc[:3], np.array(exp) / 20)
    assert list(occ["n_running"].iloc[:3]) == [1, 3, 2]  # pod 0002 starts exactly at 01:00 and counts
    # by default hours before the first deletion seen are left out (the list cannot show earlier pods)
    occ2, rep2 = openb_occupancy(pods, nodes)
    assert occ2["ts"].iloc[0] == OPENB_ANCHOR + pd.Timedelta(hours=2)
    assert rep2.excluded["hours_before_observation_window"] == 2


def test_openb_scheduled_before_creation_is_an_error(tmp_path):
    txt = (FIX / "openb_pods.csv").read_text().splitlines()
    f = tmp_path / "pods.csv"
    f.write_text("\n".join([txt[0], "openb-pod-9,1,1,1,1000,,LS,Running,500,900,100"]) + "\n")
    with pytest.raises(ContractError, match="column 'scheduled_time': scheduled before creation"):
        read_openb_pods(f)


# ---------------------------------------------------------------- real files
def _real(name):
    p = REAL / name
    if not p.exists():
        pytest.skip(f"{p} not available")
    return p


def test_real_venus_and_philly_cover_documented_periods():
    h, rep = read_venus(_real("venus_cluster_throughput_10min.csv"))
    assert len(h) == (pd.Timestamp("2020-09-29") - pd.Timestamp("2020-04-01")) / pd.Timedelta(hours=1)
    assert (h["n_intervals"] == 6).all() and h["running_gpus"].min() >= 0
    p, prep = read_philly(_real("philly_node_sequence_hourly_mean.csv"))
    assert p["ts"].iloc[0] == pd.Timestamp("2017-10-03T00:00Z") and p["ts"].iloc[-1] == pd.Timestamp("2017-12-15T18:00Z")
    assert p["occupancy"].dropna().between(0, 1).all() and prep.flagged["missing"] > 0


def test_real_openb_accounts_for_every_pod():
    pods, rep = read_openb_pods(_real("openb_pod_list_default.csv"))
    raw = pd.read_csv(REAL / "openb_pod_list_default.csv")
    assert rep.n_rows_out + rep.n_excluded == len(raw)
    assert rep.excluded["never_scheduled"] == int(raw["scheduled_time"].isna().sum())
    assert (pods["n_gpus"] > 0).all()
