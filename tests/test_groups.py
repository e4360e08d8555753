"""Per-group error rates and the demographic differential, on scores built to a known answer."""

from __future__ import annotations

import math

import numpy as np
import pytest

from matcher.groups import differential, group_report, rates_by_group


def test_rates_per_group_and_fmr_ratio() -> None:
    # Group A: 1000 impostors, 50 at or above 0.4 (FMR 5 %); group B: 1000, 1 above (0.1 %).
    imp_a = np.r_[np.full(950, 0.1), np.full(50, 0.45)]
    imp_b = np.r_[np.full(999, 0.1), [0.5]]
    gen_a, gen_b = np.r_[np.full(9, 0.8), [0.3]], np.full(10, 0.8)
    scores = np.r_[imp_a, imp_b, gen_a, gen_b]
    same = np.r_[np.zeros(2000, bool), np.ones(20, bool)]
    labels = ["A"] * 1000 + ["B"] * 1000 + ["A"] * 10 + ["B"] * 10
    per = rates_by_group(scores, same, labels, 0.4)
    assert per["A"]["fmr"] == pytest.approx(0.05) and per["B"]["fmr"] == pytest.approx(0.001)
    assert per["A"]["fnmr"] == pytest.approx(0.1) and per["B"]["fnmr"] == 0.0
    d = differential(per)
    assert d["fmr_max_min"] == pytest.approx(50.0)
    assert (d["fmr_highest"], d["fmr_lowest"]) == ("A", "B")
    report = group_report(scores, same, {"population": labels}, 0.4)
    assert report["population"]["differential"]["fmr_max_min"] == pytest.approx(50.0)


def test_a_group_without_false_matches_gives_an_infinite_ratio_and_bounds_instead() -> None:
    scores = np.r_[np.full(10, 0.5), np.full(90, 0.1), np.full(100, 0.1)]
    same = np.zeros(200, bool)
    per = rates_by_group(scores, same, ["A"] * 100 + ["B"] * 100, 0.4)
    d = differential(per)
    assert math.isinf(d["fmr_max_min"])  # type: ignore[arg-type]
    assert d["fmr_upper_95_max_min"] is not None and 1 < d["fmr_upper_95_max_min"] < math.inf
    assert per["B"]["fnmr"] is None  # no genuine pairs: no rate, not 0


def test_unscored_pairs_are_left_out() -> None:
    scores = np.array([0.5, np.nan, 0.1])
    per = rates_by_group(scores, np.zeros(3, bool), ["A", "A", "A"], 0.4)
    assert per["A"]["impostor"] == 2 and per["A"]["fmr"] == 0.5
