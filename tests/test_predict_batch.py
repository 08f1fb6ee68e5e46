"""The batch forecast's one-pass input path gives the same forecasts as the per-site training path."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest
import torch

from forecast.config import compose, to_object
from forecast.errors import ContractError

L, H = 168, 24
HOUR = pd.Timedelta(hours=1)
LEVELS = [0.1, 0.25, 0.5, 0.75, 0.9]


@pytest.fixture(scope="module")
def setup(small_scenario, tmp_path_factory):
    from forecast.models import registry

    _, sc = small_scenario
    work = tmp_path_factory.mktemp("predict_batch")
    sc.write(work / "data")
    cfg = to_object(compose(["data=files", f"data.dir={work / 'data'}", f"predict.out={work / 'fc'}",
                             "trainer.accelerator=cpu", f"model.quantiles={LEVELS}", "model.hidden=32",
                             "predict.batch_size=1"]))  # batch 1: every series in its own model call
    torch.manual_seed(0)
    model = registry.build(cfg.model, L, H)
    ckpt = registry.save(work / "m.pt", model, cfg.model, L, H)
    return cfg, sc, str(ckpt), work


def test_predict_matches_the_window_store_path(setup):
    from forecast.data.windows import WindowStore
    from forecast.models.device import resolve
    from forecast.models import registry
    from forecast.pipeline.predict import predict
    from forecast.data.inputs import load_inputs, site_series
    from forecast.models.inference import predict_windows

    cfg, sc, ckpt, _ = setup
    t = sc.meter.ts.min() + 24 * 30 * HOUR
    out = predict(cfg, model_ref=ckpt, reference_time=t)
    f = out.frame
    assert list(f.columns[:4]) == ["series_id", "issued_at", "ts", "horizon_h"]
    assert list(f.columns[4:9]) == ["p10", "p25", "p50", "p75", "p90"]
    assert len(f) == 2 * H and (f.ts - f.issued_at == pd.to_timedelta(f.horizon_h - 1, unit="h")).all()

    dc = dataclasses.replace(cfg.data, history_h=L, horizon_h=H)
    inp = load_inputs(dc)
    inp.meter, inp.grid = inp.meter[inp.meter.ts < t], inp.grid[inp.grid.ts < t]
    series = site_series(inp, dc, start=t - L * HOUR, end=t + HOUR)
    store = WindowStore(series, L, H)
    model, _ = registry.load(ckpt)
    q = predict_windows(model, store, store.offsets + L, resolve("cpu"))  # (S, H, Q) model units
    q = q * np.array([s.scale for s in series])[:, None, None]
    np.testing.assert_allclose(f[["p10", "p25", "p50", "p75", "p90"]].to_numpy(), q.reshape(-1, len(LEVELS)),
                               rtol=1e-4, atol=1e-4)
    assert (f.series_id.to_numpy() == np.repeat(store.ids, H)).all()
    assert pd.read_parquet(out.path).equals(f)


def test_missing_meter_hour_names_site_and_hour(setup, tmp_path):
    from forecast.pipeline.predict import predict

    cfg, sc, ckpt, work = setup
    t = sc.meter.ts.min() + 24 * 30 * HOUR
    gap = t - 7 * HOUR
    data = tmp_path / "data"
    sc.write(data)
    m = pd.read_parquet(data / "meter.parquet")
    m[~((m.site_id == "s2") & (m.ts >= gap))].to_parquet(data / "meter.parquet", index=False)  # s2's meter stops early
    cfg2 = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, dir=str(data)))
    with pytest.raises(ContractError, match=rf"site 's2' lacks 7 of the {L} meter hours .*first missing: {re.escape(f'{gap}, {gap + HOUR}')}"):
        predict(cfg2, model_ref=ckpt, reference_time=t)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA"))])
def test_predict_arrays_batches_agree_on_every_device(setup, device):
    """Same inputs, any batch size, CPU fp32 or CUDA bf16: the same quantiles (bf16 within its precision)."""
    from forecast.data.features import site_metas
    from forecast.data.reference import reference_windows
    from forecast.models.device import resolve
    from forecast.models import registry
    from forecast.models.inference import predict_arrays

    _, sc, ckpt, _ = setup
    t = sc.meter.ts.min() + 24 * 30 * HOUR
    rw = reference_windows(site_metas(sc.sites), sc.jobs, sc.meter, sc.grid, t, L, H)
    model, _ = registry.load(ckpt)
    ref = predict_arrays(model, rw.x_hist, rw.x_fut, resolve("cpu"), batch_size=1)  # (S, H, Q)
    got = predict_arrays(model, rw.x_hist, rw.x_fut, resolve(device), batch_size=4096)
    assert got.shape == (2, H, len(LEVELS)) and got.dtype == np.float32
    tol = 1e-5 if device == "cpu" else 3e-2
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)
    assert (np.diff(got, axis=-1) >= 0).all()  # quantiles never cross


def _frame_before(q, series_ids, issued_at, columns, model, version, run_id) -> pd.DataFrame:
    """The frame builder as it was (pandas columns one by one), kept here as the reference."""
    S, H, Q = q.shape
    ts = pd.date_range(issued_at, periods=H, freq="h")
    issued = pd.DatetimeIndex([issued_at])
    frame = pd.DataFrame({
        "series_id": np.repeat(np.asarray(series_ids, dtype=object), H),
        "issued_at": issued[np.zeros(S * H, dtype=np.intp)],
        "ts": ts[np.tile(np.arange(H), S)],
        "horizon_h": np.tile(np.arange(1, H + 1, dtype=np.int32), S),
    })
    flat = q.reshape(S * H, Q).astype(np.float64)
    for j, col in enumerate(columns):
        frame[col] = flat[:, j]
    frame["model"], frame["model_version"], frame["run_id"] = model, version, run_id
    return frame


@pytest.mark.parametrize("unit", ["ns", "us", "ms"])
@pytest.mark.parametrize("S, H", [(3, 24), (1, 1), (0, 5)])
def test_forecast_frame_and_parquet_equal_the_previous_frame_builder(tmp_path, unit, S, H):
    import pyarrow.parquet as pq

    from forecast.pipeline.predict import forecast_frame, forecast_table, write_forecast

    q = np.sort(np.random.default_rng(S).random((S, H, 3)), axis=-1).astype(np.float32) * 40.0
    args = (q, [f"site-{i}" for i in range(S)], pd.Timestamp("2025-12-01T06:00Z").as_unit(unit),
            ["p10", "p50", "p90"], "tide", "checkpoint:abc", "")
    want = _frame_before(*args)
    got = forecast_frame(*args)
    assert got.equals(want) and (got.dtypes == want.dtypes).all()
    if S == 0:
        return  # no rows: the previous file read series_id back as object, this one as str
    old_path = tmp_path / "old.parquet"
    want.to_parquet(old_path, index=False)
    for name in ("a.parquet", "b.parquet"):
        write_forecast(tmp_path / name, forecast_table(*args))
    back = pd.read_parquet(tmp_path / "a.parquet")
    assert back.equals(want) and back.equals(pd.read_parquet(old_path))
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()  # same inputs, same bytes
    assert [f.name for f in pq.read_schema(tmp_path / "a.parquet")] == list(want.columns)


def test_predict_is_byte_identical_on_rerun_and_ignores_meter_rows_outside_its_window(setup, tmp_path):
    from forecast.data.inputs import load_inputs
    from forecast.pipeline.predict import predict

    cfg, sc, ckpt, _ = setup
    t = sc.meter.ts.min() + 24 * 30 * HOUR
    data = tmp_path / "data"
    sc.write(data)
    m = pd.read_parquet(data / "meter.parquet")
    m.loc[m.ts < t - (L + 24) * HOUR, "power_mw"] = -1.0  # broken, but a day before the history the model reads
    m.to_parquet(data / "meter.parquet", index=False)
    runs = []
    for k in range(2):
        c = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, dir=str(data)),
                                predict=dataclasses.replace(cfg.predict, out=str(tmp_path / f"fc{k}")))
        runs.append(predict(c, model_ref=ckpt, reference_time=t))
    assert runs[0].path.read_bytes() == runs[1].path.read_bytes()
    assert pd.read_parquet(runs[0].path).equals(runs[0].frame)
    with pytest.raises(ContractError, match=r"meter.parquet: column 'power_mw': negative values"):
        load_inputs(c.data)  # read whole (training, no reference time), the same file is refused


def test_predict_serves_a_model_whose_horizon_is_beyond_the_training_configs_range(setup, tmp_path):
    from forecast.models import registry
    from forecast.pipeline.predict import predict

    cfg, sc, _, work = setup
    L2, H2 = 48, 400  # data.horizon_h allows at most 336 h: the horizon of a forecast is the model's
    torch.manual_seed(0)
    ckpt = registry.save(tmp_path / "long.pt", registry.build(cfg.model, L2, H2), cfg.model, L2, H2)
    t = sc.meter.ts.min() + 24 * 10 * HOUR
    c = dataclasses.replace(cfg, predict=dataclasses.replace(cfg.predict, out=str(tmp_path / "fc")))
    out = predict(c, model_ref=str(ckpt), reference_time=t)
    assert len(out.frame) == 2 * H2 and out.frame.horizon_h.max() == H2
