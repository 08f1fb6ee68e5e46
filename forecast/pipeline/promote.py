"""Gated promotion: a newly trained model takes the serving alias only when it beats, on the same held-out
windows, the current champion and every baseline; otherwise it is registered under the challenger alias and
the reason is recorded with the run and printed. ``tracking.force_promote=true`` (``--force-promote``)
promotes regardless, and says so.

The score is the test-period MAE (MW) of the median; "beats" is strictly lower. The current champion is
loaded from the registry and scored by the same code on the same windows; a champion built for another
history or horizon cannot be scored on them, so the new model is then judged on the baselines alone (said).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from forecast import tracking
from forecast.config import Config
from forecast.data.inputs import Split
from forecast.data.windows import WindowStore
from forecast.models import registry
from forecast.models.device import Runtime
from forecast.models.inference import predict_windows, targets
from forecast.types import Quantiles

CHALLENGER = "challenger"


@dataclass
class Decision:
    alias: str  # the alias the new version gets
    promoted: bool
    reason: str
    scores: dict[str, float] = field(default_factory=dict)  # contender -> test MAE (MW), same windows


def champion_mae(cfg: Config, store: WindowStore, sp: Split, quant: Quantiles, rt: Runtime) -> tuple[float | None, str]:
    """The current champion's test MAE (MW) on the new model's test windows, or None and why not."""
    tc = cfg.tracking
    try:
        ref = tracking.resolve_alias(tc.model_name, tc.alias, tc.uri)
    except LookupError:
        return None, f"no model holds {tc.model_name}@{tc.alias} yet"
    path = tracking.download_artifact(ref.run_id, "checkpoint/forecaster.pt", tc.uri)
    model, meta = registry.load(path)
    if (int(meta["history_h"]), int(meta["horizon_h"])) != (store.history, store.horizon):
        return None, (f"the champion (version {ref.version}) uses history {meta['history_h']} h / horizon "
                      f"{meta['horizon_h']} h, not {store.history} / {store.horizon}: judged on the baselines only")
    y, scale = targets(store, sp.test)
    q = predict_windows(model, store, sp.test, rt) * scale[:, None, None]
    return float(np.abs(q[..., quant.median_index] - y * scale[:, None]).mean()), f"champion version {ref.version}"


def decide(new_mae: float, baselines: dict[str, float], champion: float | None, champion_note: str,
           alias: str, force: bool) -> Decision:
    """The alias for the new model from its MAE against the baselines' and the champion's (same windows)."""
    scores = {"new": new_mae, **baselines}
    if champion is not None:
        scores["champion"] = champion
    rivals = {k: v for k, v in scores.items() if k != "new"}
    lost_to = sorted(k for k, v in rivals.items() if not new_mae < v)
    if not lost_to:
        return Decision(alias, True, f"beats {', '.join(sorted(rivals))} on the test windows ({champion_note})", scores)
    why = "; ".join(f"MAE {new_mae:.3f} MW is not below {k}'s {rivals[k]:.3f}" for k in lost_to)
    if force:
        return Decision(alias, True, f"promoted by tracking.force_promote although {why}", scores)
    return Decision(CHALLENGER, False, f"registered as {CHALLENGER}, not {alias}: {why} ({champion_note}); "
                    "tracking.force_promote=true promotes it anyway", scores)


def gate(cfg: Config, metrics: dict[str, dict[str, float]], store: WindowStore, sp: Split, quant: Quantiles,
         rt: Runtime) -> Decision:
    """Score the current champion on the same windows and decide (``metrics``: holdout.evaluate's, MW)."""
    champ, note = champion_mae(cfg, store, sp, quant, rt)
    baselines = {k: v["mae"] for k, v in metrics.items() if k != "model"}
    return decide(metrics["model"]["mae"], baselines, champ, note, cfg.tracking.alias, cfg.tracking.force_promote)
