"""Every-pair impostor scoring (matcher/identification.py) on embeddings with known scores."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.identification import (
    all_pair_scores,
    fmr_upper_bound,
    identification_metrics,
    rates_at_threshold,
)


def _unit(*xy: float) -> np.ndarray:
    v = np.array(xy, dtype=np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def three_people() -> tuple[np.ndarray, list[str]]:
    # ann twice (nearly the same direction), bob twice, cyd once: 10 pairs, 2 of them genuine.
    vectors = np.stack(
        [_unit(1, 0, 0), _unit(0.99, 0.1, 0), _unit(0, 1, 0), _unit(0.1, 1, 0), _unit(0.6, 0, 0.8)]
    )
    return vectors, ["ann", "ann", "bob", "bob", "cyd"]


def test_every_pair_counted_once_and_split_by_identity(three_people: tuple[np.ndarray, list[str]]) -> None:
    vectors, who = three_people
    pairs = all_pair_scores(vectors, who, top=3)
    assert (pairs.impostor.size, pairs.genuine.size) == (8, 2)
    full = vectors @ vectors.T
    expected_genuine = sorted([full[0, 1], full[2, 3]])
    assert np.allclose(sorted(pairs.genuine), expected_genuine)
    assert np.isclose(pairs.impostor.sum() + pairs.genuine.sum(), full[np.triu_indices(5, 1)].sum())


def test_top_impostors_are_different_people_highest_first(three_people: tuple[np.ndarray, list[str]]) -> None:
    vectors, who = three_people
    top = all_pair_scores(vectors, who, top=3).top_impostors
    assert [s for *_, s in top] == sorted((s for *_, s in top), reverse=True)
    assert all(who[i] != who[j] and i < j for i, j, _ in top)
    # The closest pair of different people: ann's first photo and cyd (cosine 0.6).
    assert top[0][:2] == (0, 4) and top[0][2] == pytest.approx(0.6, abs=1e-6)


def test_rates_count_pairs_at_or_above_the_threshold(three_people: tuple[np.ndarray, list[str]]) -> None:
    pairs = all_pair_scores(*three_people)
    r = rates_at_threshold(pairs, 0.5)
    assert r["false_matches"] == int(np.sum(pairs.impostor >= 0.5)) == 2  # ann-cyd twice (0.6, 0.59)
    assert r["fmr"] == pytest.approx(2 / 8)
    assert r["tar"] == 1.0
    assert r["fmr_upper_95"] > r["fmr"]


def test_only_resolvable_fmrs_get_a_threshold(three_people: tuple[np.ndarray, list[str]]) -> None:
    # 8 impostor pairs: FMR 0.2 allows one of them above the threshold; 1e-3 allows none, so
    # these pairs cannot resolve it and it is left out rather than reported as 0.
    metrics = identification_metrics(all_pair_scores(*three_people), {"op": 0.5}, fmrs=(0.2, 1e-3))
    assert list(metrics["at_fmr"]) == ["2e-01"]
    assert metrics["at_fmr"]["2e-01"]["false_matches"] == 1
    assert metrics["at_threshold"]["op"]["false_matches"] == 2
    assert (metrics["impostor_pairs"], metrics["genuine_pairs"]) == (8, 2)


def test_upper_bound_with_no_false_match_is_about_three_over_n() -> None:
    assert fmr_upper_bound(0, 30_000_000) == pytest.approx(3 / 30_000_000, rel=0.01)
    assert fmr_upper_bound(0, 0) == 1.0


def test_one_identity_per_embedding_is_required() -> None:
    with pytest.raises(ValueError, match="one identity per embedding"):
        all_pair_scores(np.eye(3, dtype=np.float32), ["a", "b"])
