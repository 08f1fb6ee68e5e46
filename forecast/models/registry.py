"""Build models by name and save/load them as portable checkpoints (state dict + JSON metadata)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from forecast.config import ModelConfig
from forecast.data.windows import FUT_CHANNELS, HIST_CHANNELS
from forecast.io import atomic_write

FORMAT = "forecast-checkpoint/1"
# power in capacity units: 0 … 1 × capacity_mw (the sites table's physical ceiling: GPUs at peak power, worst PUE,
# base load), so every quantile of the power model is >= 0 MW and <= capacity_mw by construction
POWER_BOUNDS = (0.0, 1.0)


def build(cfg: ModelConfig, history: int, horizon: int) -> nn.Module:
    if cfg.name == "tide":
        from forecast.models.tide import TiDE

        return TiDE(history=history, horizon=horizon, n_hist=len(HIST_CHANNELS), n_fut=len(FUT_CHANNELS),
                    n_quantiles=len(cfg.quantiles), median_index=list(cfg.quantiles).index(0.5), hidden=cfg.hidden,
                    n_encoder=cfg.n_encoder, n_decoder=cfg.n_decoder, proj_dim=cfg.proj_dim,
                    decoder_dim=cfg.decoder_dim, temporal_hidden=cfg.temporal_hidden, dropout=cfg.dropout,
                    anchor=(HIST_CHANNELS.index("phys_power"), FUT_CHANNELS.index("phys_power")) if cfg.anchor else None,
                    bounds=POWER_BOUNDS)
    raise ValueError(f"unknown model {cfg.name!r}")


def save(path: str | Path, model: nn.Module, cfg: ModelConfig, history: int, horizon: int, extra: dict | None = None) -> Path:
    meta = {"format": FORMAT, "model": asdict(cfg) if not isinstance(cfg, dict) else cfg, "history_h": history,
            "horizon_h": horizon, "hist_channels": list(HIST_CHANNELS), "fut_channels": list(FUT_CHANNELS),
            **(extra or {})}
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return atomic_write(path, lambda tmp: torch.save({"meta": json.dumps(meta), "state_dict": state}, tmp))


def load(path: str | Path) -> tuple[nn.Module, dict]:
    """-> (model in eval mode on CPU, metadata). Refuses checkpoints whose feature channels differ."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    meta = json.loads(blob["meta"])
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a forecast checkpoint (format {meta.get('format')!r})")
    if meta["hist_channels"] != list(HIST_CHANNELS) or meta["fut_channels"] != list(FUT_CHANNELS):
        raise ValueError(f"{path}: trained with feature channels {meta['hist_channels']} / {meta['fut_channels']}, "
                         f"this version builds {list(HIST_CHANNELS)} / {list(FUT_CHANNELS)}: retrain")
    mc = dict(meta["model"])
    mc["optimizer"] = {}
    from forecast.config import OptimizerConfig

    cfg = ModelConfig(**{**mc, "optimizer": OptimizerConfig()})
    model = build(cfg, meta["history_h"], meta["horizon_h"])
    model.load_state_dict(blob["state_dict"])
    return model.eval(), meta
