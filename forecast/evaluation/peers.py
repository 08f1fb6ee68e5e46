"""Peer models from NeuralForecast (optional extra: ``pip install '.[peers]'``), on the same origins.

The peer sees the same information as the learned model: the target history and,
as future exogenous variables, the known-future channels of the window store
(for power: the schedule channels and calendar; for series-bench: the
known-future columns and calendar). For training, hour t carries the values as
known at t; at an origin i, hours i … i+H−1 carry the values *as planned at i*
(``fut.at([i])[0, h]``). Fit at each refit time on hours before it; all origins of a
segment are predicted in one call (each origin is its own series id whose
history ends at the origin).

statsforecast peers (``autoets``, ``mstl``) are local models: each origin's own history (the target
only, the last ``STATS_HISTORY_H`` hours before it) is fitted and forecast, P10/P90 from the model's
80% interval. A peer whose library is not installed is skipped with the reason (:func:`missing`).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from forecast.data.windows import WindowStore, series_of

log = logging.getLogger("forecast")


LIBRARY = {"nhits": "neuralforecast", "tft": "neuralforecast", "autoets": "statsforecast", "mstl": "statsforecast"}
STATS_HISTORY_H = 24 * 56  # hours of history a local statistical peer fits at each origin (at most)


def available(library: str = "neuralforecast") -> bool:
    try:
        __import__(library)
    except ImportError:
        return False
    return True


def missing(names: list[str]) -> dict[str, str]:
    """{peer: why it is skipped} for the peers whose library is not importable."""
    return {n: f"{LIBRARY[n]} is not installed (pip install '.[peers]')" for n in names if not available(LIBRARY[n])}


def _exog_names(store: WindowStore) -> list[str]:
    s = store.series[0]
    return [f"x{j}" for j in range(s.fut.channels + s.cal.shape[1])]


def _frame(store: WindowStore, k: int, end: int, uid: str) -> pd.DataFrame:
    """History of series k up to index ``end`` (exclusive): y (model units, past-filled) and exog as known then."""
    s = store.series[k]
    y = pd.Series(s.y[:end].astype(np.float64)).ffill().bfill().to_numpy()
    x = np.concatenate([s.fut.lead0[:end], s.cal[:end]], axis=1)  # (end, F_fut): lead 0 as planned at each hour
    df = pd.DataFrame(x, columns=_exog_names(store))
    df.insert(0, "y", y)
    df.insert(0, "ds", s.ts[:end].tz_convert(None))
    df.insert(0, "unique_id", uid)
    return df


def _future(store: WindowStore, k: int, i: int, uid: str) -> pd.DataFrame:
    """Exog for hours i … i+H−1 as planned at origin i."""
    s, H = store.series[k], store.horizon
    x = np.concatenate([s.fut.at(np.array([i]))[0, :H], s.cal[i: i + H]], axis=1)  # (H, F_fut)
    df = pd.DataFrame(x, columns=_exog_names(store))
    df.insert(0, "ds", pd.date_range(s.ts[i].tz_convert(None), periods=H, freq="h"))
    df.insert(0, "unique_id", uid)
    return df


def neuralforecast_extra(store: WindowStore, levels: tuple[float, ...], names: list[str], val_days: int = 7,
                         max_steps: int = 300, seed: int = 0):
    """An ``extra`` hook for :func:`forecast.evaluation.rolling.rolling`: {peer name: (n, H, Q)} in model units,
    fitted at each refit time t0 on the hours before it."""
    def extra(t0: pd.Timestamp, g: np.ndarray) -> dict[str, np.ndarray]:
        return {n: v[0] for n, v in nf_fit_predict(store, levels, names, t0, [g], max_steps, seed).items()}

    return extra


def nf_fit_predict(store: WindowStore, levels: tuple[float, ...], names: list[str], cut: pd.Timestamp,
                   origin_sets: list[np.ndarray], max_steps: int, seed: int, lr: float | None = None,
                   windows_batch_size: int | None = None, input_size: int | None = None) -> dict[str, list[np.ndarray]]:
    """Fit NeuralForecast ``names`` on the hours before ``cut`` (every series), then forecast every origin set in
    one call: {peer: [(n_s, H, Q) per set]} model units. ``lr``, ``windows_batch_size`` and ``input_size`` (hours
    of history read; at most the store's) default to NeuralForecast's and the store's history."""
    from neuralforecast import NeuralForecast
    from neuralforecast.losses.pytorch import MQLoss
    from neuralforecast.models import NHITS, TFT

    H, L = store.horizon, min(input_size or store.history, store.history)
    opts = {k: v for k, v in (("learning_rate", lr), ("windows_batch_size", windows_batch_size)) if v is not None}
    common = dict(h=H, input_size=L, loss=MQLoss(quantiles=list(levels)), futr_exog_list=_exog_names(store),
                  max_steps=max_steps, scaler_type="standard", random_seed=seed, enable_progress_bar=False,
                  enable_model_summary=False, logger=False, accelerator="cpu", **opts)
    build = {"nhits": lambda: NHITS(**common), "tft": lambda: TFT(hidden_size=32, **common)}
    train = []
    for k, s in enumerate(store.series):
        i0 = int(np.searchsorted(s.ts, cut))  # hours before the cut only
        if i0 > L + H:
            train.append(_frame(store, k, i0, f"s{k}"))
    nf = NeuralForecast(models=[build[n]() for n in names], freq="h")
    nf.fit(df=pd.concat(train, ignore_index=True))
    g = np.concatenate(origin_sets)
    k_of, i_of = series_of(store, g)
    hist = pd.concat([_frame(store, k, i, f"o{n}").iloc[-L:] for n, (k, i) in enumerate(zip(k_of, i_of))])
    futr = pd.concat([_future(store, k, i, f"o{n}") for n, (k, i) in enumerate(zip(k_of, i_of))])
    fc = nf.predict(df=hist, futr_df=futr)
    fc = fc.reset_index() if "unique_id" not in fc.columns else fc
    fc["n"] = fc["unique_id"].str[1:].astype(int)
    fc = fc.sort_values(["n", "ds"])
    cuts = np.cumsum([len(o) for o in origin_sets])[:-1]
    out = {}
    for name in names:
        cols = _quantile_columns(fc.columns, {"nhits": "NHITS", "tft": "TFT"}[name], levels)
        q = np.sort(fc[cols].to_numpy(np.float64).reshape(len(g), H, len(levels)), axis=-1)  # (n, H, Q)
        out[name] = np.split(q, cuts)
    return out


def stats_predict(store: WindowStore, levels: tuple[float, ...], names: list[str], g: np.ndarray,
                  seed: int = 0) -> dict[str, np.ndarray]:
    """statsforecast ``names`` (autoets, mstl) fitted on each origin's own history (target only, the last
    :data:`STATS_HISTORY_H` hours before it): {peer: (n, H, Q)} model units; P10/P90 = the 80% interval."""
    from statsforecast import StatsForecast
    from statsforecast.models import MSTL, AutoETS

    H = store.horizon
    build = {"autoets": lambda: AutoETS(season_length=24), "mstl": lambda: MSTL(season_length=[24, 168])}
    k_of, i_of = series_of(store, g)
    hist = pd.concat([_frame(store, k, i, f"o{n}").iloc[-STATS_HISTORY_H:, :3] for n, (k, i) in enumerate(zip(k_of, i_of))])
    lv = sorted({int(round(abs(1 - 2 * q) * 100)) for q in levels if q != 0.5})  # 80 for P10/P90
    sf = StatsForecast(models=[build[n]() for n in names], freq="h", n_jobs=1)
    fc = sf.forecast(df=hist, h=H, level=lv)
    fc = fc.reset_index() if "unique_id" not in fc.columns else fc
    fc["n"] = fc["unique_id"].str[1:].astype(int)
    fc = fc.sort_values(["n", "ds"])
    out = {}
    for name in names:
        col = {"autoets": "AutoETS", "mstl": "MSTL"}[name]
        cols = [col if q == 0.5 else _quantile_columns(fc.columns, col, (q,))[0] for q in levels]
        out[name] = np.sort(fc[cols].to_numpy(np.float64).reshape(len(g), H, len(levels)), axis=-1)  # (n, H, Q)
    return out


def _quantile_columns(columns, model: str, levels: tuple[float, ...]) -> list[str]:
    """NeuralForecast names MQLoss outputs <model>-lo-<level>, <model>-median, <model>-hi-<level>."""
    out = []
    for q in levels:
        if q == 0.5:
            cand = [f"{model}-median"]
        else:
            lvl = abs(1 - 2 * q) * 100
            side = "lo" if q < 0.5 else "hi"
            cand = [f"{model}-{side}-{lvl:g}", f"{model}-{side}-{lvl:.1f}", f"{model}-{side}-{int(round(lvl))}"]
        hit = [c for c in cand if c in columns]
        if not hit:
            raise KeyError(f"NeuralForecast output has no column for quantile {q} (looked for {cand}; got {list(columns)})")
        out.append(hit[0])
    return out
