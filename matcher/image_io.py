"""Decode uploads safely: sniff the type from bytes, bound size and dimensions first.

Why sniff bytes: extensions lie, and a decoder fed a decompression bomb allocates before
it fails. The header is checked for a known magic number, the dimensions are read from
the header alone (Pillow's lazy open), and only then is the pixel data decoded (OpenCV).
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from matcher import errors

MAX_FILE_BYTES = 15 * 1024 * 1024
MIN_SIDE = 48
MAX_SIDE = 8192

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "png"),
    (b"BM", 0, "bmp"),
    (b"WEBP", 8, "webp"),
    # Netpbm (AT&T/ORL faces ship as PGM): binary and plain grey (P5/P2) and colour (P6/P3).
    (b"P5", 0, "pgm"),
    (b"P2", 0, "pgm"),
    (b"P6", 0, "ppm"),
    (b"P3", 0, "ppm"),
)


def sniff_image_type(data: bytes) -> str | None:
    """The image type named by the file's magic bytes, or None."""
    for magic, offset, name in _MAGIC:
        if data[offset : offset + len(magic)] == magic:
            if name == "webp" and data[:4] != b"RIFF":
                continue
            if name in {"pgm", "ppm"} and data[2:3] not in {b" ", b"\t", b"\n", b"\r"}:
                continue  # "P5" must be followed by whitespace, or it is some other file
            return name
    return None


def decode_image(data: bytes, *, max_bytes: int = MAX_FILE_BYTES) -> np.ndarray:
    """BGR uint8 pixels from encoded bytes, or a MatcherError saying what is wrong."""
    if not data:
        raise errors.MatcherError(errors.FILE_EMPTY)
    if len(data) > max_bytes:
        raise errors.MatcherError(errors.FILE_TOO_LARGE, f"{len(data)} bytes > {max_bytes}")
    if sniff_image_type(data) is None:
        raise errors.MatcherError(errors.NOT_AN_IMAGE)
    buf = np.frombuffer(data, dtype=np.uint8)
    # Refuse huge dimensions before allocating the pixels (decompression bombs).
    width, height = _probe_size(data)
    if max(width, height) > MAX_SIDE:
        raise errors.MatcherError(errors.IMAGE_TOO_BIG, f"{width}x{height} > {MAX_SIDE}")
    image = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if image is None:
        raise errors.MatcherError(errors.IMAGE_CORRUPT)
    h, w = image.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise errors.MatcherError(errors.IMAGE_TOO_SMALL, f"{w}x{h} < {MIN_SIDE}")
    if max(h, w) > MAX_SIDE:
        raise errors.MatcherError(errors.IMAGE_TOO_BIG, f"{w}x{h} > {MAX_SIDE}")
    return image


def _probe_size(data: bytes) -> tuple[int, int]:
    """(width, height) read from the header alone by Pillow; (0, 0) if it cannot tell."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except Image.DecompressionBombError as exc:
        raise errors.MatcherError(errors.IMAGE_TOO_BIG, str(exc)) from exc
    except (OSError, ValueError):
        return 0, 0


def read_image(path: str | Path) -> np.ndarray:
    """Read and decode an image file with the same checks as an upload."""
    p = Path(path)
    if not p.is_file():
        raise errors.MatcherError(errors.FILE_MISSING, str(p))
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise errors.MatcherError(errors.FILE_TOO_LARGE, f"{size} bytes > {MAX_FILE_BYTES}")
    return decode_image(p.read_bytes())
