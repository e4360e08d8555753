"""Eye openness from MediaPipe's Iris model (refined eyelid contour).

FaceMesh's own eyelids barely move when the eyes close (EAR about 0.32 closed versus
0.21+ open on our photos), so openness is measured on the Iris model's 71-point eye
contour instead, which does close (about 0.13). The model expects the image-left eye as
is and the image-right eye mirrored, in a square crop 2.3x the corner-to-corner width.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from matcher.landmarks import FaceMesh, Roi
from models import ModelRunner

IRIS_SIZE = 64
EYE_ROI_SCALE = 2.3
# Corner pairs (mesh indices), pointing image-right: image-left eye 33->133, image-right 362->263.
EYE_CORNERS = ((33, 133), (362, 263))
# On the refined 16-point lid contour (checked by drawing it on our photos): 0 and 8 are
# the corners, 1..7 the lower lid and 9..15 the upper lid, both running from corner 0,
# so lower i faces upper i + 8.
_LID_PAIRS = ((3, 11), (4, 12), (5, 13))


@dataclass(frozen=True)
class EyeState:
    """Eye aspect ratio (lid gap / eye width) of each eye, image-left first."""

    ear: tuple[float, float]
    contours: tuple[np.ndarray, np.ndarray]  # (16, 2) image pixels each

    @property
    def mean_ear(self) -> float:
        return float(np.mean(self.ear))


def eye_aspect_ratio(contour: np.ndarray) -> float:
    """Lid gap across the eye axis over corner-to-corner width; 0 when the lids meet.

    The gap is signed (lower lid below upper lid is open): on closed eyes the model's two
    lid curves touch or cross, and an unsigned distance would read a crossing as open.
    """
    axis = contour[8] - contour[0]
    width = float(np.linalg.norm(axis))
    if width < 1e-6:
        return 0.0
    normal = np.array([-axis[1], axis[0]]) / width  # points from upper lid to lower lid
    gaps = [float(np.dot(contour[lo] - contour[up], normal)) for lo, up in _LID_PAIRS]
    return max(0.0, float(np.mean(gaps))) / width


class EyeStateEstimator:
    def __init__(self, runner: ModelRunner) -> None:
        self._runner = runner

    def __call__(self, image_bgr: np.ndarray, mesh: FaceMesh) -> EyeState:
        ears, contours = [], []
        for mirrored, (a, b) in enumerate(EYE_CORNERS):
            p0, p1 = mesh.points[a, :2], mesh.points[b, :2]
            angle = float(np.arctan2(p1[1] - p0[1], p1[0] - p0[0]))
            roi = Roi((p0 + p1) / 2, float(np.linalg.norm(p1 - p0)) * EYE_ROI_SCALE, angle)
            m = roi.to_crop(IRIS_SIZE)
            crop = cv2.warpAffine(image_bgr, m, (IRIS_SIZE, IRIS_SIZE), flags=cv2.INTER_LINEAR)
            if mirrored:
                crop = crop[:, ::-1]
            blob = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
            contour_raw, _iris = self._runner(blob[None])
            pts = contour_raw.reshape(71, 3)[:16, :2].astype(np.float64)
            # Openness is measured in the crop, where both eyes have the same handedness.
            ears.append(eye_aspect_ratio(pts))
            if mirrored:
                pts[:, 0] = IRIS_SIZE - pts[:, 0]
            inv = cv2.invertAffineTransform(m)
            img_pts = pts @ inv[:, :2].T + inv[:, 2]
            contours.append(img_pts)
        return EyeState(ear=(ears[0], ears[1]), contours=(contours[0], contours[1]))
