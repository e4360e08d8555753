"""Dense landmarks with MediaPipe FaceMesh (468 points) on LiteRT.

FaceMesh is run on a square region of interest, rotated so the eyes are level, 1.5x the
detector's box (MediaPipe's own recipe). The mesh gives the five alignment points, the
head pose, and the eye and mouth contours that liveness uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from matcher.detection import Detection
from models import ModelRunner

MESH_SIZE = 192
ROI_SCALE = 1.5

# Subject's right eye is on the image left. Indices of the eye contours, nose tip, mouth.
RIGHT_EYE_RING = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE_RING = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
NOSE_TIP = 1
MOUTH_RIGHT, MOUTH_LEFT = 61, 291  # outer lip corners (image left, image right)
CHEEK_RIGHT, CHEEK_LEFT = 234, 454
FOREHEAD, CHIN = 10, 152


@dataclass(frozen=True)
class Roi:
    """A rotated square in the image: centre (x, y), side in pixels, angle in radians."""

    centre: np.ndarray
    size: float
    angle: float

    def to_crop(self, out_size: int) -> np.ndarray:
        """2x3 affine matrix taking image pixels to the ``out_size`` square crop."""
        u = np.array([np.cos(self.angle), np.sin(self.angle)]) * self.size / 2
        v = np.array([-np.sin(self.angle), np.cos(self.angle)]) * self.size / 2
        src = np.array([self.centre, self.centre + u, self.centre + v], dtype=np.float32)
        half = out_size / 2
        dst = np.array([[half, half], [out_size, half], [half, out_size]], dtype=np.float32)
        return cv2.getAffineTransform(src, dst)


def roi_from_detection(det: Detection) -> Roi:
    right_eye, left_eye = det.keypoints[0], det.keypoints[1]
    angle = float(np.arctan2(left_eye[1] - right_eye[1], left_eye[0] - right_eye[0]))
    return Roi(det.centre, max(det.width, det.height) * ROI_SCALE, angle)


@dataclass(frozen=True)
class FaceMesh:
    """468 points (x, y in image pixels; z relative depth in the same scale) and presence."""

    points: np.ndarray
    presence: float

    def five_points(self) -> np.ndarray:
        """Right eye, left eye, nose tip, right and left mouth corners: the ArcFace order."""
        p = self.points[:, :2]
        return np.stack(
            [
                p[list(RIGHT_EYE_RING)].mean(axis=0),
                p[list(LEFT_EYE_RING)].mean(axis=0),
                p[NOSE_TIP],
                p[MOUTH_RIGHT],
                p[MOUTH_LEFT],
            ]
        ).astype(np.float32)

    def pose_degrees(self) -> tuple[float, float, float]:
        """(yaw, pitch, roll) from the mesh's own 3-D points: cheek-to-cheek and brow-to-chin."""
        p = self.points
        across = p[CHEEK_LEFT] - p[CHEEK_RIGHT]
        down = p[CHIN] - p[FOREHEAD]
        yaw = np.degrees(np.arctan2(across[2], across[0]))
        pitch = np.degrees(np.arctan2(-down[2], down[1]))
        eyes = p[263, :2] - p[33, :2]
        roll = np.degrees(np.arctan2(eyes[1], eyes[0]))
        return float(yaw), float(pitch), float(roll)

    def inter_ocular(self) -> float:
        five = self.five_points()
        return float(np.linalg.norm(five[1] - five[0]))


class MeshPredictor:
    """Run FaceMesh on a ROI and return points in image coordinates."""

    def __init__(self, runner: ModelRunner) -> None:
        self._runner = runner

    def __call__(self, image_bgr: np.ndarray, roi: Roi) -> FaceMesh:
        m = roi.to_crop(MESH_SIZE)
        crop = cv2.warpAffine(
            image_bgr, m, (MESH_SIZE, MESH_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        blob = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        raw, flag = self._runner(blob[None])
        pts = raw.reshape(468, 3).astype(np.float64)
        inv = cv2.invertAffineTransform(m)
        xy = pts[:, :2] @ inv[:, :2].T + inv[:, 2]
        # z is in crop pixels: rescale to image pixels like x and y.
        z = pts[:, 2] * roi.size / MESH_SIZE
        presence = float(1.0 / (1.0 + np.exp(-np.clip(flag.reshape(-1)[0], -80, 80))))
        return FaceMesh(points=np.column_stack([xy, z]), presence=presence)
