"""One thin LightningModule that trains any forecaster ``model(x_hist, x_fut) -> (B, H, Q)``,
and data modules that feed device-resident windows by index: from one store, or streamed per epoch
from a shard corpus larger than memory."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
import time

import lightning as L
import numpy as np
import torch
from torch import nn

from forecast.config import OptimizerConfig
from forecast.data.corpus import epoch_shards, rank_shards, read_shards, shard_paths
from forecast.data.windows import WindowStore
from forecast.models.quantile import pinball_loss


class LitForecaster(L.LightningModule):
    def __init__(self, model: nn.Module, levels: tuple[float, ...], optimizer: OptimizerConfig,
                 steps_per_epoch: int = 1, max_epochs: int = 1):
        super().__init__()
        self.model = model
        self.register_buffer("levels", torch.tensor(levels, dtype=torch.float32), persistent=False)
        self.opt_cfg = optimizer
        self.steps_per_epoch, self.max_epochs = steps_per_epoch, max_epochs
        self.median_index = list(levels).index(0.5)

    def forward(self, x_hist: torch.Tensor, x_fut: torch.Tensor) -> torch.Tensor:
        return self.model(x_hist, x_fut)

    def _step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        pred = self.model(batch["x_hist"], batch["x_fut"]).float()  # (B, H, Q)
        loss = pinball_loss(pred, batch["y"], self.levels)
        B = batch["y"].shape[0]
        # epoch-level only, so syncing across ranks costs one all-reduce per epoch
        self.log(f"{stage}_pinball", loss, prog_bar=True, on_step=False, on_epoch=True, batch_size=B, sync_dist=True)
        if stage != "train":
            mae = (pred[..., self.median_index] - batch["y"]).abs().mean()
            self.log(f"{stage}_mae", mae, on_step=False, on_epoch=True, batch_size=B, sync_dist=True)
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        return self._step(batch, "val")

    def configure_optimizers(self):
        c = self.opt_cfg
        cls = torch.optim.AdamW if c.name == "adamw" else torch.optim.Adam
        opt = cls(self.parameters(), lr=c.lr, weight_decay=c.weight_decay)
        total = max(1, self.steps_per_epoch * self.max_epochs)
        if self._trainer is not None:
            # under DDP each rank takes 1/world of the batches: the trainer knows the per-rank count
            est = self.trainer.estimated_stepping_batches
            if math.isfinite(est) and est > 0:
                total = int(est)
        if c.scheduler == "onecycle":
            sch = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=c.lr, total_steps=total, pct_start=0.15)
        elif c.scheduler == "cosine":
            sch = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
        else:
            return opt
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sch, "interval": "step"}}


class IndexBatches(torch.utils.data.IterableDataset):
    """Yields index tensors (B,) of issue times; reshuffled each epoch (seeded); sharded across DDP ranks
    so that every rank sees the same number of equal-size batches."""

    def __init__(self, index: np.ndarray, batch_size: int, shuffle: bool, seed: int = 0, max_windows: int = 0):
        self.index = np.asarray(index, dtype=np.int64)
        self.batch_size, self.shuffle, self.seed, self.max_windows = batch_size, shuffle, seed, max_windows
        self.epoch = 0
        self.first_epoch_seen: np.ndarray | None = None  # this rank's indices in its first full pass

    def _rank_world(self) -> tuple[int, int]:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return torch.distributed.get_rank(), torch.distributed.get_world_size()
        return 0, 1

    def n_batches(self) -> int:
        _, world = self._rank_world()
        n = len(self.index) if not self.max_windows else min(self.max_windows, len(self.index))
        per_rank = n // world
        return max(1, per_rank // self.batch_size) if self.shuffle else max(1, math.ceil(per_rank / self.batch_size))

    def __len__(self) -> int:
        return self.n_batches()

    def __iter__(self):
        rank, world = self._rank_world()
        idx = self.index
        if self.shuffle:
            rng = np.random.default_rng((self.seed, self.epoch))
            idx = idx[rng.permutation(len(idx))]
            self.epoch += 1
        if self.max_windows:
            idx = idx[: self.max_windows]
        per_rank = len(idx) // world
        idx = idx[rank * per_rank:(rank + 1) * per_rank]
        nb = self.n_batches()
        if self.first_epoch_seen is None:
            self.first_epoch_seen = idx[: nb * self.batch_size].copy()
        for b in range(nb):
            chunk = idx[b * self.batch_size:(b + 1) * self.batch_size]
            if len(chunk):
                yield torch.from_numpy(chunk)


def batch_store(trainer, train: WindowStore, val: WindowStore | None) -> WindowStore:
    """The store a transferred batch of indices refers to: ``val`` while validating (when given), else ``train``."""
    validating = trainer is not None and (trainer.validating or trainer.sanity_checking)
    return val if validating and val is not None else train


class WindowData(L.LightningDataModule):
    """Index batches on the host; windows gathered on the training device after transfer."""

    def __init__(self, store: WindowStore, train_index: np.ndarray, val_index: np.ndarray, batch_size: int,
                 seed: int = 0, max_train_windows: int = 0, val_store: WindowStore | None = None):
        super().__init__()
        self.store = store
        self.val_store = val_store  # the validation windows' own store (None: ``store``)
        self.train_set = IndexBatches(train_index, batch_size, shuffle=True, seed=seed, max_windows=max_train_windows)
        self.val_set = IndexBatches(val_index, batch_size * 2, shuffle=False)

    def batches_per_epoch(self) -> int:
        return self.train_set.n_batches()

    def train_dataloader(self):
        return torch.utils.data.DataLoader(self.train_set, batch_size=None, num_workers=0)

    def val_dataloader(self):
        return torch.utils.data.DataLoader(self.val_set, batch_size=None, num_workers=0)

    def on_after_batch_transfer(self, batch, dataloader_idx):
        return batch_store(self.trainer, self.store, self.val_store).to(batch.device).gather(batch)


class ShardEpochs(torch.utils.data.IterableDataset):
    """Index batches (B,) streamed from a shard corpus: each epoch loads this rank's next ``shards_per_epoch``
    shards (rotating, ``corpus.epoch_shards``) into ``store`` and draws ``batches`` batches from their
    training windows (shuffled, seeded by seed, rank and epoch; repeated when the shards hold fewer).
    Every rank yields the same number of batches, so DDP ranks stay in step; ranks read disjoint shards."""

    def __init__(self, paths: list, history: int, horizon: int, batch_size: int, batches: int,
                 shards_per_epoch: int = 1, seed: int = 0, rank: int = 0, world: int = 1, every_h: int = 1,
                 select: Callable[[WindowStore], np.ndarray] | None = None):
        self.mine = rank_shards(paths, rank, world)
        self.history, self.horizon, self.batch_size, self.batches = history, horizon, batch_size, batches
        self.shards_per_epoch, self.seed, self.rank, self.every_h = shards_per_epoch, seed, rank, every_h
        self.select = select  # the training windows of a loaded store (default: every window, every_h apart)
        self.epoch = 0
        self.store: WindowStore | None = None  # the current epoch's windows (moved to the training device)
        self.loaded: list = []  # the current epoch's shard paths

    def __len__(self) -> int:
        return self.batches

    def load(self, epoch: int) -> np.ndarray:
        """Load the shards of ``epoch`` into ``store`` (host); (n,) global indices of its training windows."""
        self.loaded = epoch_shards(self.mine, epoch, self.shards_per_epoch)
        self.store = WindowStore(read_shards(self.loaded), self.history, self.horizon)
        if self.select is not None:
            index = self.select(self.store)
        else:
            index = np.concatenate([self.store.origins(k, every_h=self.every_h) for k in range(len(self.store.series))])
        if not len(index):
            raise ValueError(f"corpus shards {[str(p) for p in self.loaded]} hold no window with history "
                             f"{self.history} h and horizon {self.horizon} h")
        return index

    def __iter__(self):
        index = self.load(self.epoch)
        rng = np.random.default_rng((self.seed, self.rank, self.epoch))
        self.epoch += 1
        B = self.batch_size
        draw = np.resize(index[rng.permutation(len(index))], self.batches * B)
        for b in range(self.batches):
            yield torch.from_numpy(draw[b * B:(b + 1) * B])


class CorpusData(L.LightningDataModule):
    """Training windows streamed from a shard corpus (``forecast.data.corpus``): per epoch a rotating subset of
    this rank's shards in a WindowStore on the training device. ``shards``: a folder (every shard) or a list of
    shard paths. ``val=(store, index)``: validation windows of a store held in memory (split across ranks).
    ``rank`` / ``world`` default to the trainer's (DDP: each rank its own shards)."""

    def __init__(self, shards, history: int, horizon: int, batch_size: int, batches_per_epoch: int,
                 shards_per_epoch: int = 1, seed: int = 0, every_h: int = 1, rank: int | None = None,
                 world: int | None = None, select: Callable[[WindowStore], np.ndarray] | None = None,
                 val: tuple[WindowStore, np.ndarray] | None = None):
        super().__init__()
        self.shards, self.rank, self.world = shards, rank, world
        self.args = dict(history=history, horizon=horizon, batch_size=batch_size, batches=batches_per_epoch,
                         shards_per_epoch=shards_per_epoch, seed=seed, every_h=every_h, select=select)
        self.train_set: ShardEpochs | None = None
        self.val_store, self.val_set = (val[0], IndexBatches(val[1], batch_size * 2, shuffle=False)) if val else (None, None)

    def setup(self, stage: str | None = None):
        trainer = self.trainer
        rank = self.rank if self.rank is not None else (trainer.global_rank if trainer is not None else 0)
        world = self.world if self.world is not None else (trainer.world_size if trainer is not None else 1)
        paths = shard_paths(self.shards) if isinstance(self.shards, (str, Path)) else list(self.shards)
        self.train_set = ShardEpochs(paths, rank=rank, world=world, **self.args)

    def batches_per_epoch(self) -> int:
        return self.args["batches"]

    def train_dataloader(self):
        return torch.utils.data.DataLoader(self.train_set, batch_size=None, num_workers=0)

    def val_dataloader(self):
        if self.val_set is None:
            return []
        return torch.utils.data.DataLoader(self.val_set, batch_size=None, num_workers=0)

    def on_after_batch_transfer(self, batch, dataloader_idx):
        return batch_store(self.trainer, self.train_set.store, self.val_store).to(batch.device).gather(batch)


class ShardAudit(L.Callback):
    """After the first training epoch, count across ranks the windows seen and those seen by more than one rank.

    ``result`` = {"world_size", "train_windows_epoch0", "train_windows_overlap"}; overlap is 0 when the
    ranks' shards are disjoint. One all-reduce of an int32 map over the store's hours (4·N bytes), once.
    """

    def __init__(self, batches: IndexBatches, n_hours: int):
        self.batches, self.n_hours = batches, n_hours
        self.result: dict[str, float] = {}

    def on_train_epoch_end(self, trainer, pl_module):
        if self.result or self.batches.first_epoch_seen is None:
            return
        seen = np.bincount(self.batches.first_epoch_seen, minlength=self.n_hours)  # (N,) counts on this rank
        counts = torch.from_numpy(np.minimum(seen, 1).astype(np.uint8)).to(pl_module.device)
        world = trainer.world_size
        if world > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            counts = counts.to(torch.int32)  # sums of up to `world` ranks
            torch.distributed.all_reduce(counts)
        counts = counts.cpu().numpy()
        self.result = {"world_size": float(world), "train_windows_epoch0": float(counts.sum()),
                       "train_windows_overlap": float((counts > 1).sum())}


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (and dataloader workers) for a reproducible run."""
    L.seed_everything(seed, workers=True, verbose=False)


class EpochTimer(L.Callback):
    """Wall time per training epoch (synchronised on CUDA), for the throughput figures."""

    def __init__(self):
        self.times: list[float] = []
        self._t = 0.0

    @staticmethod
    def _sync() -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    def on_train_epoch_start(self, trainer, pl_module):
        self._sync()
        self._t = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):
        self._sync()
        self.times.append(time.perf_counter() - self._t)

    def median_epoch_s(self) -> float:
        return float(np.median(self.times)) if self.times else float("nan")

    def windows_per_s(self, per_epoch: int) -> float:
        # the first epoch carries warm-up (allocation, compilation): use the others when there are any
        t = self.times[1:] or self.times
        return float(per_epoch / np.median(t)) if t else float("nan")
