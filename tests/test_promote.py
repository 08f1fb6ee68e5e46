"""Gated promotion: the serving alias only for a model that beats the champion and every baseline."""

from __future__ import annotations

from forecast.pipeline.promote import CHALLENGER, decide

BASE = {"naive_24h": 5.0, "naive_168h": 6.0, "physics": 7.0}


def test_a_model_better_than_everything_takes_the_alias():
    d = decide(4.0, BASE, 4.5, "champion version 3", "champion", force=False)
    assert d.promoted and d.alias == "champion"
    assert d.scores == {"new": 4.0, **BASE, "champion": 4.5}
    assert "champion version 3" in d.reason


def test_losing_to_a_baseline_makes_a_challenger_and_says_why():
    """The case that made a model 17× worse than copying yesterday the champion."""
    d = decide(10.1, {"naive_24h": 0.58, "physics": 12.0}, None, "no model holds power-forecaster@champion yet",
               "champion", force=False)
    assert not d.promoted and d.alias == CHALLENGER
    assert "10.100 MW is not below naive_24h's 0.580" in d.reason and "physics" not in d.reason.split(":")[1]
    assert "tracking.force_promote=true" in d.reason


def test_a_tie_with_the_champion_is_not_a_win():
    d = decide(4.0, BASE, 4.0, "champion version 1", "champion", force=False)
    assert d.alias == CHALLENGER and "champion's 4.000" in d.reason


def test_force_promotes_and_records_what_it_overrode():
    d = decide(9.0, BASE, 4.0, "champion version 1", "champion", force=True)
    assert d.promoted and d.alias == "champion"
    assert "force_promote" in d.reason and "naive_24h" in d.reason and "champion's 4.000" in d.reason
