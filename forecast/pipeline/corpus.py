"""The shard corpus as a pipeline stage: ``forecast corpus`` writes the series of one or more data folders to
shards (``forecast.data.corpus``), one folder in memory at a time, so the corpus can outgrow memory; and
:func:`corpus_data` streams it into ``forecast train`` (``corpus.dir=DIR``).

    forecast corpus corpus.dir=DIR corpus.sources=[data/a,data/b] [data.horizon_h=168 ...]

The last ``corpus.eval_shards`` shards are held out: the model never trains on their series; their validation
weeks choose the checkpoint and their test weeks give the figures and the promotion gate. The training windows
of every other series end before that series' own validation weeks (``data.inputs.train_origins``), so no
training target lies in the period the held-out series are tested on.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Iterator
from pathlib import Path

import lightning as L
import torch

from forecast.config import Config, ConfigError, compose, to_object
from forecast.data.corpus import SHARD_GLOB, read_shards, shard_paths, write_corpus
from forecast.data.inputs import Split, load_inputs, site_series, split, train_origins
from forecast.data.windows import SeriesArrays, WindowStore
from forecast.errors import UsageError
from forecast.io import atomic_write_text
from forecast.models.lit import CorpusData

MANIFEST = "corpus.json"


def _series(cfg: Config) -> Iterator[SeriesArrays]:
    """Every site series of every source folder, one folder loaded at a time; ids ``<folder>/<site>``."""
    dc, cc = cfg.data, cfg.corpus
    seen: set[str] = set()
    for src in cc.sources or [dc.dir]:
        d = dataclasses.replace(dc, dir=str(src), source="files") if cc.sources else dc
        for s in site_series(load_inputs(d), d):
            s.series_id = f"{Path(src).name}/{s.series_id}"
            if s.series_id in seen:
                raise ConfigError("corpus.sources", f"series {s.series_id!r} comes from two sources (same folder "
                                  "name and site id); give every source folder its own name")
            seen.add(s.series_id)
            yield s


def build_corpus(cfg: Config) -> list[Path]:
    """Write the corpus; refuses a folder that already holds shards (a corpus is never overwritten or mixed)."""
    cc, dc = cfg.corpus, cfg.data
    if not cc.dir:
        raise ConfigError("corpus.dir", "no shard folder given", "corpus")
    out = Path(cc.dir)
    if out.exists() and any(out.glob(SHARD_GLOB)):
        raise UsageError("corpus.dir", f"{out} already holds corpus shards; a corpus is never overwritten",
                         "corpus.dir=<a new folder>")
    out.mkdir(parents=True, exist_ok=True)
    counted: list[int] = []

    def counting(it: Iterator[SeriesArrays]) -> Iterator[SeriesArrays]:
        for s in it:
            counted.append(len(s.y))
            yield s

    paths = write_corpus(counting(_series(cfg)), out, cc.series_per_shard)
    manifest = {"history_h": dc.history_h, "horizon_h": dc.horizon_h, "use_temperature": dc.use_temperature,
                "sources": [str(Path(s).resolve()) for s in (cc.sources or [dc.dir])], "series": len(counted),
                "hours": int(sum(counted)), "shards": [p.name for p in paths], "series_per_shard": cc.series_per_shard}
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=1))
    return paths


def read_manifest(folder: str | Path) -> dict:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no corpus manifest (write the corpus with `forecast corpus`)")
    return json.loads(path.read_text())


def corpus_data(cfg: Config) -> tuple[CorpusData, WindowStore, Split]:
    """(data module streaming the training shards, store of the held-out shards' series, their split)."""
    cc, dc, tc = cfg.corpus, cfg.data, cfg.trainer
    manifest = read_manifest(cc.dir)
    if manifest["horizon_h"] != dc.horizon_h:
        raise ConfigError("data.horizon_h", f"the corpus {cc.dir} was written for a {manifest['horizon_h']} h horizon, "
                          f"not {dc.horizon_h} h", str(manifest["horizon_h"]))
    paths = shard_paths(cc.dir)
    if len(paths) <= cc.eval_shards:
        raise ConfigError("corpus.eval_shards", f"{len(paths)} shards under {cc.dir} leave none to train on after "
                          f"holding out {cc.eval_shards}", "1")
    held = WindowStore(read_shards(paths[-cc.eval_shards:]), dc.history_h, dc.horizon_h, device="cpu")
    sp = split(held, dc)
    data = CorpusData(paths[:-cc.eval_shards], dc.history_h, dc.horizon_h, tc.batch_size, cc.batches_per_epoch,
                      shards_per_epoch=cc.shards_per_epoch, seed=tc.seed, every_h=dc.train_every_h,
                      select=functools.partial(train_origins, dc=dc), val=(held, sp.val))
    return data, held, sp


class CorpusAudit(L.Callback):
    """After the first epoch: how many shards the ranks loaded, and how many were loaded by more than one rank
    (0: the ranks' shards are disjoint). ``result`` as ``lit.ShardAudit``'s, counted in shards."""

    def __init__(self, data: CorpusData):
        self.data = data
        self.result: dict[str, float] = {}

    def on_train_epoch_end(self, trainer, pl_module):
        if self.result:
            return
        names = [Path(p).name for p in self.data.shards]
        mine = torch.zeros(len(names), dtype=torch.int32, device=pl_module.device)
        for p in self.data.train_set.loaded:
            mine[names.index(Path(p).name)] = 1
        if trainer.world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(mine)
        counts = mine.cpu().numpy()
        self.result = {"world_size": float(trainer.world_size), "corpus_shards_epoch0": float((counts > 0).sum()),
                       "corpus_shards_overlap": float((counts > 1).sum())}


def main(overrides: list[str]) -> int:
    """forecast corpus corpus.dir=DIR [corpus.sources=[...]] [hydra overrides]"""
    cfg = to_object(compose(overrides))
    paths = build_corpus(cfg)
    m = read_manifest(cfg.corpus.dir)
    print(f"corpus {cfg.corpus.dir}: {m['series']} series, {m['hours']:,} hours in {len(paths)} shards "
          f"(history {m['history_h']} h, horizon {m['horizon_h']} h); train on it with "
          f"forecast train corpus.dir={cfg.corpus.dir}")
    return 0
