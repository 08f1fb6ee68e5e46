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

from forecast.errors import UsageError, first_line

DEFAULT_URI = "sqlite:///mlflow.db"
FALLBACKS = ("none", "local")
log = logging.getLogger(__name__)
# MLflow's HTTP client retries 7 times with backoff (minutes against a dead server); the reachability check
# below finds a dead server first, these bound what a server lost mid-run costs each call (the user's env wins)
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")


class TrackingUnavailable(UsageError):
    """The tracking server cannot be reached (found before any work is spent)."""


@dataclass
class Availability:
    """How an unreachable server is handled: ``fallback`` none (refuse, one line) or local (a sqlite store)."""

    timeout_s: float = 5.0
    fallback: str = "none"
    local_uri: str = "sqlite:///mlflow-local.db"


_POLICY = Availability()
_RESOLVED: dict[str, str] = {}  # configured uri -> the uri in use after the reachability check


def configure(timeout_s: float = 5.0, fallback: str = "none", local_uri: str = "sqlite:///mlflow-local.db") -> None:
    """Set how an unreachable server is handled for this process (``tracking.timeout_s``/``tracking.fallback``)."""
    global _POLICY
    if fallback not in FALLBACKS:
        raise UsageError("tracking.fallback", f"{fallback!r} is not one of {', '.join(FALLBACKS)}", "tracking.fallback=local")
    new = Availability(float(timeout_s), fallback, local_uri)
    if new != _POLICY:
        _POLICY = new
        _RESOLVED.clear()


def prepare(uri: str | None, timeout_s: float, fallback: str, local_uri: str) -> str:
    """Set the policy and check the store now, before a command spends any work: the URI runs will use."""
    configure(timeout_s, fallback, local_uri)
    return resolve_uri(uri)


def probe(uri: str, timeout_s: float) -> str | None:
    """None if an HTTP(S) tracking server answers within ``timeout_s`` (any HTTP status counts), else why not."""
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout_s).close()
    except urllib.error.HTTPError:
        return None  # it answered
    except (urllib.error.URLError, OSError, ValueError) as e:
        return str(getattr(e, "reason", e))
    return None


def resolve_uri(uri: str | None = None) -> str:
    """The tracking URI in use: the given one, the environment's, or the default, after the reachability check
    of a server (``check``)."""
    u = uri or os.environ.get("FORECAST_TRACKING_URI") or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    return _RESOLVED.get(u) or check(u)


def check(uri: str) -> str:
    """Probe a tracking server once per process, within the configured timeout. Unreachable: refused in one line
    naming the URI, or (``fallback=local``) the local sqlite store, said where and how to copy the runs later."""
    if not uri.startswith(("http://", "https://")):
        _RESOLVED[uri] = uri
        return uri
    why = probe(uri, _POLICY.timeout_s)
    if why is None:
        _RESOLVED[uri] = uri
        return uri
    if _POLICY.fallback != "local":
        raise TrackingUnavailable("tracking.uri", f"the tracking server {uri} did not answer within "
                                  f"{_POLICY.timeout_s:g} s ({why})",
                                  "start it, point tracking.uri at a reachable one, or add tracking.fallback=local")
    local = _POLICY.local_uri
    if local.startswith("sqlite:///"):
        Path(local[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    log.warning("tracking server %s unreachable (%s): recording in the local store %s; copy the runs later with "
                "`forecast tracking-sync --source %s --target %s`", uri, why, local, local, uri)
    _RESOLVED[uri] = local
    return local


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


def _lost_errors() -> tuple[type[BaseException], ...]:
    """What a tracking call raises when the server goes away: MLflow's own error, HTTP errors, OS errors."""
    from mlflow.exceptions import MlflowException

    errs: list[type[BaseException]] = [MlflowException, OSError]
    try:
        import requests

        errs.append(requests.exceptions.RequestException)
    except ImportError:  # pragma: no cover - mlflow depends on requests
        pass
    return tuple(errs)


def guarded(method):
    """A Run method that, once the server is lost mid-run, warns once and skips (every output is on disk first);
    ``Run.lost`` then says why, and the command reports it."""
    import functools

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        if self.lost:
            return None
        try:
            return method(self, *args, **kwargs)
        except _lost_errors() as e:
            self.lost = f"{type(e).__name__}: {first_line(str(e))}"
            log.warning("tracking server %s lost during run %s (%s): the run's outputs are kept on disk; "
                        "nothing more is sent to it", self.uri, self.run_id, self.lost)
            return None
    return call


@dataclass
class Run:
    """A live MLflow run. Every method logs immediately; a server lost mid-run is reported, not fatal."""

    run_id: str
    experiment_id: str
    uri: str
    _mlflow: Any
    lost: str | bool = False

    @guarded
    def log_params(self, params: Mapping[str, Any]) -> None:
        flat = flatten(params)
        items = list(flat.items())
        for i in range(0, len(items), 100):  # MLflow's batch limit
            self._mlflow.log_params(dict(items[i:i + 100]))

    @guarded
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        clean = {k.replace("@", "_at_"): float(v) for k, v in metrics.items()}
        self._mlflow.log_metrics(clean, step=step)

    @guarded
    def log_artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> None:
        self._mlflow.log_artifact(str(path), artifact_path=artifact_path)

    @guarded
    def log_dict(self, obj: Mapping[str, Any], name: str) -> None:
        self._mlflow.log_dict(dict(obj), name)

    @guarded
    def log_figure(self, fig, name: str) -> None:
        self._mlflow.log_figure(fig, name)

    @guarded
    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self._mlflow.set_tags({k: str(v) for k, v in tags.items()})

    @guarded
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
    uri = resolve_uri(tracking_uri)
    try:
        ensure_experiment(mlf, experiment, uri)
        started = mlf.start_run(run_name=run_name, nested=mlf.active_run() is not None)
    except _lost_errors() as e:
        raise TrackingUnavailable("tracking.uri", f"could not open a run at {uri} ({first_line(str(e))})",
                                  "start the server, point tracking.uri at a reachable one, or add "
                                  "tracking.fallback=local") from None
    r = Run(started.info.run_id, started.info.experiment_id, uri, mlf)
    status = "FAILED"
    try:
        env = environment()
        r.set_tags({**{f"env.{k}": v for k, v in env.items()}, **(tags or {})})
        if config is not None:
            r.log_params(config)
            r.log_dict(config, "config.json")
        yield r
        status = "FINISHED"
    finally:
        end_run(r, status)


def end_run(r: Run, status: str) -> None:
    """Close the active run; a server lost by then is the warning ``guarded`` gives, never a second error."""
    if r.lost:
        with contextlib.suppress(*_lost_errors()):  # the server is gone: only the local state is closed
            r._mlflow.end_run(status)
        return
    guarded(lambda self: self._mlflow.end_run(status))(r)


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
