"""The real Hydra config composes for every group option; defaults are pinned; bad values name the override."""

from __future__ import annotations

import pytest

from forecast.config import Config, compose, conf_dir, to_object


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (conf_dir() / group).glob("*.yaml"))


def test_defaults_are_pinned():
    cfg = to_object(compose())
    assert isinstance(cfg, Config)
    assert cfg.data.source == "simulate" and cfg.data.history_h == 336 and cfg.data.horizon_h == 168
    assert cfg.data.scenario.days == 731 and cfg.data.scenario.seed == 7 and len(cfg.data.scenario.sites) == 4
    assert cfg.model.name == "tide" and cfg.model.quantiles == [0.1, 0.5, 0.9] and cfg.model.anchor
    assert cfg.trainer.accelerator == "auto" and cfg.trainer.precision == "auto"
    assert cfg.tracking.model_name == "power-forecaster" and cfg.tracking.alias == "champion"
    assert cfg.tracking.uri is None  # -> sqlite:///mlflow.db in the working directory


@pytest.mark.parametrize("group", ["data", "model", "trainer", "experiment"])
def test_every_group_option_composes(group):
    opts = options(group)
    assert opts, f"conf/{group} is empty"
    for opt in opts:
        extra = ["data.dir=/tmp/x"] if (group, opt) == ("data", "files") else []
        cfg = to_object(compose([f"{group}={opt}", *extra]))
        assert isinstance(cfg, Config)


def test_command_line_overrides_reach_nested_fields():
    cfg = to_object(compose(["trainer=gpu", "model.hidden=64", "data.scenario.days=90", "model.optimizer.lr=0.01",
                             "experiment=quick"]))
    assert cfg.trainer.precision == "bf16-mixed" and cfg.trainer.batch_size == 256  # experiment applies last
    assert cfg.model.hidden == 64 and cfg.model.optimizer.lr == 0.01
    assert cfg.data.scenario.days == 90


@pytest.mark.parametrize("override, fix", [
    ("data.history_h=5", "data.history_h"),
    ("model.optimizer.name=sgd", "model.optimizer.name"),
    ("model.quantiles=[0.1,0.9]", "model.quantiles"),
    ("predict.reference_time=2025-01-01", "predict.reference_time"),
    ("data.source=web", "data.source"),
    ("trainer.batch_size=0", "trainer.batch_size"),
])
def test_validation_names_the_override(override, fix):
    with pytest.raises(ValueError, match=f"`{fix}=...`"):
        to_object(compose([override]))


def test_files_data_reads_the_given_dir(tmp_path):
    from forecast.data.inputs import load_inputs

    cfg = to_object(compose(["data=files", f"data.dir={tmp_path}"]))
    assert cfg.data.source == "files" and cfg.data.dir == str(tmp_path)
    with pytest.raises(FileNotFoundError, match=f"{tmp_path}: no sites.parquet or sites.csv"):
        load_inputs(cfg.data)
