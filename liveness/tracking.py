"""Follow one face through a clip and measure it on every analysed frame.

Per frame: how many faces are visible, the tracked face's box, its eye openness (Iris
eyelids), mouth opening (FaceMesh inner lips), head pose, and the sharpness of its aligned
crop. The tracked face is the one that overlaps the previous box. Not every model runs on
every frame: the Iris eye model runs only where a blink can be, and (opt-in) FaceMesh can
follow the face with its own landmarks while the detector runs every few frames
(``FaceTracker`` says what each costs in accuracy; BENCHMARKS.md "Cost per certification").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from liveness.video import Clip
from matcher import FaceMatcher
from matcher.alignment import align_face
from matcher.detection import Detection
from matcher.landmarks import FaceMesh, Roi, roi_from_detection
from matcher.quality import sharpness_of

# Inner-lip points of FaceMesh: upper and lower lip centre, both inner corners.
LIP_UPPER, LIP_LOWER, LIP_CORNER_R, LIP_CORNER_L = 13, 14, 78, 308
MIN_PRESENCE = 0.5
STAGES = ("detect", "mesh", "eyes", "align")
# Frames between detector runs. 1 (the default): the detector places FaceMesh on every frame.
# FOLLOW_DETECT_EVERY (opt-in): the mesh follows the face from frame to frame and the detector
# runs every 5th frame (0.2 s at 25 fps); NOT the default: on the GRID clips filmed hand-held
# (the attack builder's pan, zoom and tremor) it failed read_digits on 15 of 30 where the
# detector on every frame failed 10 (BENCHMARKS.md, "Cost per certification").
DETECT_EVERY = 1
FOLLOW_DETECT_EVERY = 5
# The mesh follows the face from frame to frame unless the eyes' midpoint moved more than
# this share of the eye distance, or the eye distance changed by more than this log ratio:
# then the detector runs on that frame (a face swap, a cut, a fast turn).
MAX_FOLLOW_MOVE = 0.5
MAX_FOLLOW_SCALE = 0.15
# Eyes are steady (the Iris model may skip the next frame) when the more open eye is at
# least EYE_ALERT of its 80th percentile over the last OPEN_WINDOW_S measured seconds and
# moved less than EYE_STEP of it since the previous measured frame, STEADY_FRAMES times in
# a row. The blink detector closes at 75 % and reopens at 85 % of a similar level.
EYE_ALERT = 0.92
EYE_STEP = 0.06
STEADY_FRAMES = 2
OPEN_WINDOW_S = 1.0

T = TypeVar("T")


@dataclass
class FrameMeasure:
    index: int
    t: float
    faces: int
    tracked: bool
    box: np.ndarray | None = None
    ear: float = float("nan")  # mean of both eyes
    ear_open_eye: float = float("nan")  # the more open eye: a blink closes both
    mar: float = float("nan")
    yaw: float = float("nan")
    pitch: float = float("nan")
    sharpness: float = 0.0
    crop: np.ndarray | None = None
    shape: np.ndarray | None = None  # (468, 2) landmark positions in pixels
    eyes_interpolated: bool = False  # ear values between the neighbours' (Iris skipped)
    # The chin's own vertical motion since the previous measured frame (liveness/jaw.py), when
    # a live capture measured it as the frame arrived: NaN where it could not be measured,
    # None where nobody computed it yet (the check then computes it from the frames).
    chin_motion: float | None = None


@dataclass
class Track:
    frames: list[FrameMeasure]
    timings_ms: dict[str, float] = field(default_factory=dict)
    cpu_ms: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    def series(self, name: str) -> np.ndarray:
        return np.array([getattr(f, name) for f in self.frames], dtype=np.float64)

    @property
    def times(self) -> np.ndarray:
        return self.series("t")


def mouth_aspect_ratio(points: np.ndarray) -> float:
    gap = np.linalg.norm(points[LIP_UPPER, :2] - points[LIP_LOWER, :2])
    width = np.linalg.norm(points[LIP_CORNER_R, :2] - points[LIP_CORNER_L, :2])
    return float(gap) / max(float(width), 1e-6)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _pick(faces: list[Detection], previous: np.ndarray | None, shape: tuple[int, ...]) -> Detection:
    if previous is not None:
        best = max(faces, key=lambda f: _iou(f.box, previous))
        if _iou(best.box, previous) > 0.2:
            return best
    from matcher.pipeline import choose_face

    return choose_face(faces, shape)


class _Anchor:
    """Where the detector put the face, relative to the mesh's eyes on the same frame.

    Between detector runs, the next frame's FaceMesh ROI and the reported box are placed
    from the previous frame's mesh with these offsets (MediaPipe's own face-mesh pipeline
    follows the face with its landmarks the same way). Measured in the eyes' frame (origin
    at their midpoint, x along them, unit = their distance), so the box and ROI move, turn
    and scale with the face and equal the detector's exactly on the frame it ran.
    """

    def __init__(self, det: Detection, mesh: FaceMesh) -> None:
        origin, axis, scale = _eye_frame(mesh)
        roi = roi_from_detection(det)
        self.roi_centre = _to_frame(roi.centre, origin, axis, scale)
        self.roi_size = roi.size / scale
        self.roi_turn = roi.angle - float(np.arctan2(axis[1], axis[0]))
        corners = np.array([det.box[:2], det.box[2:]], dtype=np.float64)
        self.box_centre = _to_frame(corners.mean(axis=0), origin, axis, scale)
        self.box_half = (corners[1] - corners[0]) / 2 / scale  # width, height over eye distance

    def roi(self, mesh: FaceMesh) -> Roi:
        origin, axis, scale = _eye_frame(mesh)
        angle = float(np.arctan2(axis[1], axis[0])) + self.roi_turn
        return Roi(_from_frame(self.roi_centre, origin, axis, scale), self.roi_size * scale, angle)

    def box(self, mesh: FaceMesh) -> np.ndarray:
        origin, axis, scale = _eye_frame(mesh)
        centre = _from_frame(self.box_centre, origin, axis, scale)
        half = self.box_half * scale
        return np.concatenate([centre - half, centre + half]).astype(np.float32)


def _aligned(image: np.ndarray, mesh: FaceMesh) -> tuple[np.ndarray, float]:
    """The aligned crop (for the identity samples) and its sharpness (to choose them)."""
    crop = align_face(image, mesh.five_points())
    return crop, sharpness_of(crop)


def _eye_frame(mesh: FaceMesh) -> tuple[np.ndarray, np.ndarray, float]:
    five = mesh.five_points().astype(np.float64)
    axis = five[1] - five[0]
    scale = max(float(np.linalg.norm(axis)), 1e-6)
    return (five[0] + five[1]) / 2, axis / scale, scale


def _to_frame(p: np.ndarray, origin: np.ndarray, axis: np.ndarray, scale: float) -> np.ndarray:
    d = (p - origin) / scale
    return np.array([d @ axis, d @ np.array([-axis[1], axis[0]])])


def _from_frame(q: np.ndarray, origin: np.ndarray, axis: np.ndarray, scale: float) -> np.ndarray:
    return origin + scale * (q[0] * axis + q[1] * np.array([-axis[1], axis[0]]))


class FaceTracker:
    """Follows one face frame by frame, so a clip and a live stream are measured alike.

    ``step`` takes the frames in order (a recorded clip's, or a live capture's as they
    arrive). What it can save, and what each saving costs the checks:

    - Opt-in (``detect_every`` > 1, not the default: see ``DETECT_EVERY``): the detector runs
      every ``detect_every`` frames (and whenever the mesh loses the face or the face jumps);
      in between, FaceMesh's ROI and the box come from the previous
      frame's mesh (``_Anchor``). The face count is held between detector runs: with 5
      frames (0.2 s at 25 fps) a second face present for the 1 s that ``single_face``
      refuses is seen on at least 5 runs, and the held count errs by at most 0.2 s per
      appearance. A swap of faces is a jump (re-detected on that frame) or, if smooth,
      another person in ``same_person``'s samples every 0.5 s.
      Its cost: the followed mesh reads a moving face's mouth differently (more or fewer
      syllables), so hand-held clips fail ``read_digits`` more often; hence not the default.
    - With ``sparse_eyes`` (the default), the Iris eye model runs on every other frame while the eyes are
      steadily open. A blink is a closure of two frames or more (``MIN_CLOSED_S``), so one
      of them is always measured; a measured frame below ``EYE_ALERT`` of the recent open
      level, or moving fast, measures the skipped frame before it too and every frame after
      it until the eyes are steady again. A skipped frame between two steady ones gets the
      two's interpolation, written into its ``FrameMeasure`` when the next frame arrives
      (until then it holds the previous frame's value): so ``step`` may update the frame
      before the current one, and a caller reading a live stream sees that one frame late.

    ``detect_every=1, sparse_eyes=False`` is the full measurement of every frame (the
    reference the benchmarks compare against); the default differs from it only in the eye
    openness of skipped frames. ``spent`` accumulates each stage's wall time
    and ``cpu`` its process CPU time (meaningful when one clip is analysed at a time, as in
    the benchmark), in seconds; ``calls`` counts the model runs.
    """

    def __init__(
        self, matcher: FaceMatcher, *, detect_every: int = DETECT_EVERY, sparse_eyes: bool = True
    ) -> None:
        if detect_every < 1:
            raise ValueError("detect_every must be at least 1")
        self.matcher = matcher
        self.detect_every = detect_every
        self.sparse_eyes = sparse_eyes
        self.previous: np.ndarray | None = None
        self.spent = {k: 0.0 for k in STAGES}
        self.cpu = {k: 0.0 for k in STAGES}
        self.calls = {k: 0 for k in STAGES}
        self._faces = 0  # the face count of the last detector run
        self._since_detect = 0
        self._anchor: _Anchor | None = None
        self._mesh: FaceMesh | None = None  # the previous frame's, when it was tracked
        self._open: list[tuple[float, float]] = []  # (t, more-open eye EAR) of measured frames
        self._last_eye: FrameMeasure | None = None  # the last frame whose eyes were measured
        self._pending: tuple[FrameMeasure, np.ndarray, FaceMesh] | None = None
        self._steady = 0  # measured frames in a row with steady open eyes

    def _timed(self, stage: str, fn: Callable[..., T], *args: object) -> T:
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn(*args)
        self.spent[stage] += time.perf_counter() - w0
        self.cpu[stage] += time.process_time() - c0
        self.calls[stage] += 1
        return out

    def step(self, image: np.ndarray, index: int, t: float) -> FrameMeasure:
        """Measure the tracked face on one frame (``tracked`` False when none is found)."""
        mesh, box = self._follow(image)
        if mesh is None:
            faces = self._timed("detect", self.matcher.detector, image)
            self._faces, self._since_detect = len(faces), 0
            if faces:
                det = _pick(faces, self.previous, image.shape)
                mesh = self._timed("mesh", self.matcher.mesh, image, roi_from_detection(det))
                if mesh.presence >= MIN_PRESENCE:
                    self._anchor, box = _Anchor(det, mesh), det.box
                else:
                    mesh = None
        self._since_detect += 1
        m = FrameMeasure(index=index, t=t, faces=self._faces, tracked=False)
        self._mesh = mesh
        if mesh is None or box is None:
            self._anchor = None
            self._settle_pending(None)
            return m
        crop, sharpness = self._timed("align", _aligned, image, mesh)
        yaw, pitch, _ = mesh.pose_degrees()
        m.tracked = True
        m.box = box
        m.mar = mouth_aspect_ratio(mesh.points)
        m.yaw, m.pitch = yaw, pitch
        m.sharpness = sharpness
        m.crop = crop
        m.shape = mesh.points[:, :2].astype(np.float32)
        self.previous = box
        self._measure_eyes(m, image, mesh)
        return m

    def _follow(self, image: np.ndarray) -> tuple[FaceMesh | None, np.ndarray | None]:
        """The mesh placed from the previous frame's, or (None, None) when the detector must run:
        its turn has come, there is no previous face, the mesh lost it, or it jumped."""
        if self._anchor is None or self._mesh is None or self._since_detect >= self.detect_every:
            return None, None
        mesh = self._timed("mesh", self.matcher.mesh, image, self._anchor.roi(self._mesh))
        if mesh.presence < MIN_PRESENCE:
            return None, None
        (o0, _, s0), (o1, _, s1) = _eye_frame(self._mesh), _eye_frame(mesh)
        if np.linalg.norm(o1 - o0) > MAX_FOLLOW_MOVE * s0 or abs(np.log(s1 / s0)) > MAX_FOLLOW_SCALE:
            return None, None
        return mesh, self._anchor.box(mesh)

    def _measure_eyes(self, m: FrameMeasure, image: np.ndarray, mesh: FaceMesh) -> None:
        skip = (
            self.sparse_eyes
            and self._pending is None
            and self._steady >= STEADY_FRAMES
            and self._last_eye is not None
            and self._last_eye.index == m.index - 1
        )
        if skip:
            assert self._last_eye is not None
            m.ear, m.ear_open_eye = self._last_eye.ear, self._last_eye.ear_open_eye  # until the next frame
            m.eyes_interpolated = True
            self._pending = (m, image, mesh)
            return
        previous = self._last_eye
        self._eyes_into(m, image, mesh)
        steady = self._is_steady(m.ear_open_eye, previous)
        self._steady = self._steady + 1 if steady else 0
        self._settle_pending(m if steady else None, previous)

    def _eyes_into(self, m: FrameMeasure, image: np.ndarray, mesh: FaceMesh) -> None:
        eyes = self._timed("eyes", self.matcher.eyes, image, mesh)
        m.ear, m.ear_open_eye, m.eyes_interpolated = eyes.mean_ear, max(eyes.ear), False
        self._last_eye = m
        self._open = [(t, e) for t, e in self._open if t >= m.t - OPEN_WINDOW_S] + [(m.t, m.ear_open_eye)]

    def _is_steady(self, value: float, previous: FrameMeasure | None) -> bool:
        """Eyes open near their recent level and not moving fast: nothing a blink needs."""
        if previous is None or len(self._open) < 3:
            return False
        level = float(np.percentile([e for _, e in self._open], 80))
        return value >= EYE_ALERT * level and abs(value - previous.ear_open_eye) <= EYE_STEP * level

    def _settle_pending(self, after: FrameMeasure | None, before: FrameMeasure | None = None) -> None:
        """Give the skipped frame its eye openness: between two steady measured frames
        (``before`` it and ``after`` it) their interpolation, otherwise its own measurement."""
        if self._pending is None:
            return
        m, image, mesh = self._pending
        self._pending = None
        if after is None or before is None:
            last = self._last_eye
            self._eyes_into(m, image, mesh)
            if last is not None and last.index > m.index:
                self._last_eye = last  # stay on the newest measured frame
            return
        w = (m.t - before.t) / max(after.t - before.t, 1e-9)
        m.ear = before.ear + w * (after.ear - before.ear)
        m.ear_open_eye = before.ear_open_eye + w * (after.ear_open_eye - before.ear_open_eye)

    def timings_ms(self) -> dict[str, float]:
        return {k: v * 1000 for k, v in self.spent.items()}

    def cpu_ms(self) -> dict[str, float]:
        return {k: v * 1000 for k, v in self.cpu.items()}


def track_face(
    matcher: FaceMatcher,
    clip: Clip,
    stride: int = 1,
    *,
    detect_every: int = DETECT_EVERY,
    sparse_eyes: bool = True,
) -> Track:
    """Measure the tracked face on every ``stride``-th frame of the clip (``FaceTracker``
    for the two savings; ``detect_every=1, sparse_eyes=False`` runs every model on every frame)."""
    tracker = FaceTracker(matcher, detect_every=detect_every, sparse_eyes=sparse_eyes)
    frames = [
        tracker.step(clip.frames[i], i, float(clip.times[i])) for i in range(0, len(clip.frames), stride)
    ]
    return Track(frames, tracker.timings_ms(), tracker.cpu_ms(), dict(tracker.calls))
