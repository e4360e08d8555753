"""Metric code on scores whose answers are known by construction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from matcher.evaluation import (
    PairsFileError,
    kfold_accuracy,
    rates_at,
    read_pairs,
    roc_summary,
    score_fmr_table,
)


def test_perfect_separation_has_zero_eer_and_full_tar() -> None:
    scores = np.r_[np.linspace(0.6, 0.9, 500), np.linspace(-0.2, 0.2, 5000)]
    same = np.r_[np.ones(500, bool), np.zeros(5000, bool)]
    roc = roc_summary(scores, same)
    assert roc.eer == 0.0
    assert roc.auc == 1.0
    assert roc.tar_at_far["1e-03"] == 1.0
    # With 5000 impostors a FAR of 1e-4 is half a pair: not measurable, so None.
    assert roc.tar_at_far["1e-04"] is None


def test_eer_of_overlapping_uniforms() -> None:
    rng = np.random.default_rng(0)
    gen, imp = rng.uniform(0.2, 1.0, 20000), rng.uniform(0.0, 0.8, 20000)
    roc = roc_summary(np.r_[gen, imp], np.r_[np.ones(20000, bool), np.zeros(20000, bool)])
    # Crossing at 0.5: each distribution has 3/8 of its mass on the wrong side.
    assert roc.eer == pytest.approx(0.375, abs=0.01)


def test_rates_at_threshold() -> None:
    scores = np.array([0.9, 0.4, 0.35, 0.1])
    same = np.array([True, True, False, False])
    r = rates_at(scores, same, 0.38)
    assert r == {"threshold": 0.38, "fmr": 0.0, "fnmr": 0.0, "accuracy": 1.0}
    r = rates_at(scores, same, 0.5)
    assert r["fnmr"] == 0.5 and r["fmr"] == 0.0


def test_kfold_threshold_comes_from_the_other_folds() -> None:
    # Fold 1 alone would want a threshold near 0.75; the nine others say 0.5.
    folds = np.repeat(np.arange(1, 11), 4)
    scores = np.tile([0.9, 0.6, 0.4, 0.1], 10).astype(float)
    same = np.tile([True, True, False, False], 10)
    scores[:4] = [0.9, 0.8, 0.7, 0.1]  # fold 1: one impostor at 0.7
    same[:4] = [True, True, False, False]
    mean, _, thresholds = kfold_accuracy(scores, same, folds)
    assert thresholds[0] == pytest.approx(0.5)
    assert mean == pytest.approx((9 * 1.0 + 0.75) / 10)


def test_pairs_file_errors_name_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "p.csv"
    bad.write_text("a,b\nx,y\n")
    with pytest.raises(PairsFileError, match="missing columns"):
        read_pairs(bad)
    bad.write_text("file_a,file_b,same\nx,y,maybe\n")
    with pytest.raises(PairsFileError, match=":2:"):
        read_pairs(bad)
    good = tmp_path / "g.csv"
    good.write_text("file_a,file_b,same,set,fold,extra\nx,y,1,lfw,3,z\n")
    (pair,) = read_pairs(good)
    assert pair.same and pair.fold == 3 and pair.set == "lfw"


def test_eer_is_read_on_the_full_roc_not_the_thinned_one() -> None:
    # 3 of 20 genuine pairs score low (FNMR 15 % over a long stretch of thresholds while the
    # FMR falls from 35 % to 0). The EER is 15 %; scikit-learn's thinned ROC keeps only the
    # ends of that stretch, and the nearest point then read as an EER of 7.5 %.
    gen = np.r_[np.linspace(0.5, 0.9, 17), [0.1, 0.12, 0.14]]
    imp = np.r_[np.linspace(-0.2, 0.3, 188), np.linspace(0.15, 0.45, 12)]
    scores, same = np.r_[gen, imp], np.r_[np.ones(20, bool), np.zeros(200, bool)]
    roc = roc_summary(scores, same)
    assert roc.eer == pytest.approx(0.15, abs=0.005)
    # The definition, by brute force over every threshold.
    ts = np.unique(scores)
    fmr = np.array([np.mean(imp >= t) for t in ts])
    fnmr = np.array([np.mean(gen < t) for t in ts])
    k = int(np.argmin(np.abs(fmr - fnmr)))
    assert roc.eer == pytest.approx((fmr[k] + fnmr[k]) / 2, abs=0.005)


def test_extra_pair_columns_are_kept_for_group_reports(tmp_path: Path) -> None:
    f = tmp_path / "p.csv"
    f.write_text("file_a,file_b,same,population,age_band\na,b,1,east_asian,60-69\nc,d,0,other,\n")
    pairs = read_pairs(f)
    assert pairs[0].attr("population") == "east_asian" and pairs[0].attr("age_band") == "60-69"
    assert pairs[1].attr("population") == "other" and pairs[1].attr("age_band") == ""
    assert pairs[0].attr("missing") == ""


def test_score_scale_lists_fmr_at_each_score_and_score_at_each_fmr() -> None:
    imp = np.linspace(0.0, 0.4999, 10000)  # uniform: FMR(t) = 1 - t / 0.5
    gen = np.linspace(0.3, 0.9, 100)
    scale = score_fmr_table(np.r_[gen, imp], np.r_[np.ones(100, bool), np.zeros(10000, bool)])
    at = {r["threshold"]: r for r in scale["by_score"]}
    assert at[0.25]["fmr"] == pytest.approx(0.5, abs=1e-3)
    assert at[0.5]["false_matches"] == 0 and 0 < at[0.5]["fmr_upper_95"] < 5e-4
    by = {r["target_fmr"]: r for r in scale["by_fmr"]}
    assert set(by) == {1e-2, 1e-3, 1e-4}  # 1e-5 needs 100,000 impostor pairs
    assert by[1e-3]["false_matches"] <= 10 and by[1e-3]["threshold"] == pytest.approx(0.4995, abs=1e-3)
