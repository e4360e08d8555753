"""False-match rates far below 1e-3, from every impostor pair of a photo collection.

Why: a pairs protocol such as LFW View 2 holds 3,000 impostor pairs, so it measures FMR down
to about 1e-3 and no further. Screening a certification against the whole register (is this
face someone else on it?) compares one face with every enrolled person, so the rate that
matters there is per comparison and must be 1e-5 to 1e-6. Scoring every pair of images of
different people in the same collection turns LFW's 7,701 images into ~30 million impostor
comparisons, enough to read thresholds down to 1e-6.

Limits, reported with the numbers: the pairs share images, so they are not independent and
the confidence bound below is optimistic; the genuine pairs are dominated by the few people
with many photos; and LFW's people are public figures, mostly adult and mostly not East Asian,
so a register of Chinese retirees may sit elsewhere on the curve.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import beta

from matcher.evaluation import threshold_at_fmr

CONFIDENCE = 0.95


@dataclass(frozen=True)
class AllPairs:
    """Scores of every unordered pair of images: impostor (different people) and genuine."""

    impostor: np.ndarray
    genuine: np.ndarray
    # The highest-scoring impostor pairs as (image index, image index, score): look at these
    # first, since a mislabelled or duplicated photo shows up here.
    top_impostors: list[tuple[int, int, float]]


def all_pair_scores(embeddings: np.ndarray, identities: Sequence[str], top: int = 10) -> AllPairs:
    """Every pair's score (the matcher's score is the dot product of its embeddings)."""
    if embeddings.shape[0] != len(identities):
        raise ValueError("one identity per embedding")
    ids = np.unique(np.asarray(identities), return_inverse=True)[1]
    vectors = np.asarray(embeddings, dtype=np.float32)
    scores = vectors @ vectors.T
    impostor, genuine = [], []
    for i in range(len(ids) - 1):
        row, same = scores[i, i + 1 :], ids[i + 1 :] == ids[i]
        impostor.append(row[~same])
        genuine.append(row[same])
    # Only pairs of different people, each once, compete for the top list.
    scores[ids[:, None] == ids[None, :]] = -np.inf
    scores[np.tril_indices(len(ids))] = -np.inf
    flat = np.argpartition(scores, -top, axis=None)[-top:] if scores.size > top else np.arange(scores.size)
    best = sorted(
        ((int(k // len(ids)), int(k % len(ids)), float(scores.flat[k])) for k in flat),
        key=lambda pair: -pair[2],
    )
    return AllPairs(
        impostor=np.concatenate(impostor) if impostor else np.zeros(0, np.float32),
        genuine=np.concatenate(genuine) if genuine else np.zeros(0, np.float32),
        top_impostors=[p for p in best if np.isfinite(p[2])],
    )


def fmr_upper_bound(false_matches: int, comparisons: int) -> float:
    """One-sided Clopper-Pearson bound: with 0 of 30 million the FMR is still only below 1e-7."""
    if comparisons == 0 or false_matches >= comparisons:
        return 1.0
    return float(beta.ppf(CONFIDENCE, false_matches + 1, comparisons - false_matches))


def rates_at_threshold(pairs: AllPairs, threshold: float) -> dict[str, float | int]:
    false_matches = int(np.count_nonzero(pairs.impostor >= threshold))
    return {
        "threshold": float(threshold),
        "false_matches": false_matches,
        "fmr": false_matches / max(pairs.impostor.size, 1),
        "fmr_upper_95": fmr_upper_bound(false_matches, pairs.impostor.size),
        "tar": float(np.mean(pairs.genuine >= threshold)) if pairs.genuine.size else float("nan"),
    }


def identification_metrics(
    pairs: AllPairs, thresholds: dict[str, float], fmrs: Sequence[float] = (1e-3, 1e-4, 1e-5, 1e-6)
) -> dict[str, object]:
    """Rates at the named thresholds, and the threshold for each FMR the pairs can resolve
    (at least one impostor pair must be allowed above it)."""
    at_fmr = {}
    for fmr in fmrs:
        if fmr * pairs.impostor.size >= 1:
            at_fmr[f"{fmr:.0e}"] = rates_at_threshold(pairs, threshold_at_fmr(pairs.impostor, fmr))
    return {
        "impostor_pairs": int(pairs.impostor.size),
        "genuine_pairs": int(pairs.genuine.size),
        "impostor_max": float(pairs.impostor.max()) if pairs.impostor.size else float("nan"),
        "at_threshold": {name: rates_at_threshold(pairs, t) for name, t in thresholds.items()},
        "at_fmr": at_fmr,
    }
