"""Follow one face through a clip and measure it on every analysed frame.

Per frame: how many faces are visible, the tracked face's box, its eye openness (Iris
eyelids), mouth opening (FaceMesh inner lips), head pose, and the sharpness of its aligned
crop. The detector runs on every analysed frame (about 1 ms) so that a second face or a
swap of faces is seen, and the tracked face is the one that overlaps the previous box.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from liveness.video import Clip
from matcher import FaceMatcher
from matcher.alignment import align_face
from matcher.detection import Detection
from matcher.landmarks import roi_from_detection
from matcher.quality import sharpness_of

# Inner-lip points of FaceMesh: upper and lower lip centre, both inner corners.
LIP_UPPER, LIP_LOWER, LIP_CORNER_R, LIP_CORNER_L = 13, 14, 78, 308
MIN_PRESENCE = 0.5


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


@dataclass
class Track:
    frames: list[FrameMeasure]
    timings_ms: dict[str, float] = field(default_factory=dict)

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


class FaceTracker:
    """Follows one face frame by frame, so a clip and a live stream are measured alike.

    ``step`` takes the frames in order (a recorded clip's, or a live capture's as they
    arrive) and keeps the previous box to stay on the same face; ``spent`` accumulates
    the time of each stage, in seconds.
    """

    def __init__(self, matcher: FaceMatcher) -> None:
        self.matcher = matcher
        self.previous: np.ndarray | None = None
        self.spent = {"detect": 0.0, "mesh": 0.0, "eyes": 0.0, "align": 0.0}

    def step(self, image: np.ndarray, index: int, t: float) -> FrameMeasure:
        """Measure the tracked face on one frame (``tracked`` False when none is found)."""
        t0 = time.perf_counter()
        faces = self.matcher.detector(image)
        self.spent["detect"] += time.perf_counter() - t0
        m = FrameMeasure(index=index, t=t, faces=len(faces), tracked=False)
        if not faces:
            return m
        det = _pick(faces, self.previous, image.shape)
        t0 = time.perf_counter()
        mesh = self.matcher.mesh(image, roi_from_detection(det))
        self.spent["mesh"] += time.perf_counter() - t0
        if mesh.presence < MIN_PRESENCE:
            return m
        t0 = time.perf_counter()
        eyes = self.matcher.eyes(image, mesh)
        self.spent["eyes"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        crop = align_face(image, mesh.five_points())
        self.spent["align"] += time.perf_counter() - t0
        yaw, pitch, _ = mesh.pose_degrees()
        m.tracked = True
        m.box = det.box
        m.ear = eyes.mean_ear
        m.ear_open_eye = max(eyes.ear)
        m.mar = mouth_aspect_ratio(mesh.points)
        m.yaw, m.pitch = yaw, pitch
        m.sharpness = sharpness_of(crop)
        m.crop = crop
        m.shape = mesh.points[:, :2].astype(np.float32)
        self.previous = det.box
        return m

    def timings_ms(self) -> dict[str, float]:
        return {k: v * 1000 for k, v in self.spent.items()}


def track_face(matcher: FaceMatcher, clip: Clip, stride: int = 1) -> Track:
    """Measure the tracked face on every ``stride``-th frame of the clip."""
    tracker = FaceTracker(matcher)
    frames = [
        tracker.step(clip.frames[i], i, float(clip.times[i])) for i in range(0, len(clip.frames), stride)
    ]
    return Track(frames, tracker.timings_ms())
