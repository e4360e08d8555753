"""Face detection with MediaPipe BlazeFace (short and full range) on LiteRT.

BlazeFace is an SSD with fixed-size anchors: each anchor predicts a box offset and six
keypoints (both eyes, nose tip, mouth centre, both ear tragions). The short-range model
suits faces that fill much of the frame (kiosk, selfie, ID photo); the full-range model
finds smaller faces. We run short range first and fall back to full range only when it
finds nothing, which keeps the common case at one cheap call.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from models import ModelRunner


@dataclass(frozen=True)
class Detection:
    """A face in image pixels. Keypoints: right eye, left eye (subject's), nose, mouth, ears."""

    box: np.ndarray  # x1, y1, x2, y2
    score: float
    keypoints: np.ndarray  # (6, 2)

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def centre(self) -> np.ndarray:
        return np.array([(self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2])


def _anchors(input_size: int, strides: list[int], per_cell: list[int]) -> np.ndarray:
    """Anchor centres (N, 2) in [0, 1] for MediaPipe's SSD layout with fixed anchor size."""
    centres = []
    for stride, count in zip(strides, per_cell, strict=True):
        n = int(np.ceil(input_size / stride))
        ys, xs = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        grid = np.stack([(xs + 0.5) / n, (ys + 0.5) / n], axis=-1).reshape(-1, 1, 2)
        centres.append(np.repeat(grid, count, axis=1).reshape(-1, 2))
    return np.concatenate(centres).astype(np.float32)


@dataclass(frozen=True)
class _Variant:
    input_size: int
    anchors: np.ndarray
    min_score: float


# Short range: strides 8,16,16,16 with 2 anchors per layer -> 16x16x2 + 8x8x6 = 896.
SHORT = _Variant(128, _anchors(128, [8, 16], [2, 6]), 0.5)
# Full range: one stride-4 layer, one anchor per cell -> 48x48 = 2304.
FULL = _Variant(192, _anchors(192, [4], [1]), 0.6)

NMS_IOU = 0.3


class FaceDetector:
    """Detect faces in a BGR image; returns detections sorted by score."""

    def __init__(self, short_range: ModelRunner, full_range: ModelRunner | None = None) -> None:
        self._short = short_range
        self._full = full_range

    def __call__(self, image_bgr: np.ndarray) -> list[Detection]:
        found = self._run(self._short, SHORT, image_bgr)
        if not found and self._full is not None:
            found = self._run(self._full, FULL, image_bgr)
        return found

    @staticmethod
    def _run(runner: ModelRunner, variant: _Variant, image_bgr: np.ndarray) -> list[Detection]:
        h, w = image_bgr.shape[:2]
        size = variant.input_size
        # Shrink first, then letterbox to a square, so the model sees undistorted faces and
        # a large photo costs one resize rather than a full-size padded copy.
        scale = size / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        small = cv2.resize(image_bgr, (nw, nh), interpolation=cv2.INTER_AREA)
        top, left = (size - nh) // 2, (size - nw) // 2
        canvas = np.zeros((size, size, 3), dtype=np.uint8)
        canvas[top : top + nh, left : left + nw] = small
        blob = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB).astype(np.float32) / 127.5 - 1.0
        raw_boxes, raw_scores = runner(blob[None])
        scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores[0, :, 0], -80.0, 80.0)))
        keep = np.flatnonzero(scores >= variant.min_score)
        if keep.size == 0:
            return []
        reg = raw_boxes[0, keep] / size
        anchors = variant.anchors[keep]
        cx, cy = reg[:, 0] + anchors[:, 0], reg[:, 1] + anchors[:, 1]
        bw, bh = reg[:, 2], reg[:, 3]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        kps = reg[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
        # Back to original pixels: undo the letterbox offset, then the resize.
        offset = np.array([left, top], dtype=np.float32)
        boxes = (boxes * size - np.tile(offset, 2)) / scale
        kps = (kps * size - offset) / scale
        xywh = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]])
        chosen = cv2.dnn.NMSBoxes(xywh.tolist(), scores[keep].tolist(), variant.min_score, NMS_IOU)
        out = [
            Detection(box=boxes[i], score=float(scores[keep][i]), keypoints=kps[i])
            for i in np.asarray(chosen).reshape(-1)
        ]
        return sorted(out, key=lambda d: -d.score)
