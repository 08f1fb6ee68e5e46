"""One rule for "the schedule as known at t": a version counts iff known_at <= t; on hourly grids a sub-hour
known_at counts from the next whole hour. Both vectorised schedule paths are checked against plain loops."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecast.data import contracts as c
from forecast.data.asof import NEVER, schedule_as_of, version_intervals, visible_from_hour
from forecast.data.features import PHYS, SCHEDULE_CHANNELS, SiteMeta, schedule_covariates
from forecast.data.gpus import gpu_spec
from forecast.data.reference import schedule_at
from forecast.errors import ContractError

T0 = pd.Timestamp("2025-01-01T00:00Z")
HOUR = pd.Timedelta(hours=1)
MIN = pd.Timedelta(minutes=1)
METAS = [SiteMeta("a", "Z", capacity_mw=80.0, pue_design=1.2, base_load_mw=2.0, host_ratio=0.3,
                  fleet={"H100": 1000, "B200": 400}),
         SiteMeta("b", "Z", capacity_mw=40.0, pue_design=1.4, base_load_mw=1.0, host_ratio=0.2, fleet={"A100": 600})]
CH = {c_: i for i, c_ in enumerate(SCHEDULE_CHANNELS)}


def ns(*ts) -> np.ndarray:
    return pd.DatetimeIndex(list(ts)).as_unit("ns").asi8


# ---------------------------------------------------------------------------- the rule on integer hours
def test_visible_from_hour_rounds_sub_hour_known_at_up():
    got = visible_from_hour(ns(T0 + 10 * HOUR + 30 * MIN, T0 + 10 * HOUR, T0 + 10 * HOUR + pd.Timedelta(1, "ns"),
                               T0 - 90 * MIN, T0 - 2 * HOUR), T0)
    assert got.tolist() == [11, 10, 11, -1, -2]
    assert got.dtype == np.int64


def test_visible_from_hour_clamps_known_forever_without_overflow():
    forever = ns(pd.Timestamp.min.tz_localize("UTC"))
    assert visible_from_hour(forever, T0).tolist() == [-3650 * 24]


def jobs_frame(rows) -> pd.DataFrame:
    keys = ("job_id", "site_id", "known_at", "planned_start", "planned_end", "n_gpus", "gpu_type", "flop_budget")
    df = pd.DataFrame([dict(zip(keys, r)) for r in rows], columns=list(keys))
    for col in ("known_at", "planned_start", "planned_end"):
        df[col] = pd.to_datetime(df[col], utc=True)
    # every other row FP8: the FLOP-rate channel divides by the peak at each job's own precision
    return df.assign(precision=np.where(np.arange(len(df)) % 2 == 1, "fp8", "bf16"), curtailable=False)


def test_version_intervals_supersede_from_the_hour_the_next_is_visible():
    j = jobs_frame([("j2", "a", T0 + 10 * HOUR + 50 * MIN, T0 + 20 * HOUR, T0 + 30 * HOUR, 8, "H100", None),
                    ("j1", "a", T0 - 5 * HOUR, T0 + 20 * HOUR, T0 + 30 * HOUR, 8, "H100", None),
                    ("j2", "a", T0 + 10 * HOUR + 10 * MIN, T0 + 21 * HOUR, T0 + 30 * HOUR, 8, "H100", None),
                    ("j1", "a", T0 + 3 * HOUR + 30 * MIN, T0 + 22 * HOUR, T0 + 30 * HOUR, 8, "H100", None),
                    ("j2", "a", T0 + 2 * HOUR, T0 + 22 * HOUR, T0 + 30 * HOUR, 8, "H100", None)])
    iv = version_intervals(j, T0)
    assert iv.order.tolist() == [1, 3, 4, 2, 0]  # by job_id, then known_at
    assert iv.k.tolist() == [-5, 4, 2, 11, 11]
    # j2's 10:10 version is superseded by its 10:50 one in the same hour: never in force at a whole hour
    assert iv.k_end.tolist() == [4, NEVER, 11, 11, NEVER]
    assert iv.order[iv.in_force(10)].tolist() == [3, 4] and iv.order[iv.in_force(11)].tolist() == [3, 0]


def test_schedule_as_of_takes_latest_known_version():
    j = jobs_frame([("j1", "a", "2024-12-20T00:00Z", T0, T0 + HOUR, 8, "B200", None),
                    ("j1", "a", "2024-12-01T00:00Z", T0, T0 + HOUR, 8, "H100", None),
                    ("j0", "b", "2024-12-15T12:00Z", T0, T0 + HOUR, 8, "A100", None)])
    early = schedule_as_of(j, pd.Timestamp("2024-12-10T00:00Z"))
    late = schedule_as_of(j, pd.Timestamp("2024-12-25T00:00Z"))
    assert early["gpu_type"].tolist() == ["H100"]
    assert late["job_id"].tolist() == ["j0", "j1"] and late["gpu_type"].tolist() == ["A100", "B200"]
    assert schedule_as_of(j, pd.Timestamp("2024-11-01T00:00Z")).empty
    # off the hour, exactly at and just before a known_at
    assert schedule_as_of(j, pd.Timestamp("2024-12-15T12:00Z"))["job_id"].tolist() == ["j0", "j1"]
    assert schedule_as_of(j, pd.Timestamp("2024-12-15T11:59:59Z"))["job_id"].tolist() == ["j1"]


# ---------------------------------------------------------------------------- brute force
def brute_plan(rows: list[dict], t: pd.Timestamp) -> list[dict]:
    """Per job, the version with the largest known_at <= t: a plain loop."""
    best: dict[str, dict] = {}
    for r in rows:
        if r["known_at"] <= t and (r["job_id"] not in best or r["known_at"] > best[r["job_id"]]["known_at"]):
            best[r["job_id"]] = r
    return list(best.values())


def brute_channels(rows: list[dict], meta: SiteMeta, t: pd.Timestamp, hour: pd.Timestamp) -> np.ndarray:
    """Schedule channels of ``hour`` at ``meta``'s site as planned at ``t``, summed job by job."""
    out = np.zeros(len(SCHEDULE_CHANNELS))
    out[PHYS] = meta.idle_mw / meta.capacity_mw
    for r in brute_plan(rows, t):
        if r["site_id"] != meta.site_id:
            continue
        share = r["n_gpus"] / meta.n_gpus
        if r["planned_start"] <= hour < r["planned_end"]:
            spec = gpu_spec(r["gpu_type"])
            out[CH[f"gpus_{r['gpu_type']}"]] += share
            if r["flop_budget"] is not None and not np.isnan(r["flop_budget"]):
                dur_s = max((r["planned_end"] - r["planned_start"]) / HOUR, 1) * 3600.0
                peak = spec.peak_flops(r["precision"])  # the job's GPU type at its own precision
                out[CH["flop_rate"]] += r["flop_budget"] / dur_s / (meta.n_gpus * peak)
            out[PHYS] += (meta.pue_design * (1 + meta.host_ratio) * r["n_gpus"] * (spec.train_w - spec.idle_w)
                          / 1e6 / meta.capacity_mw)
        out[CH["starts"]] += share * (hour == r["planned_start"])
        out[CH["ends"]] += share * (hour == r["planned_end"])
    return out


@st.composite
def revised_jobs(draw) -> pd.DataFrame:
    """Up to 4 jobs with 1–4 versions each: known_at anywhere in a 4-day span (often off the hour, sometimes two
    in one hour), plans on the hour; a revision may move a job to the other site."""
    rows = []
    for j in range(draw(st.integers(1, 4))):
        n_v = draw(st.integers(1, 4))
        minute = st.one_of(st.integers(-48, 48).map(lambda h: 60 * h), st.integers(-48 * 60, 48 * 60))
        knowns = draw(st.lists(minute, min_size=n_v, max_size=n_v, unique=True))
        for known in knowns:
            meta = METAS[draw(st.integers(0, 1))]
            gpu = draw(st.sampled_from(sorted(meta.fleet)))
            start = draw(st.integers(-30, 50))
            dur = draw(st.integers(1, 30))
            flops = draw(st.one_of(st.none(), st.floats(1e18, 1e21)))
            rows.append((f"j{j}", meta.site_id, T0 + known * MIN, T0 + start * HOUR, T0 + (start + dur) * HOUR,
                         draw(st.integers(1, meta.n_gpus // 2)), gpu, flops))
    order = draw(st.permutations(range(len(rows))))
    return jobs_frame([rows[i] for i in order])


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(jobs=revised_jobs())
def test_schedule_covariates_match_brute_force(jobs):
    issue = pd.date_range(T0 - 30 * HOUR, periods=70, freq="h")
    rows = jobs.to_dict("records")
    for meta in METAS:
        cov = schedule_covariates(jobs, meta, issue, 16)
        want = np.array([[brute_channels(rows, meta, t, t + h * HOUR) for h in range(16)] for t in issue])
        np.testing.assert_allclose(cov, want, rtol=1e-5, atol=1e-6, err_msg=meta.site_id)


@PROPERTY
@given(jobs=revised_jobs(), t_h=st.integers(-20, 40))
def test_schedule_at_matches_brute_force(jobs, t_h):
    t, L, H = T0 + t_h * HOUR, 24, 16
    rows = jobs.to_dict("records")
    hist, fut = schedule_at(jobs, METAS, t, L, H)
    for s, meta in enumerate(METAS):
        want_hist = [brute_channels(rows, meta, t - (L - i) * HOUR, t - (L - i) * HOUR) for i in range(L)]
        want_fut = [brute_channels(rows, meta, t, t + h * HOUR) for h in range(H)]
        np.testing.assert_allclose(hist[s], np.array(want_hist), rtol=1e-5, atol=1e-6, err_msg=f"hist {meta.site_id}")
        np.testing.assert_allclose(fut[s], np.array(want_fut), rtol=1e-5, atol=1e-6, err_msg=f"fut {meta.site_id}")


@PROPERTY
@given(jobs=revised_jobs(), t_min=st.integers(-50 * 60, 50 * 60))
def test_schedule_as_of_matches_brute_force(jobs, t_min):
    t = T0 + t_min * MIN
    got = schedule_as_of(jobs, t)
    want = sorted(brute_plan(jobs.to_dict("records"), t), key=lambda r: r["job_id"])
    assert list(zip(got["job_id"], got["known_at"])) == [(r["job_id"], r["known_at"]) for r in want]


# ---------------------------------------------------------------------------- stated assumptions
def write_jobs(tmp_path) -> str:
    """Two jobs, no known_at column: j1 planned 2025-01-02 00:00–10:00, j2 2025-01-03 00:00–12:00."""
    df = pd.DataFrame(dict(job_id=["j1", "j2"], site_id=["a", "a"],
                           planned_start=["2025-01-02T00:00Z", "2025-01-03T00:00Z"],
                           planned_end=["2025-01-02T10:00Z", "2025-01-03T12:00Z"], n_gpus=[100, 200],
                           gpu_type=["H100", "B200"], flop_budget=[None, None], precision=["bf16", "bf16"],
                           curtailable=["false", "false"]))
    p = tmp_path / "jobs.csv"
    df.to_csv(p, index=False)
    return str(p)


def test_known_at_planned_start_makes_each_plan_visible_from_its_start(tmp_path):
    jobs = c.load_jobs(write_jobs(tmp_path), known_at="planned_start")
    issue = pd.date_range("2025-01-01T12:00Z", periods=48, freq="h")
    cov = schedule_covariates(jobs, METAS[0], issue, 24)
    h100, b200 = cov[:, :, CH["gpus_H100"]], cov[:, :, CH["gpus_B200"]]
    start1, start2 = 12, 36  # issue indices of 2025-01-02 00:00 and 2025-01-03 00:00
    assert h100[:start1].max() == 0.0 and h100[start1, :10].tolist() == pytest.approx([100 / 1400] * 10)
    assert h100[start1, 10] == 0.0
    assert b200[:start2].max() == 0.0 and b200[start2, 0] == pytest.approx(200 / 1400)
    assert cov[start1 - 1, :, CH["starts"]].max() == 0.0  # its start is never announced before it starts


def test_known_at_always_makes_every_plan_visible_at_any_issue_time(tmp_path):
    jobs = c.load_jobs(write_jobs(tmp_path), known_at="always")
    issue = pd.DatetimeIndex([pd.Timestamp("2020-01-01T00:00Z"), pd.Timestamp("2025-01-01T12:00Z")])
    cov = schedule_covariates(jobs, METAS[0], issue, 48)
    assert cov[0].max(axis=0)[CH["gpus_H100"]] == 0.0  # 2020: outside the horizon, but nothing is hidden
    assert cov[1, 12:22, CH["gpus_H100"]].tolist() == pytest.approx([100 / 1400] * 10)
    assert cov[1, 36:48, CH["gpus_B200"]].tolist() == pytest.approx([200 / 1400] * 12)
    assert cov[1, 12, CH["starts"]] == pytest.approx(100 / 1400)
    assert schedule_as_of(jobs, pd.Timestamp("1990-01-01T00:00Z"))["job_id"].tolist() == ["j1", "j2"]


def test_load_inputs_refuses_jobs_without_known_at_unless_the_config_states_it(tmp_path):
    from forecast.config import compose, to_object
    from forecast.data.inputs import load_inputs

    write_jobs(tmp_path)
    pd.DataFrame(dict(site_id=["a", "a"], zone=["Z", "Z"], gpu_type=["H100", "B200"], n_gpus=[1000, 400],
                      pue_design=[1.2, 1.2], capacity_mw=[80.0, 80.0], base_load_mw=[2.0, 2.0])
                 ).to_csv(tmp_path / "sites.csv", index=False)
    pd.DataFrame(dict(site_id="a", ts=pd.date_range("2025-01-01T00:00Z", periods=3, freq="h"), power_mw=10.0)
                 ).to_parquet(tmp_path / "meter.parquet", index=False)
    over = ["data=files", f"data.dir={tmp_path}", "data.use_temperature=false"]
    with pytest.raises(ContractError, match=r"jobs.csv: column 'known_at': missing.*data.known_at=planned_start"):
        load_inputs(to_object(compose(over)).data)
    inp = load_inputs(to_object(compose([*over, "data.known_at=planned_start"])).data)
    assert inp.jobs["known_at"].tolist() == inp.jobs["planned_start"].tolist()
    with pytest.raises(ValueError, match=r"'never' is not one of column, planned_start, always .*`data.known_at=...`"):
        to_object(compose([*over, "data.known_at=never"]))


def test_the_known_at_assumption_is_in_the_params_a_run_logs():
    """Runs log ``tracking.flatten(to_dict(cfg))`` as MLflow params (tests/test_tracking.py checks the store)."""
    from forecast.config import compose, to_dict
    from forecast.tracking import flatten

    assert flatten(to_dict(compose()))["data.known_at"] == "column"
    assert flatten(to_dict(compose(["data=files", "data.dir=/x", "data.known_at=always"])))["data.known_at"] == "always"


def test_job_codes_hash_a_column_once_and_never_reuse_codes_of_other_text():
    from forecast.data.asof import job_codes

    ids = pd.Series([f"j{i % 7}" for i in range(40)], dtype="str")
    first = job_codes(ids)
    assert first.tolist() == [i % 7 for i in range(40)]
    first[:] = -1  # the caller's copy: changing it changes nothing kept
    assert job_codes(ids).tolist() == [i % 7 for i in range(40)]
    changed = ids.copy()
    changed.iloc[0] = "j3"  # new text, new buffers
    assert job_codes(changed)[0] == job_codes(changed)[3]
    tail = ids.iloc[5:].reset_index(drop=True)  # same buffers, another offset and length
    assert job_codes(tail).tolist() == [((i + 5) % 7 - 5) % 7 for i in range(35)]  # j5 first: code 0


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3)), min_size=1, max_size=60))
@settings(max_examples=60, deadline=None)
def test_duplicated_versions_match_pandas_duplicated(pairs):
    from forecast.data.asof import duplicated_versions

    jobs = pd.DataFrame({"job_id": pd.Series([f"job-{j}" for j, _ in pairs], dtype="str"),
                         "known_at": pd.to_datetime([k * 3600 for _, k in pairs], unit="s", utc=True)})
    want = jobs.duplicated(["job_id", "known_at"], keep=False).to_numpy()
    np.testing.assert_array_equal(duplicated_versions(jobs), want)
