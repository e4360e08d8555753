"""Scanned paper forms (协助认证表): a real PDF or a real image of a page, or nothing.

A form approved on a second reviewer's word must be a document that reviewer can open: bytes
that merely start with ``%PDF`` or a JPEG marker are refused here, not stored.
"""

from __future__ import annotations

import cv2
import numpy as np

MIN_SCAN_SIDE_PX = 400  # a page scanned or photographed legibly is larger than this
MIN_SCAN_BYTES = 1024


def media_type_of(data: bytes) -> str | None:
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


def scan_problem(data: bytes) -> str | None:
    """Why these bytes are not a scanned form, or None."""
    kind = media_type_of(data)
    if kind is None:
        return "expected a PDF, JPEG or PNG scan"
    if len(data) < MIN_SCAN_BYTES:
        return "the file is too small to be a scanned page"
    if kind == "application/pdf":
        # The structure every PDF writer emits: objects, a page, and the end-of-file marker.
        if b"%%EOF" not in data[-2048:] or b" obj" not in data or b"/Page" not in data:
            return "the PDF is incomplete or not a document (no page, or no end marker)"
        return None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None:
        return "the image cannot be decoded"
    if min(image.shape[:2]) < MIN_SCAN_SIDE_PX:
        return f"the image is too small to be a legible scan (under {MIN_SCAN_SIDE_PX} px)"
    if float(image.std()) < 2.0:
        return "the image is blank"
    return None
