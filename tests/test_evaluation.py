"""Metric code on scores whose answers are known by construction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from matcher.evaluation import PairsFileError, kfold_accuracy, rates_at, read_pairs, roc_summary


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
