"""The price model's design procedure: one rule for every market, run on validation days only.

    forecast epf-bench --data PATH.csv --out DIR design=true        (this market's validation run)
    python scripts/bench_epf.py --design                             (PJM and DE, then the joint choice)

Validation period: the ``val_days`` days before a market's ``test_days``-day test period. The CSV is
cut before the test period (:func:`before_test`), so no test-period price or input is even read; the
rolling protocol of forecast.price.epf then forecasts the validation days one at a time with the
*superset* model (every candidate calibration window under both transforms, and the network), and
records each member's forecasts. Every candidate design is a choice over those recorded forecasts:

- the calibration windows (:data:`WINDOW_SETS`) and transforms (:data:`TRANSFORM_SETS`) of the LEAR
  members, with or without the network;
- the combination (equal, or 1/MAE or 1/MSE weights) with its window and power;
- the band: conformal quantiles on the last ``band_days`` errors.

Each candidate's combination is rebuilt day by day with forecast.price.combine (the code the live model
uses), each day weighted by earlier days only. :func:`choose` picks the point design with the least mean
rMAE (MAE / weekly-naive MAE, so markets of different price levels count alike) over the markets given,
then the band with the least mean CRPS / naive MAE. Network size is not searched here (one network
per refit is the superset's costliest part); it stays at the model's default.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forecast.config import ConfigError
from forecast.evaluation import metrics as M
from forecast.price.combine import conformal_quantiles, rolling_combination
from forecast.price.protocol import naive_weekly, run_bench
from forecast.price.readers import EPFData

VAL_DAYS = 364
WINDOWS = (56, 84, 182, 364, 728, 1092, 1456)
WINDOW_SETS = {"all": WINDOWS, "epftoolbox": (56, 84, 1092, 1456), "long": (364, 728, 1092, 1456)}
TRANSFORM_SETS = {"both": ("asinh", "npit"), "npit": ("npit",), "asinh": ("asinh",)}
# weights over 7 … 91 days, error^-1 … error^-6 (an earlier grid stopped at 28 days and ^2, and its best was there)
COMBINATIONS = [("equal", 14, 1.0)] + [(c, w, p) for c in ("inverse_mae", "inverse_mse") for w in (7, 14, 28, 42, 56, 91)
                                        for p in (1.0, 2.0, 3.0, 4.0, 6.0)]
BAND_DAYS = (28, 91, 182, 364)
BAND_LEVELS = (0.1, 0.5, 0.9)
# a design within this share of the best mean rMAE and with fewer members wins (each LEAR member is a
# daily refit: fewer members, a faster run, for a difference the validation days cannot tell apart)
TIE_SHARE = 0.001


@dataclass(frozen=True)
class Candidate:
    """One point design: which members, and how they are combined."""

    windows: str  # key of WINDOW_SETS
    transforms: str  # key of TRANSFORM_SETS
    net: bool
    combine: str
    weight_window: int
    weight_power: float

    def overrides(self) -> dict:
        """The PriceModelConfig fields of this design."""
        return {"windows": WINDOW_SETS[self.windows], "transforms": TRANSFORM_SETS[self.transforms],
                "net": self.net, "combine": self.combine, "weight_window": self.weight_window,
                "weight_power": self.weight_power}

    def label(self) -> str:
        w = "equal" if self.combine == "equal" else f"{self.combine} {self.weight_window}d ^{self.weight_power:g}"
        return f"windows={self.windows} transforms={self.transforms} net={'yes' if self.net else 'no'} {w}"


def candidates() -> list[Candidate]:
    return [Candidate(w, t, n, c, ww, p) for w, t, n, (c, ww, p) in
            itertools.product(WINDOW_SETS, TRANSFORM_SETS, (True, False), COMBINATIONS)]


def before_test(data: EPFData, test_days: int) -> EPFData:
    """The market without its last ``test_days`` days (the test period is never read by the design)."""
    keep = data.n_days - test_days
    if keep < 1:
        raise ValueError(f"{data.source}: {data.n_days} days leave nothing before a {test_days}-day test period")
    return dataclasses.replace(data, dates=data.dates[:keep], price=data.price[:keep], exog=data.exog[:keep])


def superset(cfg):
    """The model whose members contain every candidate's: all windows, both transforms, the network."""
    return dataclasses.replace(cfg, windows=WINDOWS, transforms=("asinh", "npit"), net=True, combine="equal")


def member_names(c: Candidate, names: list[str], asinh_min_window: int) -> list[str]:
    """The recorded members a candidate uses (LEAR names "lear_364" / "lear-npit_56", networks "net_0")."""
    wins, trans = WINDOW_SETS[c.windows], TRANSFORM_SETS[c.transforms]
    out = []
    for n in names:
        group, _, tail = n.partition("_")
        if group.startswith("net"):
            keep = c.net
        else:
            t, w = ("asinh" if group == "lear" else group.removeprefix("lear-")), int(tail)
            keep = t in trans and w in wins and (t != "asinh" or w >= asinh_min_window)
        if keep:
            out.append(n)
    return out


def validation_run(data: EPFData, cfg, test_days: int, val_days: int = VAL_DAYS, warmup: int = 28,
                   log_every: int = 0, model_factory=None) -> dict:
    """The rolling protocol on the validation days of one market with the superset model.

    Returns {"market", "names", "points" (N, M, 24) over warm-up + validation days, "y" (N, 24),
    "naive" (N, 24), "warmup", "val_start", "val_end", "runtime_s", "asinh_min_window"}."""
    cut = before_test(data, test_days)
    if cut.n_days - val_days - warmup < 8:  # a week of lags and one day of training before the first forecast
        room = cut.n_days - warmup - 8
        raise ConfigError("val_days", f"{data.source}: {cut.n_days} days before the {test_days}-day test period "
                          f"leave no history for {val_days} validation days and {warmup} warm-up days; a longer "
                          f"CSV, a shorter test_days or fewer val_days", str(room) if room >= 28 else None)
    res = run_bench(cut, superset(cfg), test_days=val_days + warmup, warmup=0, log_every=log_every,
                    model_factory=model_factory)
    names = list(res["members"])
    m = res["metrics"]
    return {"market": Path(data.source).stem, "names": names, "points": np.stack([res["members"][n] for n in names], 1),
            "y": res["y"], "naive": naive_weekly(cut.price, res["days"]), "warmup": warmup,
            "val_start": str(res["timestamps"][warmup, 0])[:10], "val_end": m["test_end"][:10],
            "runtime_s": m["runtime_s"], "asinh_min_window": cfg.asinh_min_window}


def network_run(data: EPFData, cfg, test_days: int, val_days: int = VAL_DAYS, warmup: int = 28) -> dict[str, np.ndarray]:
    """The networks alone (no LEAR member) on the days of :func:`validation_run`: each network member's point
    forecasts (N, 24) by name ("net_0", "net_1", …), to compare network settings (retraining, fine-tuning,
    transforms) with the LEAR members of a recorded run fixed."""
    cut = before_test(data, test_days)
    net_only = dataclasses.replace(cfg, windows=(), net=True, combine="equal")
    return run_bench(cut, net_only, test_days=val_days + warmup, warmup=0)["members"]


def with_networks(run: dict, nets: dict[str, np.ndarray]) -> dict:
    """A recorded validation run with its network members ("net…") replaced by ``nets`` (name -> (N, 24))."""
    bad = [k for k, v in nets.items() if not k.startswith("net") or v.shape != run["y"].shape]
    if not nets or bad:
        raise ValueError(f"{run['market']}: network members net_0, net_1, … of shape {run['y'].shape} are needed, "
                         f"got {', '.join(f'{k} {v.shape}' for k, v in nets.items()) or 'none'}")
    keep = [i for i, n in enumerate(run["names"]) if not n.startswith("net")]
    pts = np.concatenate([run["points"][:, keep], np.stack(list(nets.values()), 1)], 1)
    return {**run, "names": [run["names"][i] for i in keep] + list(nets), "points": pts}


def score_point(run: dict, c: Candidate, net_weight: float = 0.5) -> tuple[float, np.ndarray] | None:
    """(rMAE on the validation days, the combined forecast over all days) of candidate ``c`` on one
    validation run; None when the candidate has no member there."""
    names = member_names(c, run["names"], run["asinh_min_window"])
    if not names:
        return None
    idx = [run["names"].index(n) for n in names]
    labels = [n.split("_")[0] for n in names]
    f = rolling_combination(run["points"][:, idx], run["y"], labels, c.combine, c.weight_window, c.weight_power,
                            net_weight)
    s = slice(run["warmup"], None)
    return M.mae(run["y"][s], f[s]) / M.mae(run["y"][s], run["naive"][s]), f


def choose(runs: list[dict]) -> dict:
    """The design with the least mean validation rMAE over ``runs`` (of those within :data:`TIE_SHARE` of it,
    the one with the fewest members), then its band by mean CRPS / naive MAE.

    Returns {"settings" (PriceModelConfig fields), "point" (candidate label -> mean rMAE and per market,
    best first), "band" (band_days -> mean CRPS / naive MAE and per market), "markets"}."""
    table, best_f = {}, {}
    for c in candidates():
        scores = [score_point(r, c) for r in runs]
        if any(s is None for s in scores):
            continue
        per = {r["market"]: s[0] for r, s in zip(runs, scores)}
        table[c] = {"mean_rmae": float(np.mean(list(per.values()))), "rmae": per}
        best_f[c] = [s[1] for s in scores]
    order = sorted(table, key=lambda c: table[c]["mean_rmae"])
    size = {c: len(member_names(c, runs[0]["names"], runs[0]["asinh_min_window"])) for c in order}
    near = [c for c in order if table[c]["mean_rmae"] <= table[order[0]]["mean_rmae"] * (1 + TIE_SHARE)]
    best = min(near, key=lambda c: (size[c], table[c]["mean_rmae"]))
    band = {}
    for days in BAND_DAYS:
        per = {}
        for r, f in zip(runs, best_f[best]):
            q = conformal_quantiles(r["y"], f, BAND_LEVELS, days)
            s = slice(r["warmup"], None)
            per[r["market"]] = M.crps_from_quantiles(r["y"][s], q[s], BAND_LEVELS) / M.mae(r["y"][s], r["naive"][s])
        band[days] = {"mean_crps_rel": float(np.mean(list(per.values()))), "crps_rel": per}
    best_band = min(band, key=lambda k: band[k]["mean_crps_rel"])
    settings = {**best.overrides(), "band_days": best_band}
    return {"settings": settings, "chosen": best.label(), "markets": [r["market"] for r in runs],
            "point": {c.label(): {**table[c], "members": size[c]} for c in order},
            "band": {str(k): v for k, v in band.items()}}


def save_run(run: dict, out: Path) -> None:
    """The validation run as DIR/validation.npz (member forecasts) and DIR/validation.json (the rest)."""
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "validation.npz", points=run["points"], y=run["y"], naive=run["naive"])
    meta = {k: v for k, v in run.items() if k not in ("points", "y", "naive")}
    (out / "validation.json").write_text(json.dumps(meta, indent=2))


def load_run(folder: str | Path) -> dict:
    """A validation run saved by :func:`save_run` (``forecast epf-bench design=true``)."""
    folder = Path(folder)
    for name in ("validation.json", "validation.npz"):
        if not (folder / name).exists():
            raise FileNotFoundError(f"{folder / name}: no validation run there; run forecast epf-bench --data "
                                    f"MARKET.csv --out {folder} design=true first")
    run = json.loads((folder / "validation.json").read_text())
    with np.load(folder / "validation.npz") as z:
        run.update({k: z[k] for k in ("points", "y", "naive")})
    return run


def report(choice: dict, top: int = 8) -> str:
    """The chosen settings and the best point designs and bands, as printed lines."""
    mk = choice["markets"]
    lines = [f"design over {', '.join(mk)} (validation days only)", f"{'point design':<62} {'members':>7} "
             f"{'mean rMAE':>9} " + " ".join(f"{m:>8}" for m in mk)]
    for label, v in list(choice["point"].items())[:top]:
        lines.append(f"{label:<62} {v['members']:7d} {v['mean_rmae']:9.4f} "
                     + " ".join(f"{v['rmae'][m]:8.4f}" for m in mk))
    lines.append(f"{'band (conformal, days of errors)':<70} {'CRPS/nMAE':>9}")
    for k, v in choice["band"].items():
        lines.append(f"{k:<70} {v['mean_crps_rel']:9.4f} " + " ".join(f"{v['crps_rel'][m]:8.4f}" for m in mk))
    lines.append(f"chosen: {choice['chosen']} ({choice['point'][choice['chosen']]['members']} members), "
                 f"band_days={choice['settings']['band_days']}")
    return "\n".join(lines)
