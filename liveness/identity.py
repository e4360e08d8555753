"""One person throughout, and the frame to match against the ID photo.

A few sharp frames spread over the clip are embedded with the matcher's own embedder;
every pair must score above the matcher's operating threshold, so a clip spliced from two
people fails. The best frame (sharp, frontal, eyes open) is the one returned for the 1:1
match, which keeps liveness and identity bound to the same recording.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liveness.tracking import FrameMeasure, Track
from matcher import FaceMatcher

SAMPLES = 5
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
    segments = np.array_split(np.arange(len(usable)), min(SAMPLES, len(usable)))
    picks = [max((usable[i] for i in seg), key=lambda f: _frame_quality(f, open_level)) for seg in segments]
    embs = np.stack([matcher.embedder(f.crop) for f in picks])  # type: ignore[arg-type]
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
