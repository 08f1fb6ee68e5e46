"""A tracking server that is down never costs work or outputs: refused fast in one line, or a local store."""

from __future__ import annotations

import time

import pytest

from forecast import tracking
from forecast.cli import main

DEAD = "http://127.0.0.1:9"  # the discard port: nothing listens there


@pytest.fixture(autouse=True)
def fresh_policy():
    tracking.configure()
    yield
    tracking.configure()


def test_an_unreachable_server_is_refused_in_one_line_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    t0 = time.perf_counter()
    rc = main(["train", "experiment=quick", f"tracking.uri={DEAD}", f"out_dir={tmp_path / 'out'}",
               f"data.dir={tmp_path / 'data'}", "tracking.timeout_s=2"])
    took = time.perf_counter() - t0
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert DEAD in err and "tracking.fallback=local" in err
    assert not (tmp_path / "data").exists()  # no data simulated, no work spent
    assert took < 30


def test_a_bad_fallback_is_one_line(tmp_path, capsys):
    rc = main(["train", "tracking.fallback=cloud", f"out_dir={tmp_path}"])
    err = capsys.readouterr().err
    assert rc == 2 and "tracking.fallback" in err and "'cloud'" in err


def test_the_local_fallback_says_where_and_the_run_is_recorded_there(tmp_path, caplog):
    local = f"sqlite:///{tmp_path / 'local' / 'mlflow-local.db'}"
    used = tracking.prepare(DEAD, 1.0, "local", local)
    assert used == local
    assert any(DEAD in r.getMessage() and local in r.getMessage() and "tracking-sync" in r.getMessage()
               for r in caplog.records)
    with tracking.run({"a": 1}, experiment="fb", tracking_uri=DEAD) as r:
        r.log_metrics({"m": 1.0})
    assert r.uri == local
    assert tracking.run_metrics(r.run_id, DEAD) == {"m": 1.0}  # the same mapping serves later reads


class _Gone:
    """An MLflow module whose server has gone away after the run started."""

    def __init__(self):
        self.calls = 0

    def log_metrics(self, *a, **k):
        from mlflow.exceptions import MlflowException

        self.calls += 1
        raise MlflowException("API request to http://x failed: Max retries exceeded")


def test_a_server_lost_mid_run_is_reported_once_and_later_calls_are_skipped(caplog):
    gone = _Gone()
    r = tracking.Run("rid", "0", "http://x", gone)
    r.log_metrics({"a": 1.0})
    r.log_metrics({"a": 2.0})
    assert gone.calls == 1  # nothing more is sent after the loss
    assert "MlflowException" in r.lost
    lost = [m for m in caplog.messages if "lost during run rid" in m]
    assert len(lost) == 1 and "kept on disk" in lost[0]


def test_sync_copies_each_local_run_once_with_params_metrics_and_artifacts(tmp_path):
    from mlflow import MlflowClient

    from forecast.tracking_sync import SYNCED_FROM, SyncConfig, sync

    src = f"sqlite:///{tmp_path / 'local.db'}"
    dst = f"sqlite:///{tmp_path / 'server.db'}"
    note = tmp_path / "note.txt"
    note.write_text("kept")
    with tracking.run({"model": {"hidden": 8}}, experiment="power", tracking_uri=src, run_name="r1") as r:
        r.log_metrics({"val": 2.0}, step=0)
        r.log_metrics({"val": 1.0}, step=1)
        r.log_artifact(note, artifact_path="notes")
    copied = sync(SyncConfig(source=src, target=dst))
    assert [a for a, _ in copied] == [r.run_id]
    client = MlflowClient(dst)
    got = client.get_run(copied[0][1])
    assert got.data.params["model.hidden"] == "8" and got.data.tags[SYNCED_FROM] == r.run_id
    assert [(m.step, m.value) for m in client.get_metric_history(got.info.run_id, "val")] == [(0, 2.0), (1, 1.0)]
    assert got.info.status == "FINISHED" and got.info.run_name == "r1"
    path = client.download_artifacts(got.info.run_id, "notes/note.txt", str(tmp_path / "dl"))
    assert open(path).read() == "kept"
    assert sync(SyncConfig(source=src, target=dst)) == []  # nothing copied twice


@pytest.mark.slow
def test_train_with_the_local_fallback_completes_and_keeps_checkpoint_and_metrics(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    rc = main(["train", "experiment=quick", "data.scenario.days=60", f"data.dir={tmp_path / 'data'}",
               f"out_dir={out}", f"tracking.uri={DEAD}", "tracking.fallback=local", "tracking.timeout_s=2"])
    assert rc == 0
    printed = capsys.readouterr().out
    local = f"sqlite:///{out.resolve() / 'mlflow-local.db'}"
    assert local in printed  # the command says where the run is
    assert (out / "model" / "forecaster.pt").is_file() and (out / "test_metrics.json").is_file()
    assert (out / "mlflow-local.db").is_file()
