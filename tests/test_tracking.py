"""MLflow against a real sqlite store in a temp dir (no mocks)."""

from __future__ import annotations

import pytest
import torch

from forecast import tracking


@pytest.fixture
def uri(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # artifacts land under tmp_path/mlruns
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def test_run_logs_params_metrics_artifacts(uri, tmp_path):
    cfg = {"model": {"hidden": 32, "quantiles": [0.1, 0.5, 0.9]}, "seed": 3}
    f = tmp_path / "note.txt"
    f.write_text("hello")
    with tracking.run(cfg, experiment="t", tracking_uri=uri) as r:
        r.log_metrics({"val_mae": 2.0}, step=0)
        r.log_metrics({"val_mae": 1.5}, step=1)
        r.log_artifact(f, artifact_path="notes")
        run_id = r.run_id
    import mlflow

    mlflow.set_tracking_uri(uri)
    run = mlflow.MlflowClient().get_run(run_id)
    assert run.data.params["model.hidden"] == "32" and run.data.params["model.quantiles"] == "[0.1, 0.5, 0.9]"
    assert run.data.tags["env.torch"] == torch.__version__
    assert tracking.metric_history(run_id, "val_mae", uri) == [(0, 2.0), (1, 1.5)]
    got = tracking.download_artifact(run_id, "notes/note.txt", uri, dst=str(tmp_path / "dl"))
    assert got.read_text() == "hello"
    cfg_back = tracking.download_artifact(run_id, "config.json", uri, dst=str(tmp_path / "dl2"))
    assert '"hidden": 32' in cfg_back.read_text()


def test_model_registered_with_alias_and_signature(uri):
    from forecast.models.tide import TiDE

    m = TiDE(24, 6, 3, 2, 3, 1, hidden=16).eval()
    ex = {"x_hist": torch.randn(4, 24, 3), "x_fut": torch.randn(4, 6, 2)}
    with tracking.run({}, experiment="t", tracking_uri=uri) as r:
        v1 = r.log_torch_model(m, "model", ex, registered_name="pf", alias="champion")
    with tracking.run({}, experiment="t", tracking_uri=uri) as r2:
        v2 = r2.log_torch_model(m, "model", ex, registered_name="pf", alias="champion")
    assert (v1, v2) == ("1", "2")
    ref = tracking.resolve_alias("pf", "champion", uri)
    assert ref.version == "2" and ref.run_id == r2.run_id
    import mlflow

    mlflow.set_tracking_uri(uri)
    info = mlflow.models.get_model_info(f"models:/pf@champion")
    names = [s.name for s in info.signature.inputs.inputs]
    assert names == ["x_hist", "x_fut"]
    assert info.signature.outputs.inputs[0].shape == (-1, 6, 3)
    with pytest.raises(LookupError, match="no registered model 'pf' with alias 'nope'"):
        tracking.resolve_alias("pf", "nope", uri)


def test_artifacts_go_beside_the_sqlite_store_not_into_the_working_folder(tmp_path, monkeypatch):
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    (tmp_path / "store").mkdir()
    with tracking.run({"a": 1}, experiment="beside", tracking_uri=uri) as r:
        run_id = r.run_id
    assert not (here / "mlruns").exists()
    assert (tmp_path / "store" / "mlruns").is_dir()
    assert any(p.name == "config.json" for p in (tmp_path / "store" / "mlruns").rglob("*"))
    with tracking.run(None, experiment="beside", tracking_uri=uri) as r2:  # the experiment is reused
        assert r2.experiment_id == r.experiment_id != run_id
