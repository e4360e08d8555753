"""Bad files give clear, stable error codes before any model runs."""

from __future__ import annotations

import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from matcher import MatcherError, decode_image, read_image
from tests.conftest import FACES, encode, load

pytestmark = pytest.mark.needs_data


def _code(fn, *args) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(MatcherError) as info:
        fn(*args)
    return info.value.reason.code


def test_missing_file(tmp_path: Path) -> None:
    assert _code(read_image, tmp_path / "nope.jpg") == "file_missing"


def test_zero_byte_file(tmp_path: Path) -> None:
    f = tmp_path / "empty.jpg"
    f.write_bytes(b"")
    assert _code(read_image, f) == "file_empty"


def test_text_file_named_jpg(tmp_path: Path) -> None:
    f = tmp_path / "notes.jpg"
    f.write_text("name,id\n")
    assert _code(read_image, f) == "not_an_image"


def test_truncated_jpeg_is_corrupt() -> None:
    data = (FACES / "deepface" / "img1.jpg").read_bytes()
    assert _code(decode_image, data[:400]) == "image_corrupt"


def test_png_header_claiming_huge_dimensions_is_refused_before_decoding() -> None:
    # A well-formed PNG that claims 60000 x 60000 pixels: a decompression bomb if decoded.
    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    ihdr = (60000).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )
    assert _code(decode_image, data) == "image_dimensions_too_large"


def test_tiny_image_is_refused() -> None:
    tiny = load("faces/deepface/img1.jpg")[:20, :20]
    assert _code(decode_image, encode(tiny)) == "image_too_small"


def test_oversized_upload_is_refused() -> None:
    assert _code(lambda d: decode_image(d, max_bytes=1000), b"\xff\xd8\xff" + b"0" * 2000) == "file_too_large"


def test_real_photo_decodes_in_every_supported_format() -> None:
    image = load("faces/deepface/img1.jpg")
    for ext in (".jpg", ".png", ".bmp", ".webp"):
        out = decode_image(encode(image, ext))
        assert out.shape == image.shape
        assert np.abs(out.astype(int) - image.astype(int)).mean() < 8


def test_pgm_and_ppm_decode_like_any_photo(tmp_path: Path) -> None:
    # AT&T/ORL faces ship as PGM; they used to be refused as not_an_image.
    image = load("faces/deepface/img1.jpg")
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    assert cv2.imwrite(str(tmp_path / "face.pgm"), grey)
    assert cv2.imwrite(str(tmp_path / "face.ppm"), image)
    out = read_image(tmp_path / "face.pgm")
    assert out.shape == image.shape  # grey decoded to three channels, as the matcher expects
    assert np.abs(out[:, :, 0].astype(int) - grey.astype(int)).max() == 0
    assert np.array_equal(read_image(tmp_path / "face.ppm"), image)
    # "P5" without the whitespace a Netpbm header needs is not an image.
    assert _code(decode_image, b"P5xyz" + b"0" * 100) == "not_an_image"
