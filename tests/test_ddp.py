"""Data-parallel training on the CPU: two processes over gloo, launched by Lightning from `forecast train`."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

BATCH, MAX_WINDOWS, WORLD = 128, 512, 2


@pytest.mark.slow
def test_ddp_two_processes_share_disjoint_shards_and_register_once(tmp_path):
    import mlflow

    from forecast.data.simulate import ScenarioConfig, simulate

    data = tmp_path / "data"
    simulate(ScenarioConfig(seed=3, days=45)).write(data)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cmd = [sys.executable, "-m", "forecast.cli", "train", "experiment=quick", "trainer=ddp",
           "trainer.accelerator=cpu", f"trainer.devices={WORLD}", "trainer.max_epochs=1",
           f"trainer.batch_size={BATCH}", f"trainer.max_train_windows={MAX_WINDOWS}", "data=files",
           f"data.dir={data}", "data.history_h=168", "data.horizon_h=24", "data.test_weeks=1", "data.val_weeks=1",
           f"out_dir={tmp_path / 'out'}", f"tracking.uri={uri}", "tracking.experiment=ddp-test"]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "NODE_RANK", "WORLD_SIZE")}
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-4000:]

    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name("ddp-test")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1, "only rank 0 may open an MLflow run"
    m = runs[0].data.metrics
    assert m["world_size"] == WORLD
    per_rank = (MAX_WINDOWS // WORLD) // BATCH * BATCH
    assert m["train_windows_epoch0"] == WORLD * per_rank  # every rank trained on its own windows ...
    assert m["train_windows_overlap"] == 0  # ... and no window was seen by two ranks
    versions = client.search_model_versions("name='power-forecaster'")
    assert [v.run_id for v in versions] == [runs[0].info.run_id]
    assert (tmp_path / "out" / "model" / "forecaster.pt").is_file()
    assert proc.stdout.count("MLflow run") == 1  # rank 1 prints nothing


@pytest.mark.slow
def test_ddp_streams_a_corpus_each_rank_its_own_shards(tmp_path):
    import mlflow

    from forecast.data.simulate import ScenarioConfig, simulate

    data = tmp_path / "data"
    simulate(ScenarioConfig(seed=3, days=45)).write(data)
    small = ["data=files", f"data.dir={data}", "data.history_h=168", "data.horizon_h=24", "data.test_weeks=1",
             "data.val_weeks=1", f"corpus.dir={tmp_path / 'corpus'}", "corpus.series_per_shard=1"]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "NODE_RANK", "WORLD_SIZE")}
    env["OMP_NUM_THREADS"] = "1"
    made = subprocess.run([sys.executable, "-m", "forecast.cli", "corpus", *small], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr[-4000:]
    n_shards = len(list((tmp_path / "corpus").glob("shard_*.npz")))
    assert n_shards >= WORLD + 1 and f"in {n_shards} shards" in made.stdout
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cmd = [sys.executable, "-m", "forecast.cli", "train", "experiment=quick", "trainer=ddp", "trainer.accelerator=cpu",
           f"trainer.devices={WORLD}", "trainer.max_epochs=1", f"trainer.batch_size={BATCH}", *small,
           "corpus.shards_per_epoch=1", "corpus.batches_per_epoch=2", f"out_dir={tmp_path / 'out'}",
           f"tracking.uri={uri}", "tracking.experiment=ddp-corpus", "tracking.register=false"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-4000:]
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient()
    runs = client.search_runs([client.get_experiment_by_name("ddp-corpus").experiment_id])
    assert len(runs) == 1
    m = runs[0].data.metrics
    assert m["world_size"] == WORLD
    assert m["corpus_shards_epoch0"] == WORLD and m["corpus_shards_overlap"] == 0  # one shard each, not shared
    assert (tmp_path / "out" / "model" / "forecaster.pt").is_file()
