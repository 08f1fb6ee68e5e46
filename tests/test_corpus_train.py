"""`forecast corpus` writes the series of several data folders to shards; `forecast train corpus.dir=…` streams
them, never trains on the held-out shards' series, and validates and tests on them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from forecast.config import ConfigError, compose, to_object
from forecast.errors import UsageError

pytestmark = pytest.mark.slow
SMALL = ["data.history_h=168", "data.horizon_h=24", "data.test_weeks=1", "data.val_weeks=1", "data.train_every_h=2"]


@pytest.fixture(scope="module")
def sources(tmp_path_factory, small_scenario):
    from forecast.data.simulate import simulate

    root = tmp_path_factory.mktemp("sources")
    cfg, sc = small_scenario
    sc.write(root / "east")
    from dataclasses import replace

    simulate(replace(cfg, seed=12)).write(root / "west")
    return root


def config(tmp_path, sources, *more):
    return to_object(compose(["experiment=quick", "data=files", f"data.dir={sources / 'east'}", *SMALL,
                              f"corpus.dir={tmp_path / 'corpus'}",
                              f"corpus.sources=[{sources / 'east'},{sources / 'west'}]", "corpus.series_per_shard=1",
                              f"out_dir={tmp_path / 'out'}", f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}",
                              *more]))


def test_corpus_written_from_two_folders_and_never_overwritten(tmp_path, sources):
    from forecast.data.corpus import read_shards, shard_paths
    from forecast.pipeline.corpus import build_corpus, read_manifest

    cfg = config(tmp_path, sources)
    paths = build_corpus(cfg)
    assert paths == shard_paths(cfg.corpus.dir) and len(paths) == 4
    ids = [s.series_id for s in read_shards(paths)]
    assert ids == ["east/s1", "east/s2", "west/s1", "west/s2"]
    m = read_manifest(cfg.corpus.dir)
    assert m["series"] == 4 and m["horizon_h"] == 24 and m["shards"] == [p.name for p in paths]
    assert m["hours"] == sum(len(s.y) for s in read_shards(paths))
    with pytest.raises(UsageError, match="already holds corpus shards"):
        build_corpus(cfg)


def test_train_streams_the_corpus_and_tests_on_held_out_series(tmp_path, sources):
    from forecast import tracking
    from forecast.pipeline.corpus import build_corpus, corpus_data
    from forecast.pipeline.train import train

    cfg = config(tmp_path, sources, "corpus.shards_per_epoch=2", "corpus.batches_per_epoch=3",
                 "trainer.max_epochs=2", "trainer.batch_size=64", "tracking.register=false")
    build_corpus(cfg)
    data, held, sp = corpus_data(cfg)
    assert [s.series_id for s in held.series] == ["west/s2"]  # the last shard is held out ...
    assert "shard_00003.npz" not in {p.name for p in data.shards}  # ... and never trained on
    assert len(sp.val) and len(sp.test) and sp.val.max() < sp.test.min()
    res = train(cfg)
    assert np.isfinite(res.metrics["model"]["mae"]) and set(res.metrics) >= {"model", "seasonal_naive_24h"}
    logged = tracking.run_metrics(res.run_id, cfg.tracking.uri)
    assert logged["corpus_shards_epoch0"] == 2 and logged["corpus_shards_overlap"] == 0
    assert "val_pinball" in logged  # validation ran on the held-out series
    assert json.loads((tmp_path / "out" / "test_metrics.json").read_text())["model"]["mae"] == res.metrics["model"]["mae"]


def test_training_windows_end_before_each_series_validation_weeks(tmp_path, sources):
    import pandas as pd

    from forecast.data.corpus import read_shards, shard_paths
    from forecast.data.inputs import periods, train_origins
    from forecast.data.windows import WindowStore, series_of
    from forecast.pipeline.corpus import build_corpus

    cfg = config(tmp_path, sources)
    build_corpus(cfg)
    series = read_shards(shard_paths(cfg.corpus.dir))
    series[1].y[-200:] = np.nan  # a series observed 200 h less ends its training earlier
    store = WindowStore(series, 168, 24)
    g = train_origins(store, cfg.data)
    k, i = series_of(store, g)
    for j, s in enumerate(series):
        last_target = s.ts[i[k == j].max() + 23]  # the last hour any training window of series j forecasts
        val_start = periods(s.ts[np.flatnonzero(~np.isnan(s.y))[-1]] + pd.Timedelta(hours=1), cfg.data)[0]
        assert last_target < val_start and last_target >= val_start - pd.Timedelta(hours=cfg.data.train_every_h + 1)


def test_corpus_refusals_name_the_key(tmp_path, sources):
    from forecast.pipeline.corpus import build_corpus, corpus_data

    cfg = config(tmp_path, sources, "corpus.eval_shards=4")
    build_corpus(cfg)
    with pytest.raises(ConfigError, match="leave none to train on") as e:
        corpus_data(cfg)
    assert e.value.key == "corpus.eval_shards"
    with pytest.raises(ConfigError, match="written for a 24 h horizon") as e:
        corpus_data(config(tmp_path, sources, "data.horizon_h=48"))
    assert e.value.key == "data.horizon_h"
