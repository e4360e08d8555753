"""Evidence from several images per decision: a live template from several frames, and a
comparison against several references (ID photo, earlier passed captures).

Why: one frame carries one pose, one blur, one expression; the mean of several sharp frames'
normalised embeddings cancels part of that noise (the direction common to the frames is the
person). And an ID photo may be decades old while last year's passed capture is recent, so a
comparison should say *which* reference matched and how old it is: staff reviewing a decision
need that, and a match only against a 20-year-old photo is weaker evidence than one against
a recent capture.

Pure computation: the caller picks the frames (sharp, passed the quality gate) and supplies
the references with their dates; nothing here knows people or storage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from matcher.embedding import l2_normalise


def live_template(embeddings: Sequence[np.ndarray]) -> np.ndarray:
    """Mean of the L2-normalised embeddings, renormalised (one vector, comparable by dot).

    For a fused preset each embedding is a weighted concatenation whose norm is 1; the mean of
    such vectors renormalised keeps the per-model weights only approximately, which measured
    no different (BENCHMARKS.md, issue 9).
    """
    if len(embeddings) == 0:
        raise ValueError("a template needs at least one embedding")
    stacked = l2_normalise(np.asarray(embeddings, dtype=np.float32))
    return l2_normalise(stacked.mean(axis=0))


@dataclass(frozen=True)
class Reference:
    """One stored face of the person: its embedding, what it is, and when it was taken."""

    embedding: np.ndarray
    kind: str  # e.g. "id_photo", "capture"
    taken: date | None = None
    label: str = ""  # the caller's id for it (a file name, a row id)


@dataclass(frozen=True)
class ReferenceScore:
    reference: Reference
    score: float
    age_years: float | None


@dataclass(frozen=True)
class MultiReferenceVerdict:
    """Every reference's score, the best one, and the decision at ``threshold``."""

    scores: tuple[ReferenceScore, ...]
    best: ReferenceScore
    threshold: float
    match: bool

    def as_dict(self) -> dict[str, object]:
        def one(s: ReferenceScore) -> dict[str, object]:
            return {
                "kind": s.reference.kind,
                "label": s.reference.label,
                "taken": s.reference.taken.isoformat() if s.reference.taken else None,
                "age_years": None if s.age_years is None else round(s.age_years, 1),
                "score": round(s.score, 4),
            }

        return {
            "match": self.match,
            "threshold": self.threshold,
            "best": one(self.best),
            "all": [one(s) for s in self.scores],
        }


def compare_references(
    probe: np.ndarray, references: Sequence[Reference], threshold: float, today: date | None = None
) -> MultiReferenceVerdict:
    """Score ``probe`` (a live template or one embedding) against every reference.

    The decision takes the best score. Taking the maximum over k references raises the FMR
    (at worst k times, for independent references); k is small here (ID photo plus a few of
    the person's own captures, which are highly correlated), and the issue-9 benchmark
    measures it. The threshold is the caller's: the calibration in force.
    """
    if not references:
        raise ValueError("at least one reference is needed")
    when = today or date.today()
    scored = tuple(
        ReferenceScore(
            r,
            float(np.dot(l2_normalise(probe), l2_normalise(r.embedding))),
            (when - r.taken).days / 365.25 if r.taken else None,
        )
        for r in references
    )
    best = max(scored, key=lambda s: s.score)
    return MultiReferenceVerdict(scored, best, threshold, best.score >= threshold)
