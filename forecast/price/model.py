"""The day-ahead price model: LEAR ensemble over calibration windows and variance-stabilising
transforms (N-PIT by default, asinh on request) + monotone networks (one per transform; asinh by
default), combined per hour with weights 1/MAE⁶ on the last 42 forecast days, first within each group
(LEAR windows of one transform; networks), then between the groups (equal weights until 7 days exist).

``DayAheadModel.forecast_day(d)`` forecasts the 24 prices of day index ``d``
using only rows < d of the price array and rows <= d of the exogenous
(day-ahead forecast) array. It refits the LASSOs every ``lear_every`` days and
the network every ``net_every`` days, fine-tuning it every ``net_tune_every`` days in between; a
refit or a fine-tuning sees only days before ``d``.
Signs by role (``exog_roles``, forecast.price.roles): raising day d's load forecast of hour h never
lowers the price forecast of hour h, raising a supply (wind, solar, generation) forecast never
raises it. The LEAR members are non-decreasing in every hour's load and non-increasing in every
hour's supply (coefficients >= 0 and <= 0); the network is monotone in each hour's own load and
supply (forecast.models.price_net, fed the supply inputs negated), with the other hours' inputs
free to act either way; a free input enters both without a sign. The weights are non-negative and
do not depend on day d's inputs, so the combination keeps the property.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import lightning as L
import numpy as np
import torch

from forecast.config import OptimizerConfig
from forecast.models.lit import LitForecaster
from forecast.models.price_net import PriceNet
from forecast.price import lear
from forecast.price.combine import equal_combination, error_weights
from forecast.price.roles import ROLES, signs


COMBINE = ("equal", "inverse_mae", "inverse_mse")


@dataclass
class PriceModelConfig:
    """Defaults chosen on validation days only, the 364 days before each market's 728-day test period
    (PJM 2015-12-29 … 2016-12-26, DE 2015-01-05 … 2016-01-03). The windows, transforms, network on/off,
    combination, its window and power and the band by the design procedure (forecast.price.design,
    ``python scripts/bench_epf.py --design``) over PJM and DE together: least mean rMAE, band by mean CRPS /
    naive MAE. Then the networks' fine-tuning, transforms and size by the same choice with each network setting
    in place of the recorded network (``scripts/bench_epf.py --tune``), among the settings whose test-length run
    fits the 20-minute budget on the 2-core CPU: one asinh network fine-tuned weekly, with the N-PIT LEAR
    windows, 0.4086 (PJM 0.4385, DE 0.3787), against 0.4111 for the earlier defaults (one N-PIT network
    retrained every 112 days, both LEAR transforms); two networks (N-PIT and asinh) scored 0.4069 but took over
    20 minutes a market. Earlier, on PJM's validation year alone: the LASSO penalties by window length,
    tolerance 1e-3, the network's inputs, epochs and learning rate. Nothing was chosen on a test period."""

    windows: tuple[int, ...] = (56, 84, 182, 364, 728, 1092, 1456)
    alpha_long: float = 0.01  # LASSO penalty for windows >= 364 days (transformed scale)
    alpha_short: float = 0.03  # … for shorter windows (fewer days than features)
    lear_every: int = 1  # refit the LASSOs every k days
    # LEAR windows under each variance-stabilising transform (with the fine-tuned asinh network the design kept
    # N-PIT only)
    transforms: tuple[str, ...] = ("npit",)
    # asinh LEAR only on windows >= this (validation year: the shorter asinh windows added nothing beside
    # the N-PIT ones, 2.1226 vs 2.1306)
    asinh_min_window: int = 364
    # N-PIT LASSOs on windows >= 364 days: alpha_long·(364/window)^exponent (validation year, 1456 days:
    # 2.194 vs 2.250 at a flat 0.01; asinh LASSOs were best flat)
    npit_alpha_exponent: float = 1.0
    net: bool = True
    # retrain interval (days), set by the time budget, not by validation: on the shared 2-core CPU a training
    # took about 80 s in the validation runs, 28 trainings (every 28 days) alone would fill 20 minutes
    net_every: int = 112
    # between retrainings the network is fine-tuned every net_tune_every days (0: never) for net_tune_epochs epochs
    # at the constant rate net_tune_lr on its latest net_window days (the scale of its retraining kept);
    # chosen on the validation days (scripts/bench_epf.py --tune; README, "Design procedure")
    net_tune_every: int = 7
    net_tune_epochs: int = 4
    net_tune_lr: float = 3e-4
    net_window: int = 1456
    net_epochs: int = 40
    net_seeds: int = 1  # networks trained one after another (different seeds)
    net_members: int = 2  # members of each network, trained jointly as one batched ensemble
    net_hidden: int = 256
    net_context: int = 128  # per-hour context width of the network
    # one network per variance-stabilising transform (forecast.price.lear), members net_0, net_1, … in this order
    # (each with net_seeds seeds), weighted among themselves by their recent errors like the LEAR members
    net_transforms: tuple[str, ...] = ("asinh",)
    net_dropout: float = 0.1
    net_weight_decay: float = 0.0
    net_weight: float = 0.5  # weight of the network in the equal-weight average (LEAR gets the rest)
    # "equal" | "inverse_mae" | "inverse_mse": per-hour weights ∝ (error over the last weight_window days)^-weight_power.
    # Design procedure, mean validation rMAE over PJM and DE with the members as here (N-PIT LEAR, the fine-tuned
    # asinh network): 1/MAE^6 over 42 days 0.4074, 1/MAE^4 over 42 days 0.4075, 1/MSE² over 28 days 0.4086 (the
    # best of the earlier grid, up to 28 days and ^2); README for the rest
    combine: str = "inverse_mae"
    weight_window: int = 42
    weight_power: float = 6.0
    levels: tuple[float, ...] = (0.1, 0.5, 0.9)
    # quantiles: the point plus per-hour quantiles of its errors on the last band_days days (conformal on recent
    # errors); design procedure, mean validation CRPS / naive MAE: 28 d 0.2761, 91 d 0.2740, 182 d 0.2755, 364 d 0.2757
    band_days: int = 91
    # one role per exogenous input, load | supply | free (forecast.price.roles); () = inferred from the
    # column names by forecast epf-bench; a bare-array DayAheadModel reads () as every input load-like
    exog_roles: tuple[str, ...] = ()
    batch_size: int = 32
    lr: float = 1e-3
    accelerator: str = "auto"
    seed: int = 0

    def __post_init__(self):
        self.windows = tuple(int(w) for w in self.windows)
        self.transforms = tuple(str(t) for t in self.transforms)
        self.net_transforms = tuple(str(t) for t in self.net_transforms)
        bad = [t for t in (*self.transforms, *self.net_transforms) if t not in lear.TRANSFORMS]
        if bad or (self.windows and not self.transforms) or (self.net and not self.net_transforms):
            raise ValueError(f"price model: transforms and net_transforms must be non-empty subsets of "
                             f"{', '.join(lear.TRANSFORMS)}, got transforms={self.transforms}, "
                             f"net_transforms={self.net_transforms}")
        if self.windows and not self.lear_members():
            raise ValueError(f"price model: no LEAR member: asinh takes only windows >= asinh_min_window="
                             f"{self.asinh_min_window} (windows {self.windows}); lower it or add transform npit")
        self.levels = tuple(float(q) for q in self.levels)
        bad_roles = [r for r in self.exog_roles if r not in ROLES]
        if bad_roles:
            raise ValueError(f"price model: exog_roles must each be one of {', '.join(ROLES)}, got {bad_roles[0]!r}")
        self.exog_roles = tuple(str(r) for r in self.exog_roles)
        if not self.windows and not self.net:
            raise ValueError("price model: give at least one LEAR window (windows=...) or enable the network (net=true)")
        if any(w < 7 for w in self.windows):
            raise ValueError(f"price model: windows must be >= 7 days, got {self.windows}")
        if 0.5 not in self.levels:
            raise ValueError(f"price model: levels must include 0.5, got {self.levels}")
        if self.combine not in COMBINE:
            raise ValueError(f"price model: combine must be one of {', '.join(COMBINE)}, got {self.combine!r}")
        if self.weight_window < 7 or self.weight_power <= 0:
            raise ValueError(f"price model: weight_window must be >= 7 and weight_power > 0, got "
                             f"{self.weight_window} and {self.weight_power}")
        if self.band_days < 7:
            raise ValueError(f"price model: band_days must be >= 7, got {self.band_days}")
        if self.net_tune_every < 0 or self.net_tune_epochs < 1 or not 0 < self.net_tune_lr < 1:
            raise ValueError(f"price model: net_tune_every must be >= 0 (0: never), net_tune_epochs >= 1 and "
                             f"net_tune_lr in (0, 1), got {self.net_tune_every}, {self.net_tune_epochs} and "
                             f"{self.net_tune_lr}")
        if not 0.0 <= self.net_weight <= 1.0:
            raise ValueError(f"price model: net_weight must be in [0, 1], got {self.net_weight}")

    def alpha(self, window: int, transform: str = "asinh") -> float:
        """LASSO penalty of one LEAR member (on its transformed scale)."""
        if window < 364:
            return self.alpha_short
        if transform == "npit":
            return self.alpha_long * (364 / window) ** self.npit_alpha_exponent
        return self.alpha_long

    def lear_members(self) -> dict[str, tuple[str, int]]:
        """Member name -> (transform, window): "lear_364" (asinh), "lear-npit_56" (N-PIT); the part before
        "_" is the member's group in the weights. asinh only on windows >= asinh_min_window."""
        return {(f"lear_{w}" if t == "asinh" else f"lear-{t}_{w}"): (t, w) for t in self.transforms
                for w in self.windows if t != "asinh" or w >= self.asinh_min_window}


def day_tensors(price: np.ndarray, exog: np.ndarray, dow: np.ndarray, days: np.ndarray, scaler: lear.Scaler,
                roles: tuple[str, ...] | None = None):
    """Network inputs for target days, on the window's transformed scale: x_free (N, F − 24·Kc), the LEAR
    day features without day d's Kc sign-constrained inputs, and x_load (N, 24, Kc), those inputs
    oriented so the price rises with them (load as is, supply negated). ``roles`` None: every input
    load-like. With no constrained input x_load is one column of zeros (the network needs one)."""
    K = exog.shape[2]
    sg = signs(roles if roles is not None else ("load",) * K)
    X = lear.design(price, exog, dow, days, scaler)  # (N, F)
    cols = lear.own_exog_columns(K)
    own = (cols >= 0) & (sg[np.maximum(cols, 0)] != 0)
    kc = int((sg != 0).sum())
    if kc == 0:
        x_load = np.zeros((len(days), 24, 1))
    else:
        x_load = (X[:, own] * sg[cols[own]]).reshape(len(days), kc, 24).transpose(0, 2, 1)  # (N, 24, Kc)
    return (torch.tensor(X[:, ~own], dtype=torch.float32),
            torch.tensor(np.ascontiguousarray(x_load), dtype=torch.float32))


class _Batches(torch.utils.data.Dataset):
    def __init__(self, x_hist, x_fut, y):
        self.x_hist, self.x_fut, self.y = x_hist, x_fut, y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"x_hist": self.x_hist[i], "x_fut": self.x_fut[i], "y": self.y[i]}


def train_net(price, exog, dow, train_days: np.ndarray, cfg: PriceModelConfig, seed: int,
              roles: tuple[str, ...] | None = None, transform: str | None = None):
    """Train one PriceNet with the project's LightningModule on days ``train_days``, on the scale of
    ``transform`` (default: the first of ``cfg.net_transforms``); returns (net, scaler)."""
    lo = int(train_days.min()) - lear.MAX_LAG
    hi = int(train_days.max()) + 1
    scaler = lear.Scaler.fit(price[lo:hi], exog[lo:hi], transform or cfg.net_transforms[0])
    xh, xf, y = _training_tensors(price, exog, dow, train_days, scaler, roles)
    L.seed_everything(seed, workers=False, verbose=False)
    net = PriceNet(n_free=xh.shape[1], n_exog=xf.shape[2], levels=cfg.levels, hidden=cfg.net_hidden,
                   context=cfg.net_context, dropout=cfg.net_dropout, members=cfg.net_members)
    opt = OptimizerConfig(lr=cfg.lr, weight_decay=cfg.net_weight_decay, scheduler="onecycle")
    return _fit(net, (xh, xf, y), cfg, opt, cfg.net_epochs, seed), scaler


def _training_tensors(price, exog, dow, days: np.ndarray, scaler: lear.Scaler, roles):
    """(x_free, x_load, y) of ``days`` on ``scaler``'s scale: the network's inputs and transformed prices (N, 24)."""
    xh, xf = day_tensors(price, exog, dow, days, scaler, roles)
    return xh, xf, torch.tensor(scaler.price(price[days]), dtype=torch.float32)


def tune_net(net: PriceNet, scaler: lear.Scaler, price, exog, dow, train_days: np.ndarray, cfg: PriceModelConfig,
             seed: int, roles: tuple[str, ...] | None = None) -> PriceNet:
    """Fine-tune a trained PriceNet in place on days ``train_days`` (its latest window): ``net_tune_epochs``
    epochs at the constant rate ``net_tune_lr``, on the scale of its last training (``scaler`` kept, so its
    inputs mean what they meant). The structure, and so the sign of each role's response, is unchanged."""
    tensors = _training_tensors(price, exog, dow, train_days, scaler, roles)
    L.seed_everything(seed, workers=False, verbose=False)
    opt = OptimizerConfig(lr=cfg.net_tune_lr, weight_decay=cfg.net_weight_decay, scheduler="none")
    return _fit(net, tensors, cfg, opt, cfg.net_tune_epochs, seed)


def _fit(net: PriceNet, tensors: tuple, cfg: PriceModelConfig, opt: OptimizerConfig, epochs: int,
         seed: int) -> PriceNet:
    """``epochs`` epochs of the pinball loss on (x_free, x_load, y), shuffled (seeded), through LitForecaster."""
    steps = max(1, len(tensors[2]) // cfg.batch_size)
    lit = LitForecaster(net, cfg.levels, opt, steps_per_epoch=steps, max_epochs=epochs)
    loader = torch.utils.data.DataLoader(_Batches(*tensors), batch_size=cfg.batch_size, shuffle=True,
                                         drop_last=True, generator=torch.Generator().manual_seed(seed))
    accel = cfg.accelerator if cfg.accelerator != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    trainer = L.Trainer(accelerator=accel, devices=1, max_epochs=epochs, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0, limit_val_batches=0, gradient_clip_val=1.0)
    net.train()  # a tuned network comes back in eval mode; Lightning keeps each module's mode as it finds it
    trainer.fit(lit, train_dataloaders=loader)
    return net.cpu().eval()


@dataclass
class DayAheadModel:
    """Rolling day-ahead forecaster over an epftoolbox-layout market (see forecast.price.readers.EPFData)."""

    price: np.ndarray  # (D, 24)
    exog: np.ndarray  # (D, 24, K)
    dow: np.ndarray  # (D,)
    cfg: PriceModelConfig = field(default_factory=PriceModelConfig)

    def __post_init__(self):
        K = self.exog.shape[2]
        self.roles = self.cfg.exog_roles or ("load",) * K
        if len(self.roles) != K:
            raise ValueError(f"price model: {len(self.roles)} exog_roles for {K} exogenous inputs")
        self.signs = lear.coef_signs(self.roles)
        # one LASSO per (transform, window), kept for warm starts; member names "lear_56" (asinh),
        # "lear-npit_56" (N-PIT): the part before "_" is the member's group in the weights
        self._lear_spec = self.cfg.lear_members()
        self._lasso = {name: lear.make_lasso(self.cfg.alpha(w, t)) for name, (t, w) in self._lear_spec.items()}
        self._lear: dict[str, lear.LinearFit] = {}
        self._lear_day = -10**9
        self._nets: list = []
        self._net_day = -10**9
        self._tune_day = -10**9  # the last fine-tuning (or training) of the networks
        self._history: dict[int, np.ndarray] = {}  # day -> member point forecasts (M, 24), for the weights
        self._member_names: list[str] = []  # names of the rows of the latest _history entry

    def _train_days(self, d: int, window: int) -> np.ndarray:
        return np.arange(max(lear.MAX_LAG, d - window), d)

    def refit(self, d: int) -> None:
        """Refit what is due for forecasting day ``d`` (uses days < d only): the LASSOs every ``lear_every``
        days, the networks every ``net_every`` days, and between those the networks fine-tuned every
        ``net_tune_every`` days."""
        c = self.cfg
        if d - self._lear_day >= c.lear_every:
            self._lear = {name: lear.fit_window(self.price, self.exog, self.dow, self._train_days(d, w), self._lasso[name],
                                                self.signs, t) for name, (t, w) in self._lear_spec.items()}
            self._lear_day = d
        if c.net and d - self._net_day >= c.net_every:
            tr = self._train_days(d, c.net_window)
            self._nets = [train_net(self.price, self.exog, self.dow, tr, c, seed, self.roles, t)
                          for t, seed in self._net_specs()]
            self._net_day = self._tune_day = d
        elif c.net and c.net_tune_every and self._nets and d - self._tune_day >= c.net_tune_every:
            tr = self._train_days(d, c.net_window)
            for (net, sc), (_, seed) in zip(self._nets, self._net_specs()):  # each network on its own seed
                tune_net(net, sc, self.price, self.exog, self.dow, tr, c, seed + d, self.roles)
            self._tune_day = d

    def _net_specs(self) -> list[tuple[str, int]]:
        """(transform, seed) of each network, in member order: every transform with net_seeds seeds each. A
        network's training and fine-tunings follow from its own seed, so it does not depend on the others."""
        return [(t, self.cfg.seed + s) for t in self.cfg.net_transforms for s in range(self.cfg.net_seeds)]

    def members(self, d: int, exog_d: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Per-member forecasts of day d in $/MWh: LEAR windows (24,), networks (24, Q).

        ``exog_d`` (24, K) replaces day d's exogenous forecasts (for what-if and monotonicity checks).
        """
        exog = self.exog
        if exog_d is not None:
            exog = exog.copy()
            exog[d] = exog_d
        days = np.array([d])
        out = {}
        for name, fit in self._lear.items():
            X = lear.design(self.price, exog, self.dow, days, fit.scaler)
            out[name] = fit.scaler.inverse_price(fit.predict_z(X))[0]
        for i, (net, sc) in enumerate(self._nets):
            xh, xf = day_tensors(self.price, exog, self.dow, days, sc, self.roles)
            z = net.predict(xh, xf)[0].numpy().astype(np.float64)  # (24, Q)
            out[f"net_{i}"] = sc.inverse_price(z.T).T  # (24, Q)
        return out

    def _points(self, members: dict[str, np.ndarray]) -> np.ndarray:
        """Member point forecasts (M, 24): LEAR windows, then network medians."""
        mi = self.cfg.levels.index(0.5)
        return np.stack([v if v.ndim == 1 else v[:, mi] for v in members.values()])

    def weights(self, d: int, groups: list[str] | None = None) -> np.ndarray | None:
        """Per-hour member weights (M, 24) from errors on the last ``weight_window`` forecast days before d
        (their prices are known at d); None -> equal weighting. Independent of day d's inputs.

        Two levels, each per hour with weights ∝ error^-weight_power (error = MAE for "inverse_mae",
        MSE for "inverse_mse"): members within their group (``groups[i]``, e.g. "lear" or "net"), then
        the groups' combined forecasts against each other. So seven LEAR windows do not outvote one
        network seven to one; the evidence decides the split. ``groups=None`` puts every member in one
        group.
        """
        if self.cfg.combine == "equal":
            return None
        past = sorted(p for p in self._history if p < d)[-self.cfg.weight_window:]
        if past:
            m = self._history[past[-1]].shape[0]
            past = [p for p in past if self._history[p].shape[0] == m]  # same member set only
        if len(past) < 7:
            return None
        hist = np.stack([self._history[p] for p in past])  # (T, M, 24)
        labels = list(groups) if groups is not None else ["all"] * hist.shape[1]

        order = 2 if self.cfg.combine == "inverse_mse" else 1
        return error_weights(hist, self.price[past], labels, order, self.cfg.weight_power)

    def combine(self, members: dict[str, np.ndarray], weights: np.ndarray | None = None) -> np.ndarray:
        """Point forecast (24,): weighted members, or the mean of LEAR members and of network medians."""
        if weights is not None:
            return (weights * self._points(members)).sum(0)
        return equal_combination(self._points(members), list(members), self.cfg.net_weight)

    def forecast_day(self, d: int, exog_d: np.ndarray | None = None) -> np.ndarray:
        """24 prices of day d ($/MWh); records the members (unless a what-if) for later weights."""
        self.refit(d)
        members = self.members(d, exog_d)
        w = self.weights(d, [k.split("_")[0] for k in members])
        if exog_d is None:
            self._history[d] = self._points(members)
            self._member_names = list(members)
        return self.combine(members, w)

    def member_points(self, days: np.ndarray) -> dict[str, np.ndarray] | None:
        """Each member's recorded point forecasts of ``days``: name -> (len(days), 24); None unless every
        day was forecast with the current member set."""
        names = self._member_names
        if not names or not all(d in self._history and self._history[d].shape[0] == len(names) for d in days):
            return None
        return {n: np.stack([self._history[d][j] for d in days]) for j, n in enumerate(names)}
