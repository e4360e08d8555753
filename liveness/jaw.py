"""Does the chin move with the mouth while the digits are read? A check against cut-out photos.

A real jaw opens the mouth: when the lips part to read a digit, the skin of the chin moves
down with them. In a cut-out photo (抠洞照片, GB/T 41987: person B's photo with holes at the
eyes and mouth, person A's real eyes and mouth behind) the mouth moves but the chin is paper,
moving only with the hand. FaceMesh cannot tell the two apart (it draws a chin that follows
the mouth), so this reads the pixels:

1. dense optical flow (OpenCV's Farneback) between consecutive analysed frames, in the two
   boxes below, resampled so that the face is ``FLOW_FACE_WIDTH`` pixels wide (the same work
   at every resolution: ~0.75 ms a frame pair);
2. its median vertical component in a box over the chin (below the mouth hole's reach) minus
   the same over the forehead (above the eye holes': paper in a cut-out, so the head's or the
   hand's motion is taken out), in face widths: the chin's own motion. Landmarks only place the
   boxes; they are not used to undo motion, because on a cut-out the eye landmarks follow the
   real eyes behind the holes;
3. the score is the correlation of that motion with the change of the mouth opening (MAR):
   positive on a real face (the chin goes down as the mouth opens), about zero on paper.

Only over the digits window: reading aloud is jaw work; smiles and lip shapes in free talk
move the mouth without the jaw (BENCHMARKS.md, "The jaw check").
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from liveness.tracking import FrameMeasure, Track
from liveness.video import Clip

# FaceMesh indices: lower-lip centre, chin tip, mouth corners, the face's sides.
LOWER_LIP, CHIN, MOUTH_R, MOUTH_L, SIDE_R, SIDE_L = 17, 152, 61, 291, 234, 454
FOREHEAD = (10, 151, 9, 108, 337, 67, 297)  # above the eye holes' reach: paper in a cut-out
FLOW_FACE_WIDTH = 128  # px the face's width is resampled to: the same work at every resolution
BOX_MARGIN = 6  # px (resampled) of context around each box for the flow
MIN_BOX_PIXELS = 30  # of a resampled box, for its median to mean something
MIN_PAIRS = 10  # frame pairs in the window with both boxes measured
MIN_MOUTH_STD = 1e-3  # of the MAR change per frame: below it the mouth did not move to read


@dataclass(frozen=True)
class JawEvidence:
    coupling: float  # correlation of the chin's own vertical motion with the mouth's opening
    pairs: int  # frame pairs it was measured on
    measured: bool  # enough pairs, and a mouth that moved: else no evidence either way

    def as_dict(self) -> dict[str, object]:
        return {
            "jaw_coupling": None if not self.measured else round(self.coupling, 3),
            "frame_pairs": self.pairs,
            "measured": self.measured,
        }


def _chin_box(shape: np.ndarray) -> tuple[float, float, float, float] | None:
    """The middle of the mouth's width, from 55 % of the way from the lower lip to the chin,
    to a little past the chin: below where a mouth hole reaches."""
    lip, chin = shape[LOWER_LIP], shape[CHIN]
    drop = float(chin[1] - lip[1])
    if drop <= 4:
        return None
    left, right = sorted((float(shape[MOUTH_R][0]), float(shape[MOUTH_L][0])))
    margin = 0.2 * (right - left)
    return left + margin, lip[1] + 0.55 * drop, right - margin, chin[1] + 0.1 * drop


def _forehead_box(shape: np.ndarray) -> tuple[float, float, float, float]:
    pts = shape[list(FOREHEAD)]
    return float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())


def _box_dy(
    before: np.ndarray, after: np.ndarray, box: tuple[float, float, float, float], scale: float
) -> float | None:
    """Median vertical flow (resampled pixels) inside ``box`` (frame pixels) between two frames.

    The flow is computed on the box and a thin margin only, resampled by ``scale``: a wider
    crop lets the flow of the mouth (or of a hole's edge) spread into the chin's box, and on
    the study's cut-outs a 12 px margin raised their score from -0.3 to +0.3."""
    h, w = after.shape[:2]
    pad = BOX_MARGIN / scale
    x0, y0 = max(0, int(box[0] - pad)), max(0, int(box[1] - pad))
    x1, y1 = min(w, int(box[2] + pad) + 1), min(h, int(box[3] + pad) + 1)
    size = (round((x1 - x0) * scale), round((y1 - y0) * scale))
    if min(size) < 2 * BOX_MARGIN + 4:
        return None
    a, b = (
        cv2.resize(cv2.cvtColor(f[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY), size, interpolation=cv2.INTER_AREA)
        for f in (before, after)
    )
    # An output buffer rather than None: OpenCV's stubs disagree between releases on whether
    # ``flow`` may be None, and with flags 0 its contents are not read as an initial guess.
    flow = cv2.calcOpticalFlowFarneback(a, b, np.empty((*a.shape, 2), np.float32), 0.5, 3, 11, 3, 5, 1.1, 0)
    bx0, by0 = max(round((box[0] - x0) * scale), 0), max(round((box[1] - y0) * scale), 0)
    bx1, by1 = round((box[2] - x0) * scale), round((box[3] - y0) * scale)
    part = flow[by0:by1, bx0:bx1, 1]
    return float(np.median(part)) if part.size >= MIN_BOX_PIXELS else None


def chin_motion(before: np.ndarray, after: np.ndarray, prev: FrameMeasure, cur: FrameMeasure) -> float:
    """The chin's vertical motion relative to the forehead from frame ``prev`` (image
    ``before``) to the next measured frame ``cur`` (``after``), in face widths; NaN when the
    face or a box cannot be measured on the pair. A live capture calls this as frames arrive."""
    if not (prev.tracked and cur.tracked and cur.shape is not None):
        return float("nan")
    if not (math.isfinite(prev.mar) and math.isfinite(cur.mar)):
        return float("nan")
    chin = _chin_box(cur.shape)
    width = float(np.linalg.norm(cur.shape[SIDE_L] - cur.shape[SIDE_R]))
    if chin is None or width < 16:
        return float("nan")
    scale = FLOW_FACE_WIDTH / width
    down = _box_dy(before, after, chin, scale)
    still = _box_dy(before, after, _forehead_box(cur.shape), scale)
    if down is None or still is None:
        return float("nan")
    return (down - still) / FLOW_FACE_WIDTH


def jaw_coupling(clip: Clip, track: Track, start_s: float, end_s: float) -> JawEvidence:
    """The chin-with-mouth correlation over the analysed frame pairs that end in [start_s, end_s]."""
    chin_v: list[float] = []
    mouth_v: list[float] = []
    for prev, cur in itertools.pairwise(track.frames):
        if not start_s <= cur.t <= end_s:
            continue
        motion = cur.chin_motion
        if motion is None:
            motion = chin_motion(clip.frames[prev.index], clip.frames[cur.index], prev, cur)
        if not math.isfinite(motion):
            continue
        chin_v.append(motion)
        mouth_v.append(cur.mar - prev.mar)
    pairs = len(chin_v)
    if pairs < MIN_PAIRS or float(np.std(mouth_v)) < MIN_MOUTH_STD:
        return JawEvidence(float("nan"), pairs, measured=False)
    if float(np.std(chin_v)) < 1e-9:  # the mouth moved and the chin not at all: paper
        return JawEvidence(0.0, pairs, measured=True)
    return JawEvidence(float(np.corrcoef(chin_v, mouth_v)[0, 1]), pairs, measured=True)
