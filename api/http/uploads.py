"""Uploaded files, checked by their bytes before anything reads them further."""

from __future__ import annotations

from fastapi import UploadFile

from api.certification import csv_files
from api.certification.errors import BAD_UPLOAD, UPLOAD_TOO_LARGE, DomainError, Kind

VIDEO_MAGIC = (
    (b"ftyp", 4),  # MP4 / MOV / 3GP
    (b"\x1a\x45\xdf\xa3", 0),  # WebM / Matroska
    (b"\x00\x00\x01\xba", 0),  # MPEG program stream (GRID .mpg)
    (b"\x00\x00\x01\xb3", 0),  # MPEG video
    (b"moov", 4),
)
CSV_MAX_BYTES = 20 * 1024 * 1024  # ~300,000 register rows; split larger files


def sniff_video(head: bytes) -> bool:
    return any(head[offset : offset + len(magic)] == magic for magic, offset in VIDEO_MAGIC)


async def read_limited(upload: UploadFile, limit: int) -> bytes:
    """At most ``limit`` bytes; one more means the upload is too large."""
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise DomainError(Kind.TOO_LARGE, UPLOAD_TOO_LARGE, f"limit {limit} bytes")
    return data


async def read_video_upload(upload: UploadFile, limit: int) -> bytes:
    data = await read_limited(upload, limit)
    if not sniff_video(data[:16]):
        raise DomainError(Kind.UNSUPPORTED, BAD_UPLOAD, "expected MP4, MOV, WebM or MPEG video")
    return data


async def read_csv_upload(upload: UploadFile) -> str:
    """The CSV's text, its encoding detected (``csv_files.decode``). A file over the limit is
    refused whole: reading only its first part would import some rows and silently drop the rest."""
    data = await read_limited(upload, CSV_MAX_BYTES)
    return csv_files.decode(data)[0]
