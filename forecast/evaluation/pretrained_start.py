"""Where the series benchmark's learned model starts: the shipped pretrained weights (fine-tuned on the
series) when they fit its layout, else random weights; and the same weights as a zero-shot contender.

The weights fit when their history, horizon, known-future columns, quantile levels and width equal the
benchmark's; otherwise the benchmark starts from scratch and says why (``reason``, in metrics.json).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from forecast.models import pretrained


@dataclass
class Start:
    init: str  # "pretrained" (fine-tuned from the weights) | "scratch"
    model: nn.Module | None = None  # the pretrained model as loaded (eval mode); None when not usable
    spec: pretrained.Spec | None = None
    weights: str = ""
    reason: str = ""  # why the weights are not used ("" when they are, or were not asked for)
    card: dict = field(default_factory=dict)

    def record(self) -> dict:
        """For metrics.json: how the model started, from which weights (commit, creation, corpus size)."""
        c = self.card
        return {"init": self.init, "weights": self.weights, "reason": self.reason,
                "weights_commit": c.get("commit", ""), "weights_created": c.get("created", ""),
                "weights_corpus_series": c.get("corpus", {}).get("train", {}).get("series")}


def pretrained_start(init: str, weights: str, zero_shot: bool, hours: int, horizon: int, n_known: int,
                     levels: tuple[float, ...], hidden: int, dropout: float) -> Start:
    """The start of a model reading ``hours`` of history, ``horizon`` ahead, with ``n_known`` known columns."""
    if init != "pretrained" and not zero_shot:
        return Start("scratch")
    path = Path(weights) if weights else pretrained.DEFAULT
    if not pretrained.available(path):
        return Start("scratch", weights=str(path), reason=f"no pretrained weights at {path}")
    model, spec, card = pretrained.load(path)
    why = pretrained.matches(spec, hours, horizon, n_known, levels)
    if not why and (spec.hidden, spec.dropout) != (hidden, dropout):
        why = f"the pretrained weights have hidden {spec.hidden}, dropout {spec.dropout} (not {hidden}, {dropout})"
    if why:
        return Start("scratch", weights=str(path), reason=why, card=card)
    return Start(init, model, spec, str(path), "", card)


def fine_tune_start(start: Start) -> nn.Module:
    """A fresh copy of the pretrained model to train (its weights are the initial values)."""
    m = start.spec.build()
    m.load_state_dict(start.model.state_dict())
    return m
