"""The batch forecast and training at scale on this machine: seconds and peak memory by number of series.

    python scripts/bench_scale.py [--series 1000,10000,100000] [--predict-only] [--out bench_scale.json]

Predict: ``forecast.pipeline.predict.predict`` end to end (read and validate the contract files -> windows ->
model -> forecast parquet written) for N series × 168 h × 9 quantiles, and for 1,000 series × 1,488 h. The
model is the default architecture (conf/model/tide.yaml, history 336 h) with 9 quantiles, untrained and
saved with ``forecast.models.registry.save``: speed and memory do not depend on the weights. Each size runs in
a fresh subprocess (peak RSS = ``ru_maxrss`` of that child: imports, model and the forecast itself); the
inputs are written beforehand by another subprocess. seconds = median of ``--repeats`` (>= 3) runs after one
warm-up run.

Inputs (``synth_inputs``): the files layout ``data=files`` reads (sites.csv, jobs.parquet, meter.parquet,
grid.parquet), generated with numpy: 1–3 GPU types per site, 20 grid zones with temperature, ``--meter-h``
hours of meter before the reference time (default 336 + 168), jobs overlapping the meter and the horizon
with revisions (~20 % of jobs) and known_at before and after the reference time (some at half past).

Train: windows/s and peak RSS when training the default model on 1,000 series × 2 years (synthetic meter,
schedule and temperature through ``forecast.data.windows.build_series`` + ``WindowStore``; a plain-torch
loop of ``--steps`` AdamW steps on the pinball loss, batch 512, after warm-up steps), once with the compact
known-future store and once materialised where the store offers the choice (``compact=`` keyword) and the
materialised arrays (T·H·C·4 bytes per series) fit in memory; otherwise the one path, said so in the output.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from forecast.data.gpus import GPU_TYPES, gpu_spec
from forecast.io import atomic_write, atomic_write_text

HOUR = pd.Timedelta(hours=1)
HOUR_NS = 3_600_000_000_000
Q9 = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
T_REF = pd.Timestamp("2026-01-05T00:00Z")
HISTORY = 336
N_ZONES = 20
PRECISION_MIX = (("bf16", 0.80), ("fp8", 0.15), ("fp16", 0.05))


# ------------------------------------------------------------------------------------------ inputs
def synth_sites(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """One row per site and GPU type: 1–3 types per site, 512–16,384 GPUs each, capacity at 40 °C."""
    k = rng.choice([1, 2, 3], n, p=[0.5, 0.35, 0.15])
    perm = np.argsort(rng.random((n, len(GPU_TYPES))), axis=1)
    site = np.repeat(np.arange(n), k)
    rank = np.arange(len(site)) - np.repeat(np.cumsum(k) - k, k)
    gtype = perm[site, rank]
    n_gpus = rng.integers(64, 2049, len(site)) * 8
    host = 0.3
    tdp = np.array([gpu_spec(g).tdp_w for g in GPU_TYPES])[gtype]
    it_max = np.bincount(site, weights=n_gpus * tdp, minlength=n) * (1 + host) / 1e6  # (n,) MW
    pue_min = rng.uniform(1.08, 1.25, n)
    base = np.round(rng.uniform(0.5, 5.0, n), 2)
    cap = np.round(it_max * (pue_min + 0.01 * 18) + base, 3)
    ids = np.array([f"site-{i:06d}" for i in range(n)])
    return pd.DataFrame({"site_id": ids[site], "zone": np.array([f"Z{i:02d}" for i in range(N_ZONES)])[site % N_ZONES],
                         "gpu_type": np.array(GPU_TYPES)[gtype], "n_gpus": n_gpus,
                         "pue_design": np.round(pue_min + 0.08, 4)[site], "capacity_mw": cap[site],
                         "base_load_mw": base[site], "host_ratio": host})


def synth_jobs(rng: np.random.Generator, sites: pd.DataFrame, t: pd.Timestamp, hours: int, horizon: int,
               jobs_per_day: float) -> pd.DataFrame:
    """Jobs per (site, GPU type) overlapping [t − hours, t + horizon); ~20 % revised once (new start, new length,
    known later, sometimes after t); ~10 % of known_at at half past the hour."""
    span = hours + horizon + 168
    per = rng.poisson(jobs_per_day * span / 24, len(sites)) + 1
    row = np.repeat(np.arange(len(sites)), per)
    J = len(row)
    start = rng.integers(-hours - 168, horizon, J)  # hours from t
    dur = np.clip(np.round(rng.lognormal(np.log(36), 1.0, J)), 3, 720).astype(np.int64)
    fleet = sites["n_gpus"].to_numpy()[row]
    n = np.maximum(8, np.round(fleet * rng.choice([1 / 32, 1 / 16, 1 / 8, 1 / 4], J) / 8).astype(np.int64) * 8)
    known = start - rng.integers(1, 240, J)
    rev = rng.random(J) < 0.2
    r = np.flatnonzero(rev)
    start2 = start[r] + rng.integers(-24, 25, len(r))
    dur2 = np.maximum(3, np.round(dur[r] * rng.uniform(0.8, 1.3, len(r)))).astype(np.int64)
    known2 = known[r] + rng.integers(1, 200, len(r))
    dur2 = np.maximum(dur2, known2 + 1 - start2)  # a revision is known before its planned end
    idx = np.concatenate([np.arange(J), r])
    ks = np.concatenate([known, known2]) * HOUR_NS + np.where(rng.random(J + len(r)) < 0.1, HOUR_NS // 2, 0)
    st, du = np.concatenate([start, start2]), np.concatenate([dur, dur2])
    prec = rng.choice([p for p, _ in PRECISION_MIX], len(idx), p=[w for _, w in PRECISION_MIX])
    gt = sites["gpu_type"].to_numpy()[row][idx]
    peak = np.array([gpu_spec(g).peak_flops(p) for g, p in zip(gt, prec)])
    tv = t.value
    jobs = pd.DataFrame({
        "job_id": np.char.add(sites["site_id"].to_numpy()[row][idx].astype(str), np.char.add("-j", idx.astype(str))),
        "site_id": sites["site_id"].to_numpy()[row][idx],
        "known_at": pd.to_datetime(tv + ks, utc=True),
        "planned_start": pd.to_datetime(tv + st * HOUR_NS, utc=True),
        "planned_end": pd.to_datetime(tv + (st + du) * HOUR_NS, utc=True),
        "n_gpus": n[idx], "gpu_type": gt,
        "flop_budget": n[idx] * peak * rng.uniform(0.3, 0.5, len(idx)) * du * 3600.0,
        "precision": prec, "curtailable": rng.random(len(idx)) < 0.3})
    return jobs.sort_values(["known_at", "job_id"], kind="stable").reset_index(drop=True)


def _write_meter(path: Path, rng: np.random.Generator, sites: pd.DataFrame, t: pd.Timestamp, hours: int) -> int:
    """meter.parquet: every site, hours t − hours … t − 1, sorted by (site_id, ts); written in chunks of sites."""
    first = sites.drop_duplicates("site_id")
    ids, cap = first["site_id"].to_numpy(), first["capacity_mw"].to_numpy()
    ts = pd.date_range(t - hours * HOUR, periods=hours, freq="h").as_unit("us")
    hod = np.sin(2 * np.pi * ts.hour.to_numpy() / 24)
    schema = pa.schema([("site_id", pa.string()), ("ts", pa.timestamp("us", tz="UTC")), ("power_mw", pa.float64())])
    atomic_write(path, lambda tmp: _meter_chunks(tmp, schema, rng, ids, cap, ts, hod, hours))
    return len(ids) * hours


def _meter_chunks(tmp: str, schema: pa.Schema, rng: np.random.Generator, ids: np.ndarray, cap: np.ndarray,
                  ts: pd.DatetimeIndex, hod: np.ndarray, hours: int) -> None:
    with pq.ParquetWriter(tmp, schema) as w:
        for a in range(0, len(ids), 5000):
            s = slice(a, a + 5000)
            k = len(ids[s])
            level = rng.uniform(0.3, 0.7, (k, 1)) + 0.05 * hod[None, :] + rng.normal(0, 0.02, (k, hours))
            power = np.clip(level, 0.0, 1.0) * cap[s, None]
            sid = pa.DictionaryArray.from_arrays(np.repeat(np.arange(k, dtype=np.int32), hours),
                                                 pa.array(ids[s])).cast(pa.string())
            tsa = pa.array(np.tile(ts.asi8, k), pa.timestamp("us", tz="UTC"))
            w.write_table(pa.table([sid, tsa, pa.array(power.ravel())], schema=schema))


def synth_grid(rng: np.random.Generator, t: pd.Timestamp, hours: int) -> pd.DataFrame:
    """Every zone, hours t − hours … t + 23 (a day ahead past the reference time, as a grid export has)."""
    ts = pd.date_range(t - hours * HOUR, periods=hours + 24, freq="h").as_unit("us")
    T = len(ts)
    temp = 12 + 8 * np.sin(2 * np.pi * ts.hour.to_numpy() / 24)[None, :] + rng.normal(0, 3, (N_ZONES, T))
    load = rng.uniform(5e3, 5e4, (N_ZONES, 1)) * (1 + 0.1 * rng.normal(size=(N_ZONES, T)))
    return pd.DataFrame({"zone": np.repeat([f"Z{i:02d}" for i in range(N_ZONES)], T), "ts": np.tile(ts, N_ZONES),
                         "price": (20 + 40 * rng.random((N_ZONES, T))).ravel(), "load_mw": load.ravel(),
                         "load_forecast_mw": (load * 1.01).ravel(), "temperature_c": temp.ravel()})


def synth_inputs(folder: Path, n_sites: int, t: pd.Timestamp = T_REF, hours: int = HISTORY + 168,
                 horizon: int = 168, jobs_per_day: float = 1.0, seed: int = 0) -> dict[str, int]:
    """Write the four contract tables for ``n_sites`` sites to ``folder``; returns rows per table."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    sites = synth_sites(rng, n_sites)
    atomic_write(folder / "sites.csv", lambda tmp: sites.to_csv(tmp, index=False))
    jobs = synth_jobs(rng, sites, t, hours, horizon, jobs_per_day)
    atomic_write(folder / "jobs.parquet", lambda tmp: jobs.to_parquet(tmp, index=False))
    grid = synth_grid(rng, t, hours)
    atomic_write(folder / "grid.parquet", lambda tmp: grid.to_parquet(tmp, index=False))
    n_meter = _write_meter(folder / "meter.parquet", rng, sites, t, hours)  # last: its presence marks the folder done
    return {"sites": len(sites), "jobs": len(jobs), "meter": n_meter, "grid": len(grid)}


# ------------------------------------------------------------------------------------------ predict (child)
def save_model(path: Path, horizon: int, history: int = HISTORY) -> Path:
    """The default architecture (conf/model/tide.yaml) with 9 quantiles, untrained, as a registry checkpoint."""
    import torch

    from forecast.config import compose, to_object
    from forecast.models import registry

    mc = to_object(compose([f"model.quantiles={Q9}"])).model
    torch.manual_seed(0)
    return registry.save(path, registry.build(mc, history, horizon), mc, history, horizon)


def predict_child(folder: str, ckpt: str, out: str, repeats: int, device: str) -> dict:
    """End to end (read inputs -> parquet written) after one warm-up run; seconds of each timed run."""
    from forecast.config import compose, to_object
    from forecast.pipeline.predict import predict

    cfg = to_object(compose(["data=files", f"data.dir={folder}", f"predict.out={out}",
                             f"trainer.accelerator={device}", f"model.quantiles={Q9}"]))
    runs = []
    for i in range(repeats + 1):
        run_cfg = dataclasses.replace(cfg, predict=dataclasses.replace(cfg.predict, out=f"{out}/run{i}"))
        t0 = time.perf_counter()  # each run writes its own file (a forecast file is never rewritten)
        res = predict(run_cfg, model_ref=ckpt, reference_time=T_REF)
        if i:
            runs.append(time.perf_counter() - t0)
        cols = [c for c in pq.read_schema(res.path).names if c.startswith("p") and c[1:].isdigit()]
        shutil.rmtree(f"{out}/run{i}")  # untimed: only one run's file on disk at a time
    return {"seconds": statistics.median(runs), "runs": runs, "rows": res.rows, "quantiles": len(cols),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


# ------------------------------------------------------------------------------------------ train (child)
def synth_series(n: int, years: float, horizon: int, seed: int = 1) -> list:
    """``n`` sites × ``years`` of hourly meter, schedule and zone temperature as SeriesArrays (build_series)."""
    from forecast.data.features import site_metas
    from forecast.data.windows import build_series

    rng = np.random.default_rng(seed)
    hours = int(years * 8760)
    sites = synth_sites(rng, n)
    jobs = synth_jobs(rng, sites, T_REF, hours, horizon, 1.0)
    ts = pd.date_range(T_REF - hours * HOUR, periods=hours, freq="h")
    zone_t = synth_grid(rng, T_REF, hours).set_index(["zone", "ts"])["temperature_c"]
    hod = np.sin(2 * np.pi * ts.hour.to_numpy() / 24)
    out = []
    for (sid, meta), (_, j) in zip(site_metas(sites).items(), jobs.groupby("site_id", sort=True)):
        level = np.clip(rng.uniform(0.3, 0.7) + 0.05 * hod + rng.normal(0, 0.02, hours), 0, 1)
        temp = zone_t.loc[meta.zone].iloc[:hours]
        out.append(build_series(meta, j, pd.Series(level * meta.capacity_mw, index=ts), temp, horizon))
    return out


def train_child(n: int, years: float, steps: int, batch: int, compact: str) -> dict:
    """windows/s of ``steps`` AdamW steps (pinball loss, default model) after 3 warm-up steps, and peak RSS."""
    import torch

    from forecast.config import ModelConfig
    from forecast.data.windows import WindowStore
    from forecast.models import registry
    from forecast.models.quantile import pinball_loss

    t0 = time.perf_counter()
    series = synth_series(n, years, 168)
    kw = {} if compact == "none" else {"compact": compact == "true"}
    store = WindowStore(series, HISTORY, 168, device="cpu", **kw)
    build_s = time.perf_counter() - t0
    index = np.concatenate([store.origins(k) for k in range(len(series))])
    mc = ModelConfig()
    torch.manual_seed(0)
    model = registry.build(mc, HISTORY, 168).train()
    opt = torch.optim.AdamW(model.parameters(), lr=mc.optimizer.lr, weight_decay=mc.optimizer.weight_decay)
    levels = torch.tensor(mc.quantiles, dtype=torch.float32)
    rng = np.random.default_rng(0)

    def step():
        b = store.gather(torch.from_numpy(rng.choice(index, batch)))
        loss = pinball_loss(model(b["x_hist"], b["x_fut"]), b["y"], levels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    t1 = time.perf_counter()
    for _ in range(steps):
        step()
    secs = time.perf_counter() - t1
    return {"series": n, "hours": len(series[0].ts), "windows": int(len(index)), "steps": steps, "batch": batch,
            "windows_per_s": steps * batch / secs, "build_s": build_s,
            "store_mb": getattr(store, "nbytes", float("nan")) / 1e6,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def child(argv: list[str]) -> int:
    """``--_child KIND ARGS…``: one measurement in this (fresh) process; its JSON on the last stdout line."""
    kind, args = argv[0], argv[1:]
    if kind == "gen":
        res = synth_inputs(Path(args[0]), int(args[1]), horizon=int(args[2]), hours=int(args[3]))
    elif kind == "predict":
        res = predict_child(args[0], args[1], args[2], int(args[3]), args[4])
    else:
        res = train_child(int(args[0]), float(args[1]), int(args[2]), int(args[3]), args[4])
    print(json.dumps(res))
    return 0


def run_child(*args) -> dict:
    p = subprocess.run([sys.executable, __file__, "--_child", *map(str, args)], capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(f"child {args[:1]} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------ report
def table(title: str, cols: list[tuple[str, str, str]], rows: list[dict]) -> str:
    """cols: (header, key, format spec); missing values print as n/a."""
    cell = lambda r, k, f: format(r[k], f) if r.get(k) is not None else "n/a"  # noqa: E731
    widths = [max(len(h), *(len(cell(r, k, f)) for r in rows)) for h, k, f in cols]
    lines = [title, "  ".join(h.rjust(w) for (h, _, _), w in zip(cols, widths))]
    lines += ["  ".join(cell(r, k, f).rjust(w) for (_, k, f), w in zip(cols, widths)) for r in rows]
    return "\n".join(lines)


def bench_predict(work: Path, sizes: list[tuple[int, int]], a) -> list[dict]:
    """One fresh child per (series, horizon): inputs written first by another child, then the timed runs."""
    rows = []
    for n, h in sizes:
        folder, ckpt = work / f"in_{n}_h{h}", work / f"model_h{h}.pt"
        if not ckpt.exists():
            save_model(ckpt, h)
        if not (folder / "meter.parquet").exists():
            run_child("gen", folder, n, h, a.meter_h)
        r = run_child("predict", folder, ckpt, work / f"fc_{n}_h{h}", a.repeats, a.device)
        rows.append({"series": n, "horizon_h": h, **r, "ms_per_series": 1000 * r["seconds"] / n,
                     "load": " ".join(f"{x:.1f}" for x in os.getloadavg())})
        runs = ", ".join(f"{x:.2f}" for x in r["runs"])
        print(f"  predict {n:,} series × {h} h: {r['seconds']:.3f} s (runs {runs}), "
              f"peak RSS {r['peak_rss_mb']:,.0f} MB", flush=True)
    return rows


def bench_train(a) -> dict:
    """Compact store (where WindowStore offers ``compact``) and materialised store, where that fits in memory."""
    from forecast.data.features import SCHEDULE_CHANNELS
    from forecast.data.windows import WindowStore

    has_compact = "compact" in inspect.signature(WindowStore).parameters
    n, years = a.train_series, a.train_years
    out = {"has_compact": has_compact, "notes": []}
    if has_compact:
        out["compact"] = run_child("train", n, years, a.steps, a.batch, "true")
    else:
        out["notes"].append("WindowStore has no compact= keyword: the one (materialised) path only")
    per_series = int(years * 8760) * 168 * len(SCHEDULE_CHANNELS) * 4  # T·H·C·4 bytes
    budget = 0.8 * os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")  # free physical memory
    fit = int(budget // (2 * per_series))  # the per-series arrays and their concatenation live together
    need_gb = 2 * n * per_series / 1e9
    if fit >= n:
        out["materialised"] = run_child("train", n, years, a.steps, a.batch, "false" if has_compact else "none")
    elif fit >= 1:
        out["notes"].append(f"materialised: {n:,} series × {years:g} y need ~{need_gb:,.0f} GB (T·H·C·4 bytes per "
                            f"series, twice while concatenated), {budget / 1e9:,.0f} GB usable: run on {fit} series")
        out["materialised"] = run_child("train", fit, years, a.steps, a.batch, "false" if has_compact else "none")
    else:
        out["notes"].append(f"materialised: skipped, one series needs {2 * per_series / 1e9:.1f} GB")
    return out


def report(pred: list[dict], train: dict | None, a) -> None:
    print()
    print(table(f"PREDICT end to end (read inputs -> parquet written; 9 quantiles; median of {a.repeats} runs after a "
                "warm-up; one fresh process per size)",
                [("series", "series", ",d"), ("horizon_h", "horizon_h", "d"), ("quantiles", "quantiles", "d"),
                 ("seconds", "seconds", ".3f"), ("ms/series", "ms_per_series", ".4f"),
                 ("peak_rss_mb", "peak_rss_mb", ",.0f"), ("rows", "rows", ",d"), ("load", "load", "s")], pred))
    base = sorted((r for r in pred if r["horizon_h"] == 168), key=lambda r: r["series"])
    if len(base) > 1:
        lo, hi = base[0], base[-1]
        print(f"cost per series at {hi['series']:,} / at {lo['series']:,} series: "
              f"{hi['ms_per_series'] / lo['ms_per_series']:.2f} (1.0 = linear)")
    if train is not None:
        rows = [{"path": k, **train[k]} for k in ("compact", "materialised") if k in train]
        print()
        print(table(f"TRAIN (default model, history {HISTORY} h, horizon 168 h, batch {a.batch}, {a.steps} steps after "
                    "3 warm-up steps; plain torch AdamW, pinball loss)",
                    [("path", "path", "s"), ("series", "series", ",d"), ("hours", "hours", ",d"),
                     ("windows/s", "windows_per_s", ",.0f"), ("store_mb", "store_mb", ",.0f"),
                     ("build_s", "build_s", ".1f"), ("peak_rss_mb", "peak_rss_mb", ",.0f")], rows))
        for note in train["notes"]:
            print(f"note: {note}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--_child"]:
        return child(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", default="1000,10000,100000", help="series counts for the 168 h forecasts")
    ap.add_argument("--long", default="1000:1488", help="SERIES:HORIZON of the long forecast ('' to skip)")
    ap.add_argument("--predict-only", action="store_true", help="skip the training part")
    ap.add_argument("--out", default=None, help="also write the results as JSON here")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per size after a warm-up (>= 3)")
    ap.add_argument("--meter-h", type=int, default=HISTORY + 168, help="hours of meter per site in the inputs")
    ap.add_argument("--device", default="cpu", help="trainer.accelerator of the forecast")
    ap.add_argument("--work", default=None, help="folder for inputs and outputs (kept; default: a temporary one)")
    ap.add_argument("--train-series", type=int, default=1000)
    ap.add_argument("--train-years", type=float, default=2.0)
    ap.add_argument("--steps", type=int, default=20, help="timed optimiser steps")
    ap.add_argument("--batch", type=int, default=512)
    a = ap.parse_args(argv)
    if a.repeats < 3:
        ap.error("--repeats must be >= 3")
    sizes = [(int(s), 168) for s in a.series.split(",") if s]
    if a.long:
        sizes.append(tuple(int(x) for x in a.long.split(":")))
    env = {"command": " ".join(["scripts/bench_scale.py", *argv]), "cpus": os.cpu_count(),
           "load_start": os.getloadavg(), "python": sys.version.split()[0]}
    print(f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        work = Path(a.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        pred = bench_predict(work, sizes, a)
    train = None if a.predict_only else bench_train(a)
    report(pred, train, a)
    if a.out:
        result = {"predict": pred, "train": train or {}, "env": {**env, "load_end": os.getloadavg()}}
        atomic_write_text(a.out, json.dumps(result, indent=1))
        print(f"results: {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
