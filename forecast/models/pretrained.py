"""The pretrained global power model: one TiDE trained on a varied corpus of series (``forecast pretrain``),
shipped with the package with its model card, and the start of the series benchmark's learned model.

Its inputs are those of ``forecast series-bench`` without known-future columns: the history channel (the
series divided by its scale, the standard deviation of its pre-test readings) and the six calendar channels,
168 h of history, 24 h ahead, quantiles P10/P50/P90. A series in those units is forecast zero-shot, or the
weights are the initial values of a fine-tuned model (:func:`build`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from forecast.io import atomic_write, atomic_write_text
from forecast.models.tide import TiDE

WEIGHTS_DIR = Path(__file__).with_name("weights")
DEFAULT = WEIGHTS_DIR / "power_tide_h24.pt"  # the shipped weights; the card beside it: power_tide_h24.json
N_CALENDAR = 6


@dataclass(frozen=True)
class Spec:
    """The architecture (and input layout) the weights belong to."""

    history: int = 168
    horizon: int = 24
    n_known: int = 0  # known-future columns beside the calendar
    hidden: int = 128
    temporal_hidden: int = 32
    dropout: float = 0.1
    levels: tuple[float, ...] = (0.1, 0.5, 0.9)

    def build(self) -> TiDE:
        return TiDE(history=self.history, horizon=self.horizon, n_hist=1 + self.n_known + N_CALENDAR,
                    n_fut=self.n_known + N_CALENDAR, n_quantiles=len(self.levels), median_index=len(self.levels) // 2,
                    hidden=self.hidden, dropout=self.dropout, temporal_hidden=self.temporal_hidden)


def card_path(weights: str | Path) -> Path:
    return Path(weights).with_suffix(".json")


def save(path: str | Path, model: TiDE, spec: Spec, card: dict) -> Path:
    """Weights (state dict and spec, no pickled objects) and the model card beside them, each written atomically."""
    path = Path(path)
    blob = {"spec": asdict(spec), "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    atomic_write(path, lambda tmp: torch.save(blob, tmp))
    atomic_write_text(card_path(path), json.dumps({"spec": asdict(spec), **card}, indent=1, default=str))
    return path


def available(path: str | Path = DEFAULT) -> bool:
    return Path(path).is_file()


def load(path: str | Path = DEFAULT) -> tuple[TiDE, Spec, dict]:
    """(model in eval mode, its spec, its card)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no pretrained weights (write them with `forecast pretrain`)")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    d = dict(blob["spec"])
    spec = Spec(**{**d, "levels": tuple(d["levels"])})
    model = spec.build()
    model.load_state_dict(blob["state_dict"])
    card = json.loads(card_path(path).read_text()) if card_path(path).is_file() else {}
    return model.eval(), spec, card


def matches(spec: Spec, history: int, horizon: int, n_known: int, levels: tuple[float, ...]) -> str:
    """"" when weights of ``spec`` fit a model of this layout, else why not (one phrase)."""
    want = {"history": history, "horizon": horizon, "n_known": n_known, "levels": tuple(levels)}
    have = {k: getattr(spec, k) for k in want}
    diff = [f"{k} {have[k]} (not {want[k]})" for k in want if have[k] != want[k]]
    return "the pretrained weights have " + ", ".join(diff) if diff else ""
