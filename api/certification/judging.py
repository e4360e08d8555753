"""The judgement of one uploaded clip: liveness, then the best frame against the person's
references. No database access: it runs between the claim and the recording transactions,
so no lock is held while frames are analysed."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from liveness.analyse import LivenessResult
from liveness.challenge import Challenge
from liveness.tracking import Track
from liveness.video import Clip, read_video
from matcher import MatcherError
from matcher.errors import Reason
from matcher.templates import Reference, compare_references

if TYPE_CHECKING:
    from api.certification.service import CertificationService


@dataclass(frozen=True)
class Judgement:
    """What the clip showed. ``error``: the clip could not be read at all (then no liveness)."""

    liveness: LivenessResult | None
    error: Reason | None
    score: float | None
    embedding: np.ndarray | None
    analysis_ms: float | None = None
    reference: dict[str, object] | None = None  # which reference matched best, and its age

    @property
    def live(self) -> bool:
        return self.liveness is not None and self.liveness.passed

    @property
    def referred(self) -> bool:
        """A check that sends the attempt to staff failed (``LivenessResult.referrals``)."""
        return self.liveness is not None and bool(self.liveness.referrals)


def judge_clip(
    svc: CertificationService, challenge: Challenge, clip_bytes: bytes, references: list[Reference]
) -> Judgement:
    with tempfile.NamedTemporaryFile(suffix=".clip") as tmp:
        tmp.write(clip_bytes)
        tmp.flush()
        try:
            clip = read_video(Path(tmp.name))
        except MatcherError as exc:
            return Judgement(liveness=None, error=exc.reason, score=None, embedding=None)
    return judge_frames(svc, challenge, clip, references)


def judge_frames(
    svc: CertificationService,
    challenge: Challenge,
    clip: Clip,
    references: list[Reference],
    *,
    track: Track | None = None,
) -> Judgement:
    """Liveness over decoded frames, then the best frame against the references. ``track``:
    the per-frame measures already taken (a live capture tracks as the frames arrive)."""
    t0 = time.perf_counter()
    result = svc.analyzer.analyse(clip, challenge, track=track)
    score: float | None = None
    best: dict[str, object] | None = None
    if result.best_embedding is not None and references:
        verdict = compare_references(result.best_embedding, references, svc.matcher.threshold, svc.today())
        score = verdict.best.score
        age = verdict.best.age_years
        best = {
            "reference_id": verdict.best.reference.label,
            "kind": verdict.best.reference.kind,
            "age_years": None if age is None else round(age, 1),
            "references": len(references),
        }
    return Judgement(
        liveness=result,
        error=None,
        score=score,
        embedding=result.best_embedding,
        analysis_ms=(time.perf_counter() - t0) * 1000,
        reference=best,
    )
