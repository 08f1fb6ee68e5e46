"""Every contract violation gets one clear error naming the file, the column and the first bad rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast.data import contracts as c
from forecast.errors import ContractError


def meter(ts, power=None, site="a"):
    return pd.DataFrame({"site_id": site, "ts": ts, "power_mw": power or [10.0] * len(ts)})


def jobs_frame(**over):
    base = dict(job_id=["j1", "j2"], site_id=["a", "a"], planned_start=["2025-01-01T00:00Z", "2025-01-02T00:00Z"],
                planned_end=["2025-01-01T10:00Z", "2025-01-03T00:00Z"], n_gpus=[64, 128], gpu_type=["H100", "B200"],
                flop_budget=[1e21, None], precision=["bf16", "fp8"], curtailable=["true", "false"])
    base.update(over)
    return pd.DataFrame(base)


def write(tmp_path, df, name="meter.csv"):
    p = tmp_path / name
    df.to_csv(p, index=False) if name.endswith(".csv") else df.to_parquet(p, index=False)
    return p


def test_valid_meter_csv_parses_offsets_to_utc(tmp_path):
    p = write(tmp_path, meter(["2025-03-09T00:00-05:00", "2025-03-09T01:00-05:00", "2025-03-09T03:00-04:00"]))
    df = c.load_meter(p)
    assert list(df["ts"]) == list(pd.date_range("2025-03-09T05:00Z", periods=3, freq="h"))
    assert str(df["ts"].dt.tz) == "UTC"
    assert df["power_mw"].tolist() == [10.0, 10.0, 10.0]


def test_missing_column_is_named_with_a_hint(tmp_path):
    p = write(tmp_path, meter(["2025-01-01T00:00Z"]).rename(columns={"power_mw": "power_MW"}))
    with pytest.raises(ContractError) as e:
        c.load_meter(p)
    msg = str(e.value)
    assert str(p) in msg and "'power_mw'" in msg and "'power_MW' looks like a misnamed 'power_mw'" in msg


def test_timezone_naive_times_rejected_with_rows(tmp_path):
    p = write(tmp_path, meter(["2025-01-01T00:00Z", "2025-01-01 01:00", "2025-01-01 02:00"]))
    with pytest.raises(ContractError, match=r"column 'ts': timezone-naive.*\(2 rows\).*row 1 \(ts='2025-01-01 01:00'\)"):
        c.load_meter(p)


def test_timezone_naive_parquet_rejected(tmp_path):
    df = meter(pd.date_range("2025-01-01", periods=3, freq="h"))
    p = write(tmp_path, df, "meter.parquet")
    with pytest.raises(ContractError, match="timezone-naive"):
        c.load_meter(p)


def test_duplicated_timestamps(tmp_path):
    p = write(tmp_path, meter(["2025-01-01T00:00Z", "2025-01-01T01:00Z", "2025-01-01T01:00Z"]))
    with pytest.raises(ContractError, match=r"meter.csv: column 'ts': duplicated timestamps \(1 rows\); first offending rows: row 2"):
        c.load_meter(p)


def test_gap_is_non_hourly(tmp_path):
    p = write(tmp_path, meter(["2025-01-01T00:00Z", "2025-01-01T01:00Z", "2025-01-01T04:00Z"]))
    with pytest.raises(ContractError, match=r"gaps in the hourly series.*row 2"):
        c.load_meter(p)


def test_off_the_hour_timestamps(tmp_path):
    p = write(tmp_path, meter(["2025-01-01T00:00Z", "2025-01-01T00:30Z"]))
    with pytest.raises(ContractError, match="not on the hour"):
        c.load_meter(p)


def test_dst_gap_is_called_a_dst_transition(tmp_path):
    # local wall-clock hours written with their offsets, but the spring-forward hour skipped twice over
    ts = ["2025-03-09T00:00-05:00", "2025-03-09T01:00-05:00", "2025-03-09T04:00-04:00"]
    p = write(tmp_path, meter(ts))
    with pytest.raises(ContractError, match=r"gaps .* at a DST transition \(UTC offset changes -05:00 -> -04:00"):
        c.load_meter(p)


def test_dst_fall_back_written_twice_is_duplicate_at_dst(tmp_path):
    ts = ["2025-11-02T00:00-04:00", "2025-11-02T01:00-04:00", "2025-11-02T01:00-04:00", "2025-11-02T02:00-05:00"]
    with pytest.raises(ContractError, match="duplicated timestamps at a DST transition"):
        c.load_meter(write(tmp_path, meter(ts)))


def test_negative_power(tmp_path):
    p = write(tmp_path, meter(["2025-01-01T00:00Z", "2025-01-01T01:00Z"], power=[5.0, -1.0]))
    with pytest.raises(ContractError, match=r"column 'power_mw': negative values \(1 rows\).*row 1 \(power_mw='-1.0'\)"):
        c.load_meter(p)


def test_missing_power_is_never_zero(tmp_path):
    df = meter(["2025-01-01T00:00Z", "2025-01-01T01:00Z"])
    df.loc[1, "power_mw"] = None
    with pytest.raises(ContractError, match="column 'power_mw': missing values"):
        c.load_meter(write(tmp_path, df))


def test_series_are_checked_separately_and_sorted():
    df = pd.concat([meter(["2025-01-01T01:00Z", "2025-01-01T00:00Z"], site="b"),
                    meter(["2025-01-01T05:00Z", "2025-01-01T06:00Z"], site="a")])
    out = c.validate(df, "meter", "m")
    assert out["site_id"].tolist() == ["a", "a", "b", "b"]
    assert out["ts"].is_monotonic_increasing is False  # sorted within series, not globally
    assert out.loc[out.site_id == "b", "ts"].is_monotonic_increasing


def test_unknown_gpu_type(tmp_path):
    p = write(tmp_path, jobs_frame(gpu_type=["H100", "MI300X"]), "jobs.csv")
    with pytest.raises(ContractError, match=r"jobs.csv: column 'gpu_type': unknown value; known: A100, H100.*row 1 \(gpu_type='MI300X'\)"):
        c.load_jobs(p)


def test_job_ending_before_it_starts(tmp_path):
    p = write(tmp_path, jobs_frame(planned_end=["2024-12-31T00:00Z", "2025-01-03T00:00Z"]), "jobs.csv")
    with pytest.raises(ContractError, match=r"column 'planned_end': job ends before \(or when\) it starts.*job_id='j1'"):
        c.load_jobs(p)


def test_jobs_duration_instead_of_end_and_defaults(tmp_path):
    df = jobs_frame().drop(columns=["planned_end"]).assign(duration_h=[10, 24])
    out = c.load_jobs(write(tmp_path, df, "jobs.csv"), known_at="always")
    assert (out["planned_end"] - out["planned_start"]).dt.total_seconds().tolist() == [36000.0, 86400.0]
    assert out["curtailable"].tolist() == [True, False]
    assert out["flop_budget"].isna().tolist() == [False, True]
    assert (out["known_at"] == pd.Timestamp.min.tz_localize("UTC")).all()


def test_jobs_without_known_at_are_refused_naming_file_column_and_fix(tmp_path):
    p = write(tmp_path, jobs_frame(), "jobs.csv")
    with pytest.raises(ContractError) as e:
        c.load_jobs(p)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{p}: column 'known_at': missing")
    assert "data.known_at=planned_start" in msg and "data.known_at=always" in msg
    assert e.value.column == "known_at" and e.value.source == str(p)
    with pytest.raises(ContractError, match="column 'known_at': missing"):
        c.validate(jobs_frame(), "jobs", "jobs.csv")  # the in-memory path refuses too


def test_known_at_assumption_planned_start(tmp_path):
    out = c.load_jobs(write(tmp_path, jobs_frame(), "jobs.csv"), known_at="planned_start")
    assert out["known_at"].tolist() == out["planned_start"].tolist()
    assert out["known_at"].tolist() == [pd.Timestamp("2025-01-01T00:00Z"), pd.Timestamp("2025-01-02T00:00Z")]


def test_known_at_assumption_with_a_known_at_column_is_refused(tmp_path):
    p = write(tmp_path, jobs_frame(known_at=["2024-12-01T00:00Z"] * 2), "jobs.csv")
    with pytest.raises(ContractError, match=r"column 'known_at': present, but data.known_at=always"):
        c.load_jobs(p, known_at="always")
    with pytest.raises(ValueError, match="known_at='sometimes' is not one of column, planned_start, always"):
        c.load_jobs(p, known_at="sometimes")


def test_always_known_jobs_cannot_have_revisions(tmp_path):
    p = write(tmp_path, jobs_frame(job_id=["j1", "j1"]), "jobs.csv")
    with pytest.raises(ContractError, match=r"duplicated \(job_id, known_at\)"):
        c.load_jobs(p, known_at="always")


def test_jobs_need_an_end_a_duration_or_a_flop_budget(tmp_path):
    # j1 has a FLOP budget (its end follows from it), j2 has none: refused, naming it
    with pytest.raises(ContractError, match=r"column 'planned_end': no end: give planned_end, duration_h or a "
                                            r"positive flop_budget.*job_id='j2'"):
        c.load_jobs(write(tmp_path, jobs_frame().drop(columns=["planned_end"]), "jobs.csv"), known_at="always")


def test_end_from_flop_budget_uses_the_precision_peak_and_the_sites_learned_mfu(tmp_path):
    """A plan without an end runs C / (n · peak(GPU, precision) · MFU), MFU from the site's earlier plans."""
    from forecast.data.gpus import gpu_spec

    peak16, peak8 = gpu_spec("H100").peak_flops("bf16"), gpu_spec("H100").peak_flops("fp8")
    rows = [  # two planned jobs at MFU 0.30 and 0.50 known first, then two without an end
        dict(job_id="p1", known_at="2025-01-01T00:00Z", planned_start="2025-01-02T00:00Z",
             planned_end="2025-01-02T10:00Z", flop_budget=100 * peak16 * 0.30 * 36000, precision="bf16"),
        dict(job_id="p2", known_at="2025-01-01T01:00Z", planned_start="2025-01-03T00:00Z",
             planned_end="2025-01-03T10:00Z", flop_budget=100 * peak16 * 0.50 * 36000, precision="bf16"),
        dict(job_id="n1", known_at="2025-01-05T00:00Z", planned_start="2025-01-06T00:00Z", planned_end=None,
             flop_budget=100 * peak8 * 0.40 * 20 * 3600, precision="fp8"),
        dict(job_id="n0", known_at="2024-12-31T00:00Z", planned_start="2025-01-01T00:00Z", planned_end=None,
             flop_budget=100 * peak16 * 0.40 * 5 * 3600, precision="bf16"),
    ]
    df = pd.DataFrame([dict(r, site_id="s1", n_gpus=100, gpu_type="H100", curtailable=False) for r in rows])
    out = c.load_jobs(write(tmp_path, df, "jobs.csv")).set_index("job_id")
    # n1: median MFU of p1, p2 (0.40, both known before it), FP8 peak: exactly 20 h
    assert out.loc["n1", "planned_end"] - out.loc["n1", "planned_start"] == pd.Timedelta(hours=20)
    assert out.loc["n1", "mfu"] == pytest.approx(0.40) and out.loc["n1", "end_from"] == "flop_budget"
    # n0 was planned before any other plan was known: the BF16 default MFU 0.40 -> 5 h
    assert out.loc["n0", "planned_end"] - out.loc["n0", "planned_start"] == pd.Timedelta(hours=5)
    assert out.loc["p1", "end_from"] == "plan" and np.isnan(out.loc["p1", "mfu"])


def test_non_positive_gpu_count(tmp_path):
    with pytest.raises(ContractError, match=r"column 'n_gpus': must be positive"):
        c.load_jobs(write(tmp_path, jobs_frame(n_gpus=[0, 8]), "jobs.csv"))


def test_sites_must_agree_within_a_site():
    df = pd.DataFrame({"site_id": ["a", "a"], "zone": ["Z", "Y"], "gpu_type": ["H100", "B200"], "n_gpus": [8, 8],
                       "pue_design": [1.2, 1.2], "capacity_mw": [1.0, 1.0], "base_load_mw": [0.1, 0.1]})
    with pytest.raises(ContractError, match="column 'zone': differs between rows of one site"):
        c.validate(df, "sites", "sites.csv")


def test_grid_allows_negative_prices_but_not_negative_load():
    ts = ["2025-01-01T00:00Z", "2025-01-01T01:00Z"]
    g = pd.DataFrame({"zone": "Z", "ts": ts, "price": [-5.0, 30.0], "load_mw": [100.0, 100.0], "load_forecast_mw": [99.0, 101.0]})
    assert c.validate(g, "grid", "g")["price"].tolist() == [-5.0, 30.0]
    g["load_mw"] = [100.0, -1.0]
    with pytest.raises(ContractError, match="column 'load_mw': negative"):
        c.validate(g, "grid", "grid.parquet")


def test_unsupported_file_type(tmp_path):
    p = tmp_path / "meter.xlsx"
    p.write_text("x")
    with pytest.raises(ContractError, match="unsupported file type"):
        c.load_meter(p)


# ---------------------------------------------------------------------------- parquet hourly tables (arrow path)
def read_series(path, schema=c.METER, window=None):
    from forecast.data.inputs import read_series as rs

    return rs(path, schema, window)


def meter_parquet(tmp_path, df, **kw):
    p = tmp_path / "meter.parquet"
    ts = df["ts"] if pd.api.types.is_datetime64_any_dtype(df["ts"]) else pd.to_datetime(df["ts"], utc=True, format="ISO8601")
    df.assign(ts=ts).to_parquet(p, **{"index": False, **kw})
    import pyarrow.parquet as pq

    assert pq.read_schema(p).field("ts").type.tz is not None  # the arrow path, not the frame fallback
    return p


def test_parquet_series_equal_the_frame_path_sorted_shuffled_and_with_extras(tmp_path):
    rng = np.random.default_rng(0)
    ts = pd.date_range("2025-03-08T00:00", periods=60, freq="h", tz="America/New_York")
    df = pd.concat([pd.DataFrame({"site_id": s, "ts": ts, "power_mw": rng.random(60) * 10}) for s in ("b", " a", "c")])
    df["note"] = "x"
    df = df.rename(columns={"power_mw": " power_mw "}).sample(frac=1, random_state=1)  # names and keys padded
    p = tmp_path / "m.parquet"
    df.to_parquet(p, index=True)  # the pandas index is stored as a column: not data
    got, want = read_series(p), c.load(p, c.METER)
    assert got.equals(want) and list(got.columns) == ["site_id", "ts", "power_mw", "note"]
    assert got["site_id"].tolist()[:2] == ["a", "a"] and str(got["ts"].dt.tz) == "UTC"
    g = pd.DataFrame({"zone": "Z", "ts": ts, "price": 1.0, "load_mw": 2.0, "load_forecast_mw": 3.0})
    g.to_parquet(tmp_path / "g.parquet", index=False)
    assert read_series(tmp_path / "g.parquet", c.GRID).equals(c.load(tmp_path / "g.parquet", c.GRID))


@pytest.mark.parametrize("case, message", [
    ("dup", r"meter.parquet: column 'ts': duplicated timestamps \(1 rows\); first offending rows: row 2 "
            r"\(site_id='a', ts=Timestamp\('2025-01-01 01:00:00\+0000', tz='UTC'\)\)"),
    ("gap", r"column 'ts': gaps in the hourly series \(missing hours\) \(1 rows\); first offending rows: row 2 "
            r"\(site_id='a', ts=Timestamp\('2025-01-01 04:00:00\+0000', tz='UTC'\), "
            r"previous=Timestamp\('2025-01-01 01:00:00\+0000', tz='UTC'\)\)"),
    ("off", r"column 'ts': timestamps not on the hour \(hourly data expected\) \(1 rows\); first offending rows: row 1"),
    ("neg", r"column 'power_mw': negative values \(1 rows\); first offending rows: row 1 \(power_mw=-1.0\)"),
    ("nan", r"column 'power_mw': missing values \(1 rows\); first offending rows: row 1 \(power_mw=nan\)"),
    ("nosite", r"column 'site_id': missing values \(1 rows\); first offending rows: row 1 \(site_id=nan\)"),
    ("blank", r"column 'site_id': empty strings \(1 rows\); first offending rows: row 2 \(site_id='  '\)"),
    ("nots", r"column 'ts': missing values \(1 rows\); first offending rows: row 0 \(ts=NaT\)"),
])
def test_parquet_series_errors_name_file_column_and_first_rows(tmp_path, case, message):
    ts = {"dup": ["00:00", "01:00", "01:00"], "gap": ["00:00", "01:00", "04:00"], "off": ["00:00", "00:30", "01:00"]}
    df = meter([f"2025-01-01T{h}Z" for h in ts.get(case, ["00:00", "01:00", "02:00"])], power=[5.0, 6.0, 7.0])
    if case == "neg":
        df.loc[1, "power_mw"] = -1.0
    if case == "nan":
        df.loc[1, "power_mw"] = np.nan
    if case == "nosite":
        df.loc[1, "site_id"] = None
    if case == "blank":
        df.loc[2, "site_id"] = "  "
    p = meter_parquet(tmp_path, df)
    if case == "nots":
        t = pd.read_parquet(p)
        t.loc[0, "ts"] = pd.NaT
        t.to_parquet(p, index=False)
    with pytest.raises(ContractError, match=message) as e:
        read_series(p)
    assert "\n" not in str(e.value)
    with pytest.raises(ContractError) as old:
        c.load(p, c.METER)
    assert str(e.value) == str(old.value)  # the frame path says the same


def test_parquet_window_reads_only_its_rows_and_reports_the_files_row_numbers(tmp_path):
    ts = pd.date_range("2025-01-01T00:00Z", periods=10, freq="h")
    df = pd.concat([meter(ts, [1.0] * 10, site="b"), meter(ts, [2.0] * 10, site="a")], ignore_index=True)
    df.loc[1, "power_mw"] = -5.0  # site b at 01:00, outside the window: not used, not checked
    p = meter_parquet(tmp_path, df)
    got = read_series(p, window=(ts[4], ts[8]))
    assert got["site_id"].tolist() == ["a"] * 4 + ["b"] * 4 and got["ts"].tolist() == list(ts[4:8]) * 2
    df.loc[16, "power_mw"] = -5.0  # site a at 06:00 is file row 16
    p = meter_parquet(tmp_path, df)
    with pytest.raises(ContractError, match=r"negative values \(1 rows\); first offending rows: row 16 "):
        read_series(p, window=(ts[4], ts[8]))
    empty = read_series(p, window=(ts[0] - 48 * pd.Timedelta(hours=1), ts[0]))  # no rows in the window
    assert empty.empty and list(empty.columns) == ["site_id", "ts", "power_mw"]
    t = pd.read_parquet(p)
    t.loc[1, "power_mw"], t.loc[16, "power_mw"], t.loc[3, "ts"] = 1.0, 2.0, pd.NaT
    t.to_parquet(p, index=False)
    with pytest.raises(ContractError, match=r"column 'ts': missing values \(1 rows\); first offending rows: row 3 "):
        read_series(p, window=(ts[4], ts[8]))  # a row without a time is refused whatever the window


def test_window_is_not_applied_to_csv_or_zone_less_parquet(tmp_path):
    ts = pd.date_range("2025-01-01T00:00Z", periods=6, freq="h")
    p = write(tmp_path, meter(list(ts.strftime("%Y-%m-%dT%H:%MZ"))))
    assert len(read_series(p, window=(ts[2], ts[4]))) == 6  # CSV: read and validated whole
    naive = write(tmp_path, meter(ts.tz_localize(None)), "naive.parquet")
    with pytest.raises(ContractError, match="timezone-naive"):
        read_series(naive, window=(ts[2], ts[4]))


# ---------------------------------------------------------------------------- cross-checks of the four tables
def tables(tmp_path, jobs=None, meter_sites=("a", "b")):
    ts = pd.date_range("2025-01-01T00:00Z", periods=4, freq="h")
    pd.DataFrame({"site_id": ["a", "b", "b"], "zone": ["Z", "Z", "Z"], "gpu_type": ["H100", "H100", "B200"],
                  "n_gpus": [128, 64, 128], "pue_design": 1.2, "capacity_mw": 1.0,
                  "base_load_mw": 0.1}).to_csv(tmp_path / "sites.csv", index=False)
    j = jobs_frame(site_id=["a", "b"], known_at=["2024-12-01T00:00Z"] * 2) if jobs is None else jobs
    j.to_csv(tmp_path / "jobs.csv", index=False)
    pd.concat([meter(ts, site=s) for s in meter_sites]).to_parquet(tmp_path / "meter.parquet", index=False)
    pd.DataFrame({"zone": "Z", "ts": ts, "price": 1.0, "load_mw": 1.0, "load_forecast_mw": 1.0,
                  "temperature_c": 5.0}).to_parquet(tmp_path / "grid.parquet", index=False)
    from forecast.config import DataConfig

    return DataConfig(source="files", dir=str(tmp_path))


def test_cross_checks_name_the_unknown_site_and_the_uninstalled_gpu_type(tmp_path):
    from forecast.data.inputs import load_inputs

    inp = load_inputs(tables(tmp_path))
    assert sorted(inp.metas) == ["a", "b"] and len(inp.meter) == 8
    with pytest.raises(ContractError, match=r"meter.parquet: column 'site_id': sites not in sites.csv; "
                                            r"first offending rows: row 8 \(site_id='c'"):
        load_inputs(tables(tmp_path, meter_sites=("a", "b", "c")))
    bad = jobs_frame(site_id=["a", "b"], gpu_type=["B200", "B200"], known_at=["2024-12-01T00:00Z"] * 2)
    with pytest.raises(ContractError, match=r"jobs.csv: column 'gpu_type': GPU type not installed at that site "
                                            r"\(sites table\); first offending rows: row 0 \(job_id='j1', site_id='a', "
                                            r"gpu_type='B200'\)$"):
        load_inputs(tables(tmp_path, jobs=bad))


def test_a_job_asking_for_more_gpus_than_its_site_has_is_refused(tmp_path):
    from forecast.data.inputs import load_inputs

    ok = jobs_frame(site_id=["a", "b"], n_gpus=[128, 128], gpu_type=["H100", "B200"], known_at=["2024-12-01T00:00Z"] * 2)
    assert len(load_inputs(tables(tmp_path, jobs=ok)).jobs) == 2  # all of a site's GPUs of a type: allowed
    bad = ok.assign(n_gpus=[128, 10**9])
    with pytest.raises(ContractError, match=r"jobs.csv: column 'n_gpus': more GPUs than the site has of that type "
                                            r"\(sites table, sites.csv\); fix the job or the fleet; first offending rows: "
                                            r"row 1 \(job_id='j2', site_id='b', gpu_type='B200', n_gpus=1000000000, "
                                            r"site_has=128\)"):
        load_inputs(tables(tmp_path, jobs=bad))


def test_infinite_power_is_refused_in_csv_and_parquet(tmp_path):
    from forecast.data.inputs import read_series

    df = meter(["2025-01-01T00:00Z", "2025-01-01T01:00Z"], power=[5.0, float("inf")])
    with pytest.raises(ContractError, match=r"column 'power_mw': not finite \(inf\) \(1 rows\).*row 1"):
        c.load_meter(write(tmp_path, df, "meter.csv"))
    df["ts"] = pd.to_datetime(df["ts"], utc=True)
    with pytest.raises(ContractError, match=r"meter.parquet: column 'power_mw': not finite \(inf\)"):
        read_series(write(tmp_path, df, "meter.parquet"), c.METER)


def test_duplicated_versions_mark_every_row_of_a_repeated_job_and_time_pair_only():
    from forecast.data.asof import duplicated_versions

    t = pd.to_datetime(["2025-01-01T00:00Z", "2025-01-01T00:00Z", "2025-01-01T01:00Z", "2025-01-01T00:00Z",
                        "2025-01-01T00:00Z"], utc=True)
    jobs = pd.DataFrame({"job_id": ["a", "b", "a", "a", "c"], "known_at": t})
    assert duplicated_versions(jobs).tolist() == [True, False, False, True, False]
    assert duplicated_versions(jobs).tolist() == jobs.duplicated(["job_id", "known_at"], keep=False).tolist()


def test_duplicated_version_error_names_both_rows(tmp_path):
    jobs = jobs_frame(job_id=["j1", "j1"], planned_start=["2025-01-01T00:00Z"] * 2,
                      planned_end=["2025-01-01T10:00Z", "2025-01-01T12:00Z"])
    jobs["known_at"] = "2024-12-31T00:00Z"
    with pytest.raises(ContractError, match=r"duplicated \(job_id, known_at\).*\(2 rows\)"):
        c.load_jobs(write(tmp_path, jobs, "jobs.csv"))


def test_naive_times_are_read_in_the_zone_the_user_names_and_refused_otherwise(tmp_path):
    from forecast.data.inputs import read_series

    naive = meter(["2025-03-09 00:00", "2025-03-09 01:00", "2025-03-09 03:00"])  # US spring-forward night
    p = write(tmp_path, naive, "meter.csv")
    with pytest.raises(ContractError, match=r"timezone-naive timestamps; .*data.assume_tz=UTC, --assume-tz UTC"):
        c.load_meter(p)
    utc = c.load_meter(write(tmp_path, meter(["2025-03-09 00:00", "2025-03-09 01:00", "2025-03-09 02:00"]),
                             "m2.csv"), assume_tz="UTC")
    assert utc["ts"].iloc[0] == pd.Timestamp("2025-03-09T00:00Z")
    ny = c.load_meter(p, assume_tz="America/New_York")  # 01:00 -> 03:00 local is one hour: no gap
    assert ny["ts"].tolist() == list(pd.date_range("2025-03-09T05:00Z", periods=3, freq="h"))
    gap = write(tmp_path, meter(["2025-03-09 01:00", "2025-03-09 02:00"]), "m3.csv")
    with pytest.raises(ContractError, match=r"wall times that do not exist or occur twice in America/New_York.*row 1"):
        c.load_meter(gap, assume_tz="America/New_York")
    with pytest.raises(ContractError, match=r"data.assume_tz='Nowhere/Zone' is not a time zone"):
        c.load_meter(p, assume_tz="Nowhere/Zone")
    pq_naive = meter(["2025-01-01T00:00", "2025-01-01T01:00"]).assign(ts=lambda d: pd.to_datetime(d["ts"]))
    pq_path = write(tmp_path, pq_naive, "meter.parquet")
    with pytest.raises(ContractError, match="timezone-naive timestamps"):
        read_series(pq_path, c.METER)
    assert read_series(pq_path, c.METER, assume_tz="UTC")["ts"].iloc[1] == pd.Timestamp("2025-01-01T01:00Z")
