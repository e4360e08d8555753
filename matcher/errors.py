"""Errors a user can act on: a stable code plus an English and a Chinese message."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    """Why an image or face was refused. ``code`` is stable; the texts are for people."""

    code: str
    en: str
    zh: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "en": self.en, "zh": self.zh}


class MatcherError(Exception):
    """Raised when an input cannot be matched at all (unreadable file, no usable face)."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.code}: {reason.en}" + (f" ({detail})" if detail else ""))


FILE_MISSING = Reason("file_missing", "The file does not exist.", "文件不存在。")
FILE_EMPTY = Reason("file_empty", "The file is empty.", "文件为空。")
FILE_TOO_LARGE = Reason("file_too_large", "The file is too large.", "文件过大。")
NOT_AN_IMAGE = Reason(
    "not_an_image",
    "The file is not a JPEG, PNG, BMP or WebP image.",
    "文件不是可识别的图片（JPEG/PNG/BMP/WebP）。",
)
IMAGE_CORRUPT = Reason("image_corrupt", "The image is damaged and cannot be read.", "图片已损坏，无法读取。")
IMAGE_TOO_SMALL = Reason("image_too_small", "The image is too small.", "图片尺寸过小。")
IMAGE_TOO_BIG = Reason("image_dimensions_too_large", "The image dimensions are too large.", "图片尺寸过大。")
NO_FACE = Reason(
    "no_face",
    "No face was found. Face the camera in good light.",
    "未检测到人脸，请正对镜头并保证光线充足。",
)
