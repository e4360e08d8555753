"""Similarity alignment onto the standard ArcFace 112x112 five-point template."""

from __future__ import annotations

import cv2
import numpy as np

# The template every ArcFace-family embedder was trained with (insightface, 112x112):
# right eye, left eye, nose tip, right and left mouth corners (subject's sides).
ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)
CROP_SIZE = 112


def similarity_matrix(points: np.ndarray, template: np.ndarray = ARCFACE_TEMPLATE) -> np.ndarray:
    """Least-squares rotation + uniform scale + translation taking ``points`` onto the template.

    OpenCV's estimateAffinePartial2D with LMEDS is robust to one badly placed point;
    with five good points it equals the closed-form (Umeyama) solution.
    """
    matrix, _ = cv2.estimateAffinePartial2D(np.asarray(points, dtype=np.float32), template, method=cv2.LMEDS)
    if matrix is None:
        raise ValueError("landmarks are degenerate: no similarity transform exists")
    return matrix


def align_face(image_bgr: np.ndarray, points: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """The 112x112 aligned face crop (BGR) for the five landmarks."""
    matrix = similarity_matrix(points)
    return cv2.warpAffine(
        image_bgr, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
