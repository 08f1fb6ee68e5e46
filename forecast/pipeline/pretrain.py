"""``forecast pretrain``: the global power model from a simulated corpus, with its model card.

    forecast pretrain [scenarios=150] [epochs=6] [out=outputs/pretrained/power_tide_h24.pt]

The corpus (``data.synthetic_series``, seeded) is cut into model inputs by the series benchmark's own rule
(``evaluation.series_bench.prepare``: scale from the pre-test readings, calendar, no known-future columns).
Validation series come from scenarios drawn with another seed: they choose the checkpoint (pinball on their
windows before their test period) and give the card's figures — zero-shot MAE on their test origins against
the seasonal naives, in their own units. The shipped weights (``forecast/models/weights``) were written by
this command with ``out=forecast/models/weights/power_tide_h24.pt``; their card says with what.
"""

from __future__ import annotations

import logging
import platform
import tempfile
import time
from dataclasses import asdict, dataclass

import lightning as L
import numpy as np
import pandas as pd
import torch
from hydra.core.config_store import ConfigStore
from lightning.pytorch.callbacks import ModelCheckpoint

from forecast.config import ConfigError, OptimizerConfig
from forecast.config import load as load_config
from forecast.data.synthetic_series import SeriesSpec, synthetic_series
from forecast.data.windows import SeriesArrays, WindowStore
from forecast.errors import ContractError
from forecast.evaluation.series_bench import prepare
from forecast.models import pretrained
from forecast.models.device import resolve
from forecast.models.baselines import BASELINES
from forecast.models.inference import predict_windows, targets
from forecast.models.lit import LitForecaster, WindowData, seed_everything
from forecast.tracking import git_commit

log = logging.getLogger("forecast")


@dataclass
class PretrainConfig:
    """``forecast pretrain`` (conf/pretrain.yaml)."""

    out: str = "outputs/pretrained/power_tide_h24.pt"
    scenarios: int = 150  # simulated scenarios for training (3 series per site, 1–4 sites each)
    val_scenarios: int = 20  # scenarios of another seed: checkpoint choice and the card's figures
    days_min: int = 14
    days_max: int = 120
    quiet_spells: float = 0.0  # share of scenarios whose jobs come in busy and quiet spells (data.synthetic_series)
    seed: int = 0
    epochs: int = 6
    windows_per_epoch: int = 100_000  # a seeded random subset of the training windows each epoch
    batch_size: int = 512
    lr: float = 2e-3
    hidden: int = 128
    accelerator: str = "auto"
    num_threads: int = 0

    def __post_init__(self):
        lows = {"scenarios": 1, "val_scenarios": 1, "epochs": 1, "windows_per_epoch": 1, "batch_size": 1, "hidden": 1,
                "days_min": 14, "days_max": self.days_min}
        if not 0.0 <= self.quiet_spells <= 1.0:
            raise ConfigError("quiet_spells", f"quiet_spells is a share of scenarios in [0, 1], got {self.quiet_spells}",
                              "0.3")
        for key, low in lows.items():
            if getattr(self, key) < low:
                raise ConfigError(key, f"{key} must be >= {low}, got {getattr(self, key)}", str(low))


ConfigStore.instance().store(name="pretrain_schema", node=PretrainConfig)


def corpus(spec: SeriesSpec, mspec: pretrained.Spec) -> tuple[list[SeriesArrays], dict]:
    """The corpus' series as model inputs (the series benchmark's rule), and counts for the card."""
    out, counts = [], {"series": 0, "hours": 0, "too_short": 0}
    for name, s in synthetic_series(spec):
        try:
            p = prepare(s.to_frame("y"), "y", [], mspec.horizon, mspec.history, source=name)
        except ContractError:  # fewer readings than one window (dropouts in a short series): counted
            counts["too_short"] += 1
            continue
        sa = p.store.series[0]
        sa.series_id = name
        out.append(sa)
        counts["series"] += 1
        counts["hours"] += len(sa.y)
    return out, counts


def zero_shot_figures(model: torch.nn.Module, series: list[SeriesArrays], mspec: pretrained.Spec) -> dict:
    """Zero-shot MAE over the test period (last 20%, daily origins at 00 UTC) of every series, in its own units,
    and the ratio to each seasonal naive's; medians over series."""
    rt = resolve("cpu", "32-true")
    ratios: dict[str, list[float]] = {"seasonal_naive_24h": [], "seasonal_naive_168h": []}
    for s in series:
        store = WindowStore([s], mspec.history, mspec.horizon)
        g = store.origins(0, start=s.ts[int(np.floor(0.8 * len(s.ts)))], at_hour=0)
        if not len(g):
            continue
        y, _ = targets(store, g)
        q = predict_windows(model, store, g, rt)[..., len(mspec.levels) // 2]
        mae = float(np.nanmean(np.abs(q - y)))
        batch = store.gather(torch.from_numpy(g))
        for k in ratios:
            naive = float(np.nanmean(np.abs(BASELINES[k](batch, mspec.horizon).float().numpy() - y)))
            if naive > 0:
                ratios[k].append(mae / naive)
    return {f"median_mae_ratio_vs_{k}": float(np.median(v)) for k, v in ratios.items() if v} | {
        "series_scored": len(ratios["seasonal_naive_24h"])}


def _index(store: WindowStore, every_h: int, before_test: bool) -> np.ndarray:
    parts = []
    for k, s in enumerate(store.series):
        end = s.ts[int(np.floor(0.8 * len(s.ts)))] - pd.Timedelta(hours=store.horizon - 1) if before_test else None
        parts.append(store.origins(k, end=end, every_h=every_h))
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def fit(cfg: PretrainConfig, train: list[SeriesArrays], val: list[SeriesArrays],
        mspec: pretrained.Spec) -> tuple[torch.nn.Module, dict]:
    """Train on every window of the training series; best checkpoint by pinball on the validation series'
    windows before their test period."""
    store, vstore = WindowStore(train, mspec.history, mspec.horizon), WindowStore(val, mspec.history, mspec.horizon)
    data = WindowData(store, _index(store, 1, False), _index(vstore, 6, True), cfg.batch_size, seed=cfg.seed,
                      max_train_windows=cfg.windows_per_epoch, val_store=vstore)
    model = mspec.build()
    steps = data.batches_per_epoch()
    lit = LitForecaster(model, mspec.levels, OptimizerConfig(lr=cfg.lr), steps_per_epoch=steps, max_epochs=cfg.epochs)
    rt = resolve(cfg.accelerator, "auto")
    with tempfile.TemporaryDirectory(prefix="forecast-pretrain-") as ckdir:
        best = ModelCheckpoint(dirpath=ckdir, monitor="val_pinball", mode="min", save_top_k=1, filename="best")
        trainer = L.Trainer(accelerator=rt.accelerator, devices=1, precision=rt.precision, max_epochs=cfg.epochs,
                            gradient_clip_val=1.0, logger=False, callbacks=[best], enable_progress_bar=False,
                            enable_model_summary=False, num_sanity_val_steps=0)
        trainer.fit(lit, datamodule=data)
        if best.best_model_path:
            lit.load_state_dict(torch.load(best.best_model_path, map_location="cpu", weights_only=False)["state_dict"])
        score = float(best.best_model_score) if best.best_model_score is not None else float("nan")
    info = {"epochs": cfg.epochs, "steps": int(trainer.global_step), "windows_seen": int(trainer.global_step) *
            cfg.batch_size, "val_pinball": score, "train_windows": int(len(data.train_set.index)),
            "val_windows": int(len(data.val_set.index)), "device": str(rt.device), "precision": rt.precision}
    return lit.model.cpu().eval(), info


def pretrain(cfg: PretrainConfig) -> tuple[str, dict]:
    """Corpus → fit → zero-shot figures on the validation series → weights and card at ``cfg.out``."""
    t0 = time.perf_counter()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    seed_everything(cfg.seed)
    mspec = pretrained.Spec(hidden=cfg.hidden)
    days = (cfg.days_min, cfg.days_max)
    tspec = SeriesSpec(cfg.scenarios, days=days, p_quiet_spells=cfg.quiet_spells, seed=cfg.seed)
    vspec = SeriesSpec(cfg.val_scenarios, days=days, p_quiet_spells=cfg.quiet_spells,
                       seed=cfg.seed + 1_000_003)  # scenarios never trained on
    train, tcount = corpus(tspec, mspec)
    val, vcount = corpus(vspec, mspec)
    log.info("corpus: %d training series (%d h), %d validation series", tcount["series"], tcount["hours"], len(val))
    model, info = fit(cfg, train, val, mspec)
    figures = zero_shot_figures(model, val, mspec)
    card = {"what": "global TiDE power model, pretrained on simulated GPU sites (facility power, occupancy, server "
                    "power); zero-shot or fine-tuned by forecast series-bench",
            "corpus": {"generator": "forecast.data.synthetic_series", "train": {**asdict(tspec), **tcount},
                       "validation": {**asdict(vspec), **vcount}, "public_traces": "none (they are the benchmark)"},
            "training": {**info, "lr": cfg.lr, "batch_size": cfg.batch_size, "windows_per_epoch": cfg.windows_per_epoch,
                         "seed": cfg.seed, "seconds": round(time.perf_counter() - t0, 1)},
            "validation_zero_shot": figures, "commit": git_commit(), "torch": torch.__version__,
            "python": platform.python_version(), "created": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
            "command": f"forecast pretrain scenarios={cfg.scenarios} val_scenarios={cfg.val_scenarios} "
                       f"epochs={cfg.epochs} windows_per_epoch={cfg.windows_per_epoch} seed={cfg.seed}"
                       + (f" quiet_spells={cfg.quiet_spells}" if cfg.quiet_spells else "")}
    path = pretrained.save(cfg.out, model, mspec, card)
    return str(path), card


def main(overrides: list[str]) -> int:
    cfg = load_config("pretrain", PretrainConfig, overrides)
    path, card = pretrain(cfg)
    z = card["validation_zero_shot"]
    print(f"{path}: {card['corpus']['train']['series']} training series, {card['training']['steps']} steps, "
          f"{card['training']['seconds']} s; zero-shot on {z.get('series_scored', 0)} unseen series: median MAE / "
          f"seasonal naive 24 h = {z.get('median_mae_ratio_vs_seasonal_naive_24h', float('nan')):.3f}, "
          f"168 h = {z.get('median_mae_ratio_vs_seasonal_naive_168h', float('nan')):.3f}; card {pretrained.card_path(path)}")
    return 0
