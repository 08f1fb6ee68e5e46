"""An interrupted training run continues from its last checkpoint to the same final step count."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from forecast.cli import main

EPOCHS = 3


def args(tmp_path, *extra):
    return ["train", "experiment=quick", "data.scenario.days=90", "data.train_every_h=1", f"data.dir={tmp_path / 'data'}",
            f"out_dir={tmp_path / 'out'}", f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}",
            f"trainer.max_epochs={EPOCHS}", "trainer.max_train_windows=4096", "trainer.batch_size=32", *extra]


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_step_count_and_a_fresh_start_is_refused(tmp_path, capsys):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    log = open(tmp_path / "stderr.txt", "w")  # a file, not a pipe: a full pipe would stall the child
    proc = subprocess.Popen([sys.executable, "-m", "forecast.cli", *args(tmp_path)], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=log)
    ck = tmp_path / "out" / "checkpoints"
    deadline = time.time() + 300
    while not (ck / "last.ckpt").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)  # as a scheduler pre-empting the job would
    proc.wait(timeout=60)
    log.close()
    stderr = (tmp_path / "stderr.txt").read_text()
    assert proc.returncode == 143, (proc.returncode, stderr[-2000:])  # 128 + SIGTERM: a pre-empted job is not done
    assert "continue it with trainer.resume=last" in stderr
    assert not (ck / "COMPLETE").exists()
    first = torch.load(ck / "last.ckpt", map_location="cpu", weights_only=False)
    assert first["epoch"] < EPOCHS - 1
    per_epoch = first["global_step"] // (first["epoch"] + 1)
    assert per_epoch > 0

    assert main(args(tmp_path)) == 2  # starting over would discard the interrupted run's work
    err = capsys.readouterr().err
    assert "trainer.resume" in err and "interrupted" in err and len(err.strip().splitlines()) == 1

    assert main(args(tmp_path, "trainer.resume=last")) == 0
    final = torch.load(ck / "last.ckpt", map_location="cpu", weights_only=False)
    assert final["global_step"] == EPOCHS * per_epoch  # the same count an uninterrupted run reaches
    assert (ck / "COMPLETE").read_text().strip() == str(EPOCHS * per_epoch)
    assert (tmp_path / "out" / "model" / "forecaster.pt").is_file()
    from forecast.config import compose, to_object
    from forecast.pipeline.train import checkpoints

    fresh = to_object(compose(args(tmp_path)[1:]))
    assert checkpoints(fresh) == (str(ck), None)  # a finished run's checkpoints do not block a new one ...
    assert not (ck / "last.ckpt").exists()  # ... which replaces them
