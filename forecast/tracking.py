"""The only module that talks to MLflow.

Default store: ``sqlite:///mlflow.db`` in the working directory (artifacts in
``./mlruns``); any tracking URI works (``FORECAST_TRACKING_URI``/``MLFLOW_TRACKING_URI``
or the config's ``tracking.uri``), e.g. a team's tracking server.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_URI = "sqlite:///mlflow.db"
log = logging.getLogger(__name__)


def resolve_uri(uri: str | None = None) -> str:
    return uri or os.environ.get("FORECAST_TRACKING_URI") or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI


def _mlflow(uri: str | None):
    import mlflow

    for name in ("mlflow", "alembic", "mlflow.store.db.utils"):
        logging.getLogger(name).setLevel(logging.WARNING)
    mlflow.set_tracking_uri(resolve_uri(uri))
    return mlflow


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """{'a': {'b': 1}} -> {'a.b': '1'}; values as strings within MLflow's 6,000-character limit."""
    out: dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        else:
            s = json.dumps(v) if isinstance(v, (list, tuple)) else str(v)
            out[key] = s[:6000]
    return out


def git_commit() -> str:
    try:
        root = Path(__file__).resolve().parents[1]
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5)
        if sha.returncode != 0:
            return "unknown"
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def environment() -> dict[str, str]:
    """Versions that decide whether a rerun reproduces the numbers."""
    import numpy
    import pandas
    import torch

    import forecast

    env = {"forecast": forecast.__version__, "git_commit": git_commit(), "python": platform.python_version(),
           "torch": torch.__version__, "numpy": numpy.__version__, "pandas": pandas.__version__,
           "cuda": str(torch.version.cuda), "platform": platform.platform()}
    try:
        import lightning

        env["lightning"] = lightning.__version__
    except ImportError:  # pragma: no cover - lightning is a dependency
        pass
    return env


@dataclass
class Run:
    """A live MLflow run. Every method logs immediately."""

    run_id: str
    experiment_id: str
    uri: str
    _mlflow: Any

    def log_params(self, params: Mapping[str, Any]) -> None:
        flat = flatten(params)
        items = list(flat.items())
        for i in range(0, len(items), 100):  # MLflow's batch limit
            self._mlflow.log_params(dict(items[i:i + 100]))

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        clean = {k.replace("@", "_at_"): float(v) for k, v in metrics.items()}
        self._mlflow.log_metrics(clean, step=step)

    def log_artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> None:
        self._mlflow.log_artifact(str(path), artifact_path=artifact_path)

    def log_dict(self, obj: Mapping[str, Any], name: str) -> None:
        self._mlflow.log_dict(dict(obj), name)

    def log_figure(self, fig, name: str) -> None:
        self._mlflow.log_figure(fig, name)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self._mlflow.set_tags({k: str(v) for k, v in tags.items()})

    def log_torch_model(self, model, name: str, input_example: dict | Any, registered_name: str | None = None,
                        alias: str | None = None, extra_files: list[str] | None = None) -> str | None:
        """Log a plain tensor-in/tensor-out module with its signature; register it and set ``alias``.

        Returns the registered model version (str) or None when not registered.
        """
        import numpy as np
        import torch
        from mlflow.models.signature import ModelSignature
        from mlflow.types.schema import Schema, TensorSpec

        mlf = self._mlflow
        named = input_example if isinstance(input_example, dict) else {"input": input_example}
        example = tuple(torch.as_tensor(v)[:2].float().cpu() for v in named.values())
        with torch.no_grad():
            out = model(*example)
        spec = lambda name, t: TensorSpec(np.dtype(np.float32), (-1, *t.shape[1:]), name)  # noqa: E731
        signature = ModelSignature(inputs=Schema([spec(k, t) for k, t in zip(named, example)]),
                                   outputs=Schema([spec("quantiles", out)]))
        # pt2 (torch.export) format: a traced graph with a dynamic batch dimension, no pickled code
        info = mlf.pytorch.log_model(model, name=name, signature=signature, input_example=example,
                                     extra_files=extra_files, registered_model_name=registered_name)
        if registered_name is None:
            return None
        version = str(info.registered_model_version)
        if alias:
            mlf.MlflowClient().set_registered_model_alias(registered_name, alias, version)
        return version


def artifact_root(uri: str) -> str | None:
    """Where a new experiment's artifacts go: for a sqlite store, ``mlruns/`` beside the database file (MLflow's
    own default is ``./mlruns`` in whatever folder the command runs in); None (the server decides) otherwise."""
    if not uri.startswith("sqlite:///"):
        return None
    db = Path(uri[len("sqlite:///"):])
    return (db.resolve().parent / "mlruns").as_uri()


def ensure_experiment(mlf, name: str, uri: str) -> None:
    """Make ``name`` the active experiment, creating it with its artifacts beside a sqlite store."""
    if mlf.get_experiment_by_name(name) is None:
        try:
            mlf.create_experiment(name, artifact_location=artifact_root(uri))
        except mlf.exceptions.MlflowException:  # created meanwhile by another process: use that one
            if mlf.get_experiment_by_name(name) is None:
                raise
    mlf.set_experiment(name)


@contextlib.contextmanager
def run(config: Mapping[str, Any] | None = None, experiment: str = "forecast", tracking_uri: str | None = None,
        run_name: str | None = None, tags: Mapping[str, Any] | None = None) -> Iterator[Run]:
    """Start a run, log the resolved config (as params and as config.json) and the environment.

    Opened while another run is active (``forecast run``'s stages), it is that run's child."""
    mlf = _mlflow(tracking_uri)
    ensure_experiment(mlf, experiment, resolve_uri(tracking_uri))
    with mlf.start_run(run_name=run_name, nested=mlf.active_run() is not None) as active:
        r = Run(active.info.run_id, active.info.experiment_id, resolve_uri(tracking_uri), mlf)
        env = environment()
        r.set_tags({**{f"env.{k}": v for k, v in env.items()}, **(tags or {})})
        if config is not None:
            r.log_params(config)
            r.log_dict(config, "config.json")
        yield r


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str
    run_id: str
    source: str


def resolve_alias(name: str, alias: str, tracking_uri: str | None = None) -> ModelRef:
    """Registered model ``name@alias`` -> its version, run and artifact source."""
    mlf = _mlflow(tracking_uri)
    client = mlf.MlflowClient()
    try:
        mv = client.get_model_version_by_alias(name, alias)
    except mlf.exceptions.MlflowException as e:
        raise LookupError(f"no registered model {name!r} with alias {alias!r} in {resolve_uri(tracking_uri)}: {e}") from None
    return ModelRef(name=name, version=str(mv.version), run_id=mv.run_id, source=mv.source)


def download_artifact(run_id: str, artifact_path: str, tracking_uri: str | None = None, dst: str | None = None) -> Path:
    mlf = _mlflow(tracking_uri)
    dst = dst or tempfile.mkdtemp(prefix="forecast-artifact-")
    return Path(mlf.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path, dst_path=dst))


def run_metrics(run_id: str, tracking_uri: str | None = None) -> dict[str, float]:
    mlf = _mlflow(tracking_uri)
    return dict(mlf.MlflowClient().get_run(run_id).data.metrics)


def metric_history(run_id: str, key: str, tracking_uri: str | None = None) -> list[tuple[int, float]]:
    mlf = _mlflow(tracking_uri)
    return [(m.step, m.value) for m in mlf.MlflowClient().get_metric_history(run_id, key)]


class EpochMetricsCallback:
    """Lightning callback: log the trainer's epoch-level metrics to the active run (rank 0 only)."""

    def __new__(cls, run: Run):
        import lightning as L

        class _CB(L.Callback):
            def on_validation_epoch_end(self, trainer, pl_module):
                if trainer.sanity_checking or not trainer.is_global_zero:
                    return
                m = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
                if m:
                    run.log_metrics(m, step=trainer.current_epoch)

        return _CB()
