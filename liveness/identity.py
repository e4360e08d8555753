"""One person throughout, and the frame to match against the ID photo.

Sharp frames spread evenly over the clip (one per half second, 6 to 12 of them) are
embedded with the matcher's own embedder; every pair must score above the matcher's
operating threshold, so a clip spliced from two people fails. Segments are short so that
no segment can hide the splice point (with 5 segments over a 10 s clip, a 1.5 s stretch of
one person was missed in the benchmark's first run). The best frame (sharp, frontal, eyes
open) is the one returned for the 1:1 match, which keeps liveness and identity bound to the
same recording.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liveness.tracking import FrameMeasure, Track
from matcher import FaceMatcher

SAMPLE_EVERY_S = 0.5
MIN_SAMPLES, MAX_SAMPLES = 6, 12
FRONTAL_YAW_DEG = 20.0


@dataclass
class IdentityEvidence:
    sample_frames: list[int]
    min_pair_score: float
    embeddings: np.ndarray
    best_frame: int
    best_embedding: np.ndarray

    def as_dict(self) -> dict[str, object]:
        return {
            "sample_frames": self.sample_frames,
            "min_pair_score": round(self.min_pair_score, 4),
            "best_frame": self.best_frame,
        }


def _frame_quality(f: FrameMeasure, open_level: float) -> float:
    frontal = 1.0 if abs(f.yaw) <= FRONTAL_YAW_DEG else 0.3
    eyes = 1.0 if f.ear >= 0.7 * open_level else 0.2
    return f.sharpness * frontal * eyes


def same_person(matcher: FaceMatcher, track: Track, open_level: float) -> IdentityEvidence | None:
    usable = [f for f in track.frames if f.tracked and f.crop is not None]
    if len(usable) < 2:
        return None
    span = usable[-1].t - usable[0].t
    count = int(np.clip(round(span / SAMPLE_EVERY_S), MIN_SAMPLES, MAX_SAMPLES))
    segments = [seg for seg in np.array_split(np.arange(len(usable)), min(count, len(usable))) if seg.size]
    picks = [max((usable[i] for i in seg), key=lambda f: _frame_quality(f, open_level)) for seg in segments]
    embs = np.stack([matcher.embedder(f.crop) for f in picks])
    scores = embs @ embs.T
    iu = np.triu_indices(len(picks), k=1)
    best_i = int(np.argmax([_frame_quality(f, open_level) for f in picks]))
    return IdentityEvidence(
        sample_frames=[f.index for f in picks],
        min_pair_score=float(scores[iu].min()),
        embeddings=embs,
        best_frame=picks[best_i].index,
        best_embedding=embs[best_i],
    )
