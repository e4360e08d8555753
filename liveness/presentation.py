"""Presentation-attack signals: a photo or screen held up, frozen or edited footage.

- Live motion: a print or a still on a screen can be moved, turned and zoomed, but its
  mouth and eyes do not change shape smoothly. A real face's mouth-opening series moves
  over a range and is smooth from frame to frame (lag-1 autocorrelation ~0.75-0.98 on our
  clips); landmark jitter on a moved photo is small and rough (~0.3-0.4).
- Frozen frames: consecutive frames that are practically identical.
- Continuity: the face's measurements in real footage change smoothly; shuffled footage
  does not (mean lag-1 autocorrelation of mouth, eyes and face position: >= 0.7 on every
  real clip, <= 0.15 shuffled), and a cut moves the face by more than half its width.
- Several faces for a long stretch.
- The faceplugin ``fr_liveness`` model's live probability, reported as a signal only: in
  research it rejected 16 of 61 real photos, so it never decides a verdict.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np

from liveness.tracking import Track
from liveness.video import Clip
from models import ModelRunner

# Two faces are "the same" when their mean absolute grey-level change is below 1 % of the face's
# grey-level spread: half a grey level on a well-lit face (spread ~50), the old absolute limit.
FROZEN_CONTRAST_SHARE = 0.01
FACE_SIDE = 64
LIVENESS_CROP_SCALE = 2.7
LIVENESS_SIZE = 128


@dataclass
class PresentationEvidence:
    mouth_range: float
    mouth_smoothness: float
    frozen_fraction: float
    smoothness: float
    jumps: int
    multi_face_s: float
    model_live_score: float | None

    def as_dict(self) -> dict[str, object]:
        return {
            "mouth_range": round(self.mouth_range, 4),
            "mouth_smoothness": round(self.mouth_smoothness, 3),
            "frozen_fraction": round(self.frozen_fraction, 3),
            "smoothness": round(self.smoothness, 3),
            "jumps": self.jumps,
            "several_faces_seconds": round(self.multi_face_s, 2),
            "fr_liveness_live_score": None
            if self.model_live_score is None
            else round(self.model_live_score, 3),
        }


def lag1_autocorrelation(x: np.ndarray) -> float:
    """How much each value resembles the previous one: ~1 smooth, ~0 shuffled or noise."""
    x = x[np.isfinite(x)]
    if x.size < 5:
        return 0.0
    x = x - x.mean()
    energy = float(np.sum(x * x))
    return float(np.sum(x[1:] * x[:-1]) / energy) if energy > 1e-12 else 0.0


def frozen_fraction(clip: Clip, track: Track) -> float:
    """Share of consecutive analysed frames whose face is practically unchanged.

    Measured on the tracked face, not the whole picture, and against the face's own contrast:
    a still background, a low-bitrate encoder that copies unchanged blocks from the previous
    frame, or a dim room (every difference shrinks with the exposure) made real footage look
    frozen when whole frames were compared in grey levels (BENCHMARKS.md, capture conditions).
    A still image replayed as video stays exactly frozen either way."""
    crops = []
    for f in track.frames:
        if f.box is None:
            continue
        x0, y0, x1, y1 = (round(float(v)) for v in f.box)
        h, w = clip.frames[f.index].shape[:2]
        region = clip.frames[f.index][max(0, y0) : min(h, y1), max(0, x0) : min(w, x1)]
        if region.size:
            crops.append(cv2.cvtColor(cv2.resize(region, (FACE_SIDE, FACE_SIDE)), cv2.COLOR_BGR2GRAY))
    if len(crops) < 2:
        return 1.0
    frozen = [
        float(np.mean(cv2.absdiff(a, b)))
        < FROZEN_CONTRAST_SHARE * max(float(np.std(a)), float(np.std(b)), 1.0)
        for a, b in itertools.pairwise(crops)
    ]
    return float(np.mean(frozen))


def continuity(track: Track) -> tuple[float, int]:
    """(smoothness, jumps): mean lag-1 autocorrelation of mouth, eyes and face centre, and
    the number of frame-to-frame moves larger than half the face width."""
    tracked = [f.box for f in track.frames if f.tracked and f.box is not None]
    if len(tracked) < 5:  # no face, or hardly any: nothing continuous to measure
        return 0.0, 0
    boxes = np.stack(tracked)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    size = float(np.median(boxes[:, 2] - boxes[:, 0]))
    jumps = int(np.sum(np.linalg.norm(np.diff(centre, axis=0), axis=1) > 0.5 * size))
    signals = [track.series("mar"), track.series("ear"), centre[:, 0], centre[:, 1]]
    return float(np.mean([lag1_autocorrelation(s) for s in signals])), jumps


def liveness_crop(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The 128x128 input of fr_liveness: the box grown 2.7x (less if the image is too small),
    shifted to stay inside the image rather than padded, as the package's own code does."""
    h, w = image.shape[:2]
    bw, bh = float(box[2] - box[0]), float(box[3] - box[1])
    scale = min((h - 1) / bh, (w - 1) / bw, LIVENESS_CROP_SCALE)
    nw, nh = bw * scale, bh * scale
    cx, cy = box[0] + bw / 2, box[1] + bh / 2
    x0 = float(np.clip(cx - nw / 2, 0, w - 1 - nw))
    y0 = float(np.clip(cy - nh / 2, 0, h - 1 - nh))
    region = image[int(y0) : int(y0 + nh), int(x0) : int(x0 + nw)]
    return cv2.resize(region, (LIVENESS_SIZE, LIVENESS_SIZE))


def liveness_model_score(runner: ModelRunner, image: np.ndarray, box: np.ndarray) -> float:
    """P(live) from fr_liveness (class 0 = live), softmax over its three logits.

    Channel order: the package's JavaScript feeds RGB, but BGR separated the six labelled
    spoof/live samples in ../shared/data/spoof better (all four attacks below 0.1 either
    way; the live ones higher with BGR), so BGR is used; BENCHMARKS.md reports the signal.
    """
    blob = liveness_crop(image, box).astype(np.float32).transpose(2, 0, 1)[None]
    logits = runner(blob)[0][0].astype(np.float64)
    p = np.exp(logits - logits.max())
    return float(p[0] / p.sum())
