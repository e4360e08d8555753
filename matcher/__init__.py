"""Face matching: detect, align, embed, compare; the quality gate. Pure computation."""

from matcher.errors import MatcherError, Reason
from matcher.image_io import decode_image, read_image
from matcher.pipeline import FaceMatcher, Role, Verdict

__all__ = ["FaceMatcher", "MatcherError", "Reason", "Role", "Verdict", "decode_image", "read_image"]
