"""Shard corpus: series written and read back unchanged, epochs stream windows of the shards they loaded,
DDP ranks read disjoint shards, and a model trains on the stream."""

from __future__ import annotations

import lightning as L
import numpy as np
import pandas as pd
import pytest
import torch

from forecast.config import OptimizerConfig
from forecast.data.corpus import epoch_shards, rank_shards, read_shard, read_shards, shard_paths, write_corpus
from forecast.data.features import site_metas
from forecast.data.windows import FUT_CHANNELS, HIST_CHANNELS, WindowStore, build_series, series_of
from forecast.models.lit import CorpusData, LitForecaster, ShardEpochs
from forecast.models.tide import TiDE

HIST, H = 48, 24
PIECE_H = 480  # each site's 60 days cut into three 20-day series


@pytest.fixture(scope="module")
def series(small_scenario):
    _, sc = small_scenario
    out = []
    for sid, meta in sorted(site_metas(sc.sites).items()):
        m = sc.meter[sc.meter.site_id == sid]
        power = pd.Series(m.power_mw.to_numpy(), index=pd.DatetimeIndex(m.ts))
        temp = pd.Series(sc.grid.temperature_c.to_numpy(), index=pd.DatetimeIndex(sc.grid.ts))
        for p in range(3):
            ts = power.index[p * PIECE_H:(p + 1) * PIECE_H]
            s = build_series(meta, sc.jobs, power[ts], temp, H, ts)
            s.series_id = f"{sid}/{p}"
            out.append(s)
    return out


@pytest.fixture
def corpus(series, tmp_path):
    return write_corpus(series, tmp_path / "corpus", series_per_shard=1)


def test_shards_round_trip(series, tmp_path):
    paths = write_corpus(iter(series), tmp_path / "c", series_per_shard=4)
    assert paths == shard_paths(tmp_path / "c") and len(paths) == -(-len(series) // 4)
    assert [len(read_shard(p)) for p in paths] == [4, len(series) - 4]
    back = read_shards(paths)
    for a, b in zip(series, back):
        assert a.series_id == b.series_id and a.scale == b.scale
        pd.testing.assert_index_equal(a.ts, b.ts, check_names=False)
        for k in ("y", "hist", "cal"):
            np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
        for k in ("lead0", "tau", "lo", "hi", "chan", "w"):
            np.testing.assert_array_equal(getattr(a.fut, k), getattr(b.fut, k))
    s0, s1 = WindowStore(series, HIST, H), WindowStore(back, HIST, H)
    g = torch.from_numpy(np.concatenate([s0.origins(k) for k in range(len(series))]))
    for k, v in s0.gather(g).items():
        torch.testing.assert_close(s1.gather(g)[k], v, rtol=0, atol=0)


def window_source(epochs: ShardEpochs, batch: torch.Tensor) -> tuple[list[str], np.ndarray]:
    """Series id and local issue index of each window of a batch, in the epoch's store."""
    k, i = series_of(epochs.store, batch.numpy())
    return [epochs.store.ids[kk] for kk in k], i


def test_an_epoch_sees_windows_of_the_shards_it_loaded(series, corpus):
    ep = ShardEpochs(corpus, HIST, H, batch_size=32, batches=6, shards_per_epoch=2, seed=1)
    full = WindowStore(series, HIST, H)
    by_id = {s.series_id: n for n, s in enumerate(series)}
    loaded = []
    for epoch in range(3):
        batches = list(ep)
        assert len(batches) == 6 and all(len(b) == 32 for b in batches)
        loaded.append(ep.loaded)
        ids = {s.series_id for s in read_shards(ep.loaded)}
        assert set(ep.store.ids) == ids
        for b in batches:
            sids, i = window_source(ep, b)
            assert set(sids) <= ids
            # the same windows as those of a store over every series
            g_full = full.offsets[[by_id[s] for s in sids]] + i
            assert set(g_full) <= set(np.concatenate([full.origins(by_id[s]) for s in ids]))
            got, want = ep.store.gather(b), full.gather(torch.from_numpy(g_full))
            for k in want:
                torch.testing.assert_close(got[k], want[k], rtol=0, atol=0)
    assert loaded[0] != loaded[1] and {p for ps in loaded for p in ps} == set(corpus)  # rotates through all


def test_ranks_take_disjoint_shards(corpus):
    world = 3
    ranks = [ShardEpochs(corpus, HIST, H, batch_size=16, batches=2, shards_per_epoch=1, rank=r, world=world)
             for r in range(world)]
    mine = [set(r.mine) for r in ranks]
    assert set().union(*mine) == set(corpus) and sum(len(m) for m in mine) == len(corpus)
    seen_ids: list[set[str]] = [set() for _ in ranks]
    for _ in range(2):
        for r, ep in enumerate(ranks):
            for b in ep:
                seen_ids[r] |= set(window_source(ep, b)[0])
            assert set(ep.loaded) <= mine[r]
    for r in range(world):
        for q in range(r + 1, world):
            assert not mine[r] & mine[q] and not seen_ids[r] & seen_ids[q]
    assert rank_shards(corpus, 1, 2) == corpus[1::2]
    with pytest.raises(ValueError, match="cannot give each"):
        rank_shards(corpus[:2], 0, 3)
    assert epoch_shards(corpus[:5], 2, 2) == [corpus[4], corpus[0]]


def test_a_model_trains_on_the_stream(corpus):
    torch.manual_seed(0)
    data = CorpusData(corpus[0].parent, HIST, H, batch_size=64, batches_per_epoch=3, shards_per_epoch=2)
    model = TiDE(HIST, H, n_hist=len(HIST_CHANNELS), n_fut=len(FUT_CHANNELS), hidden=16, temporal_hidden=8)
    before = [p.detach().clone() for p in model.parameters()]
    lit = LitForecaster(model, (0.1, 0.5, 0.9), OptimizerConfig(), steps_per_epoch=3, max_epochs=2)
    trainer = L.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(lit, datamodule=data)
    assert trainer.global_step == 6 and data.train_set.epoch == 2
    assert data.train_set.loaded == epoch_shards(data.train_set.mine, 1, 2)
    assert np.isfinite(float(trainer.callback_metrics["train_pinball"]))
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
