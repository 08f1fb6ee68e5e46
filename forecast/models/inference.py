"""Batched model inference on tensors: quantiles for many windows in a few device calls, fp32 on the CPU side."""

from __future__ import annotations

import sys

import numpy as np
import torch
from tqdm import tqdm

from forecast.data.windows import WindowStore
from forecast.models.baselines import BASELINES
from forecast.models.device import Runtime, autocast


@torch.no_grad()
def predict_windows(model: torch.nn.Module, store: WindowStore, g: np.ndarray, rt: Runtime,
                    batch_size: int = 4096, progress: bool = False) -> np.ndarray:
    """Quantiles (N, H, Q) in model units, fp32 on the CPU side, for global issue indices g."""
    model = model.to(rt.device).eval()
    store.to(rt.device)
    out = []
    it = range(0, len(g), batch_size)
    if progress:
        it = tqdm(it, desc="forecast", unit="batch", file=sys.stderr)
    for i in it:
        b = store.gather(torch.from_numpy(np.asarray(g[i:i + batch_size], dtype=np.int64)))
        with autocast(rt):
            q = model(b["x_hist"], b["x_fut"])
        out.append(q.float().cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, store.horizon, 0), np.float32)


def baseline_points(store: WindowStore, g: np.ndarray, batch_size: int = 8192) -> dict[str, np.ndarray]:
    """Point forecasts (N, H) of every baseline, model units."""
    out = {k: [] for k in BASELINES}
    dev = store.device
    for i in range(0, len(g), batch_size):
        b = store.gather(torch.from_numpy(np.asarray(g[i:i + batch_size], dtype=np.int64)).to(dev))
        for k, f in BASELINES.items():
            out[k].append(f(b, store.horizon).float().cpu())
    return {k: torch.cat(v).numpy() for k, v in out.items()}


def targets(store: WindowStore, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, H) targets in model units and (N,) scales (MW per unit)."""
    b = store.gather(torch.from_numpy(np.asarray(g, dtype=np.int64)).to(store.device))
    return b["y"].cpu().numpy(), b["scale"].cpu().numpy()


@torch.no_grad()
def predict_arrays(model: torch.nn.Module, x_hist: np.ndarray, x_fut: np.ndarray, rt: Runtime,
                   batch_size: int = 4096) -> np.ndarray:
    """Quantiles (N, H, Q) fp32 on the CPU side for inputs x_hist (N, L, F_hist), x_fut (N, H, F_fut).

    Inputs go to the device once; the model runs in ceil(N / batch_size) calls; one copy back.
    """
    model = model.to(rt.device).eval()
    xh = torch.from_numpy(np.ascontiguousarray(x_hist, dtype=np.float32)).to(rt.device, non_blocking=True)
    xf = torch.from_numpy(np.ascontiguousarray(x_fut, dtype=np.float32)).to(rt.device, non_blocking=True)
    out = []
    for i in range(0, len(xh), batch_size):
        with autocast(rt):
            out.append(model(xh[i:i + batch_size], xf[i:i + batch_size]).float())  # (b, H, Q)
    if not out:
        return np.zeros((0, x_fut.shape[1], 0), np.float32)
    return torch.cat(out).cpu().numpy()
