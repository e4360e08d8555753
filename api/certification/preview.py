"""Live camera advice while the person lines up: one frame in, one short message out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from api.certification.errors import DomainError, Kind
from matcher import MatcherError, Role, decode_image

if TYPE_CHECKING:
    from api.certification.service import CertificationService

PREVIEW_MAX_BYTES = 2 * 1024 * 1024


def advice(svc: CertificationService, image: bytes) -> dict[str, str]:
    """The most useful piece of advice (advice only: nothing is stored or logged). A file
    that is not a readable image is a bad request (422, like an ID photo), not advice."""
    try:
        frame = decode_image(image, max_bytes=PREVIEW_MAX_BYTES)
    except MatcherError as exc:
        raise DomainError(Kind.INVALID, exc.reason, exc.detail) from exc
    try:
        face = svc.matcher.analyse(frame, Role.PROBE, embed=False)
    except MatcherError as exc:
        return {"code": exc.reason.code, "message_zh": exc.reason.zh, "message_en": exc.reason.en}
    if face.quality.faces > 1:
        return {"code": "several_faces", "message_zh": "画面中只能有一个人", "message_en": "One face only"}
    if face.quality.reasons:
        first = face.quality.reasons[0]
        return {"code": first.code, "message_zh": first.zh, "message_en": first.en}
    return {"code": "ok", "message_zh": "位置合适", "message_en": "Good position"}
