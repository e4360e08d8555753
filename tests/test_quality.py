"""Each quality reason is triggered by a real photo degraded in code.

The limits in matcher/quality.py were set from physical reasoning, not fitted to these
photos; the degradations here are strong enough that any sensible gate must refuse them,
and the untouched photo must pass.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from matcher import FaceMatcher, MatcherError, Role
from tests.conftest import load

pytestmark = pytest.mark.needs_data

PHOTO = "faces/deepface/img1.jpg"


def _codes(matcher: FaceMatcher, image: np.ndarray, role: Role = Role.REFERENCE) -> set[str]:
    return {r.code for r in matcher.analyse(image, role, embed=False).quality.reasons}


def test_untouched_photo_passes(matcher: FaceMatcher) -> None:
    assert _codes(matcher, load(PHOTO)) == set()


def test_blur(matcher: FaceMatcher) -> None:
    image = load(PHOTO)
    blurred = cv2.GaussianBlur(image, (0, 0), sigmaX=image.shape[1] / 60)
    assert "face_blurred" in _codes(matcher, blurred)


def test_downscaled_face_is_too_small(matcher: FaceMatcher) -> None:
    image = load(PHOTO)
    small = cv2.resize(image, None, fx=0.07, fy=0.07, interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), 128, np.uint8)
    canvas[200 : 200 + small.shape[0], 300 : 300 + small.shape[1]] = small
    assert "face_too_small" in _codes(matcher, canvas, Role.PROBE)


def test_dark(matcher: FaceMatcher) -> None:
    dark = (load(PHOTO).astype(np.float32) * 0.2).astype(np.uint8)
    assert "too_dark" in _codes(matcher, dark)


def test_over_exposed(matcher: FaceMatcher) -> None:
    bright = np.clip(load(PHOTO).astype(np.float32) * 1.6 + 90, 0, 255).astype(np.uint8)
    assert "too_bright" in _codes(matcher, bright)


def test_closed_eyes_refused_on_id_photo_only(matcher: FaceMatcher) -> None:
    closed = load("eyes/inspireface/close_eyes.jpeg")
    assert "eyes_closed" in _codes(matcher, closed, Role.REFERENCE)
    assert "eyes_closed" not in _codes(matcher, closed, Role.PROBE)
    assert "eyes_closed" not in _codes(matcher, load("eyes/inspireface/open_eyes.png"))


def test_two_people_side_by_side_refused_as_id_photo(matcher: FaceMatcher) -> None:
    a = cv2.resize(load("faces/deepface/img1.jpg"), (500, 676))
    b = cv2.resize(load("faces/deepface/img3.jpg"), (500, 676))
    both = np.hstack([a, b])
    assert "several_faces" in _codes(matcher, both, Role.REFERENCE)
    # As a live probe the nearest-to-centre large face is used instead.
    assert "several_faces" not in _codes(matcher, both, Role.PROBE)


def test_cropped_away_face_has_no_face(matcher: FaceMatcher) -> None:
    image = load(PHOTO)
    background = image[:150, :150].copy()
    background = cv2.resize(background, (400, 400))
    with pytest.raises(MatcherError) as info:
        matcher.analyse(background, Role.PROBE)
    assert info.value.reason.code == "no_face"


def test_reasons_carry_english_and_chinese(matcher: FaceMatcher) -> None:
    dark = (load(PHOTO).astype(np.float32) * 0.2).astype(np.uint8)
    reason = matcher.analyse(dark, Role.REFERENCE, embed=False).quality.reasons[0]
    assert reason.en and reason.zh and reason.zh != reason.en


def test_a_turned_head_is_refused_whichever_way_it_turns(matcher: FaceMatcher) -> None:
    """A news photo of a man looking well to his left; its mirror image looks to his right."""
    turned = load("faces/lfw/George_Allen/George_Allen_0001.jpg")
    left = matcher.analyse(turned, Role.PROBE, embed=False).quality
    right = matcher.analyse(cv2.flip(turned, 1), Role.PROBE, embed=False).quality
    assert "face_turned" in {r.code for r in left.reasons} & {r.code for r in right.reasons}
    assert left.yaw_deg * right.yaw_deg < 0


def test_a_face_the_mesh_is_unsure_of_is_refused_as_unclear(matcher: FaceMatcher) -> None:
    """FaceMesh's presence score below the limit (covered faces; no real photo here lowers it
    enough, so the score is given directly to the gate) gives face_unclear, in both languages."""
    from matcher.quality import PROBE_LIMITS, assess

    face = matcher.analyse(load(PHOTO), Role.PROBE, embed=False)
    kwargs = {"crop_bgr": face.crop, "inter_ocular_px": 60.0, "pose": (0.0, -8.0, 0.0), "faces": 1}
    unsure = assess(**kwargs, presence=0.2, eye_aspect=None, limits=PROBE_LIMITS)  # type: ignore[arg-type]
    sure = assess(**kwargs, presence=0.95, eye_aspect=None, limits=PROBE_LIMITS)  # type: ignore[arg-type]
    unclear = [r for r in unsure.reasons if r.code == "face_unclear"]
    assert unclear and unclear[0].zh and unclear[0].en
    assert "face_unclear" not in {r.code for r in sure.reasons}
