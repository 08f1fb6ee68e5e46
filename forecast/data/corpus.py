"""A training corpus larger than memory: compact series (``windows.SeriesArrays``) in shard files under one
folder, read back a few shards at a time (``forecast.models.lit.CorpusData`` streams them per epoch).

A shard ``shard_00000.npz`` (plain arrays, no pickles) holds whole series; for its n-th series:

    s{n}_start   (1,) datetime64 first hour (UTC, the series' own time unit); hourly from there
    s{n}_scale   ()  float64    capacity (y · scale = MW)
    s{n}_y       (T,)           normalised target, NaN where unknown
    s{n}_hist    (T, F_hist)    history channels
    s{n}_cal     (T + H, F_cal) calendar
    s{n}_lead0   (T + H, C)     the known future in compact form (``plan_events.KnownFuture``):
    s{n}_tau, s{n}_lo, s{n}_hi, s{n}_chan, s{n}_w   (E,)  lead 0 and the revision events

and ``ids`` (S,) the series ids. Under DDP each rank reads its own disjoint shards (``rank_shards``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.data.asof import HOUR_NS
from forecast.data.plan_events import KnownFuture
from forecast.data.windows import SeriesArrays
from forecast.io import atomic_write

SHARD_GLOB = "shard_*.npz"
_PLAN_FIELDS = ("lead0", "tau", "lo", "hi", "chan", "w")


def _series_arrays(s: SeriesArrays, n: int) -> dict[str, np.ndarray]:
    """The arrays of one series under the keys of shard position ``n``."""
    ts = pd.DatetimeIndex(s.ts).tz_convert("UTC")
    if np.any(np.diff(ts.as_unit("ns").asi8) != HOUR_NS):
        raise ValueError(f"series {s.series_id!r}: a corpus holds consecutive hourly series only")
    start = ts[:1].tz_localize(None).to_numpy()
    out = {"start": start, "scale": np.float64(s.scale), "y": s.y, "hist": s.hist, "cal": s.cal}
    out.update({f: getattr(s.fut, f) for f in _PLAN_FIELDS})
    return {f"s{n}_{k}": np.asarray(v) for k, v in out.items()}


def write_corpus(series: Iterable[SeriesArrays], folder: str | Path, series_per_shard: int) -> list[Path]:
    """Write ``series`` to shards of ``series_per_shard`` series each under ``folder`` (created); each shard
    is written atomically as soon as it is full, so the series need never all be in memory. The shard paths."""
    folder = Path(folder)
    paths: list[Path] = []
    batch: list[SeriesArrays] = []

    def flush() -> None:
        arrays = {"ids": np.array([s.series_id for s in batch], dtype=str)}
        for n, s in enumerate(batch):
            arrays.update(_series_arrays(s, n))
        path = folder / f"shard_{len(paths):05d}.npz"

        def write(tmp: str) -> None:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)

        paths.append(atomic_write(path, write))
        batch.clear()

    for s in series:
        batch.append(s)
        if len(batch) == series_per_shard:
            flush()
    if batch:
        flush()
    return paths


def shard_paths(folder: str | Path) -> list[Path]:
    """The corpus' shard files, sorted; raises when there are none."""
    paths = sorted(Path(folder).glob(SHARD_GLOB))
    if not paths:
        raise FileNotFoundError(f"no corpus shards ({SHARD_GLOB}) under {folder}")
    return paths


def read_shard(path: str | Path) -> list[SeriesArrays]:
    """The series of one shard file, in the order written."""
    out = []
    with np.load(path, allow_pickle=False) as z:
        for n, sid in enumerate(z["ids"].tolist()):
            a = lambda k: z[f"s{n}_{k}"]  # noqa: E731
            y = a("y")
            start = a("start")
            ts = pd.date_range(pd.Timestamp(start[0]).tz_localize("UTC"), periods=len(y), freq="h",
                               unit=np.datetime_data(start.dtype)[0])
            fut = KnownFuture(*(a(f) for f in _PLAN_FIELDS), n=len(y))
            out.append(SeriesArrays(str(sid), ts, y, a("hist"), fut, a("cal"), float(a("scale"))))
    return out


def read_shards(paths: Iterable[str | Path]) -> list[SeriesArrays]:
    """The series of several shards, concatenated in order."""
    return [s for p in paths for s in read_shard(p)]


def rank_shards(paths: list[Path], rank: int, world: int) -> list[Path]:
    """Rank ``rank`` of ``world`` takes every world-th shard from its own: the ranks' sets are disjoint."""
    if not 0 <= rank < world:
        raise ValueError(f"rank {rank} outside world of {world}")
    if len(paths) < world:
        raise ValueError(f"{len(paths)} corpus shards cannot give each of {world} ranks its own shard")
    return list(paths[rank::world])


def epoch_shards(mine: list[Path], epoch: int, per_epoch: int) -> list[Path]:
    """The ``per_epoch`` shards of ``mine`` loaded in ``epoch``: a window rotating through them, so every
    shard is seen once every ceil(len(mine) / per_epoch) epochs."""
    n = min(per_epoch, len(mine))
    return [mine[(epoch * n + j) % len(mine)] for j in range(n)]
