"""Peer models from NeuralForecast (optional extra: ``pip install '.[peers]'``), on the same origins.

The peer sees the same information as the learned model: the target history and,
as future exogenous variables, the known-future channels of the window store
(for power: the schedule channels and calendar; for series-bench: the
known-future columns and calendar). For training, hour t carries the values as
known at t; at an origin i, hours i … i+H−1 carry the values *as planned at i*
(``fut.at([i])[0, h]``). Fit at each refit time on hours before it; all origins of a
segment are predicted in one call (each origin is its own series id whose
history ends at the origin).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from forecast.data.windows import WindowStore, series_of

log = logging.getLogger("forecast")


def available() -> bool:
    try:
        import neuralforecast  # noqa: F401
    except ImportError:
        return False
    return True


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
    """An ``extra`` hook for :func:`forecast.evaluation.rolling.rolling`: {peer name: (n, H, Q)} in model units."""
    from neuralforecast import NeuralForecast
    from neuralforecast.losses.pytorch import MQLoss
    from neuralforecast.models import NHITS, TFT

    exog = _exog_names(store)
    H, L = store.horizon, store.history

    def build(name: str):
        common = dict(h=H, input_size=L, loss=MQLoss(quantiles=list(levels)), futr_exog_list=exog,
                      max_steps=max_steps, scaler_type="standard", random_seed=seed,
                      enable_progress_bar=False, enable_model_summary=False, logger=False, accelerator="cpu")
        return NHITS(**common) if name == "nhits" else TFT(hidden_size=32, **common)

    def extra(t0: pd.Timestamp, g: np.ndarray) -> dict[str, np.ndarray]:
        train = []
        for k, s in enumerate(store.series):
            i0 = int(np.searchsorted(s.ts, t0))  # hours before t0 only
            if i0 > L + H:
                train.append(_frame(store, k, i0, f"s{k}"))
        nf = NeuralForecast(models=[build(n) for n in names], freq="h")
        nf.fit(df=pd.concat(train, ignore_index=True))
        k_of, i_of = series_of(store, g)
        hist = pd.concat([_frame(store, k, i, f"o{n}").iloc[-L:] for n, (k, i) in enumerate(zip(k_of, i_of))])
        futr = pd.concat([_future(store, k, i, f"o{n}") for n, (k, i) in enumerate(zip(k_of, i_of))])
        fc = nf.predict(df=hist, futr_df=futr)
        fc = fc.reset_index() if "unique_id" not in fc.columns else fc
        fc["n"] = fc["unique_id"].str[1:].astype(int)
        fc = fc.sort_values(["n", "ds"])
        out = {}
        for name in names:
            col = {"nhits": "NHITS", "tft": "TFT"}[name]
            cols = _quantile_columns(fc.columns, col, levels)
            q = fc[cols].to_numpy(np.float64).reshape(len(g), H, len(levels))  # (n, H, Q)
            out[name] = np.sort(q, axis=-1)
        return out

    return extra


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
