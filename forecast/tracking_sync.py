"""``forecast tracking-sync``: copy the runs recorded in a local store (``tracking.fallback=local``) to a server.

With MLflow's own client APIs only: per experiment of the source, the same-named experiment of the target
(created if absent); per run not yet copied, a new run there with the same name, tags, params, every metric
step (``log_batch``), artifacts and status, tagged ``forecast.synced_from=<source run id>`` so a second sync
copies nothing twice. Registered models are not copied: register the copied run's model on the server.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from typing import Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from forecast.config import ConfigError
from forecast.config import load as load_config

log = logging.getLogger("forecast")
SYNCED_FROM = "forecast.synced_from"


@dataclass
class SyncConfig:
    """``forecast tracking-sync`` (conf/tracking_sync.yaml)."""

    source: str = MISSING  # e.g. sqlite:///outputs/mlflow-local.db
    target: str = MISSING  # e.g. http://mlflow:5000
    experiment: Optional[str] = None  # only this experiment (default: all)

    def __post_init__(self):
        if self.source == self.target:
            raise ConfigError("target", f"the same store as the source ({self.source})", "http://mlflow:5000")


ConfigStore.instance().store(name="tracking_sync_schema", node=SyncConfig)


def copy_run(src, dst, run, experiment_id: str) -> str:
    """Copy one run (params, tags, metric history, artifacts, status) into ``experiment_id`` of ``dst``."""
    from mlflow.entities import Metric, Param, RunTag

    tags = {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.") or k == "mlflow.runName"}
    tags[SYNCED_FROM] = run.info.run_id
    new = dst.create_run(experiment_id, start_time=run.info.start_time, tags=tags,
                         run_name=run.info.run_name)
    rid = new.info.run_id
    params = [Param(k, v) for k, v in run.data.params.items()]
    for i in range(0, len(params), 100):
        dst.log_batch(rid, params=params[i:i + 100])
    metrics = [Metric(m.key, m.value, m.timestamp, m.step) for key in run.data.metrics
               for m in src.get_metric_history(run.info.run_id, key)]
    for i in range(0, len(metrics), 1000):
        dst.log_batch(rid, metrics=metrics[i:i + 1000])
    with tempfile.TemporaryDirectory(prefix="forecast-sync-") as tmp:
        if src.list_artifacts(run.info.run_id):
            local = src.download_artifacts(run.info.run_id, "", tmp)
            dst.log_artifacts(rid, local)
    dst.set_terminated(rid, run.info.status, end_time=run.info.end_time)
    return rid


def sync(cfg: SyncConfig) -> list[tuple[str, str]]:
    """(source run id, target run id) of every run copied; runs copied before are skipped."""
    from mlflow import MlflowClient

    from forecast import tracking

    src, dst = MlflowClient(cfg.source), MlflowClient(tracking.check(cfg.target))
    copied = []
    for exp in src.search_experiments():
        if cfg.experiment is not None and exp.name != cfg.experiment:
            continue
        target = dst.get_experiment_by_name(exp.name)
        eid = target.experiment_id if target else dst.create_experiment(exp.name,
                                                                        artifact_location=tracking.artifact_root(cfg.target))
        done = {r.data.tags.get(SYNCED_FROM) for r in dst.search_runs([eid], max_results=50000)}
        for run in src.search_runs([exp.experiment_id], max_results=50000, order_by=["attributes.start_time ASC"]):
            if run.info.run_id not in done:
                copied.append((run.info.run_id, copy_run(src, dst, run, eid)))
    return copied


def main(overrides: list[str]) -> int:
    cfg = load_config("tracking_sync", SyncConfig, overrides)
    copied = sync(cfg)
    print(f"copied {len(copied)} run(s) from {cfg.source} to {cfg.target}")
    for a, b in copied:
        print(f"  {a} -> {b}")
    return 0
