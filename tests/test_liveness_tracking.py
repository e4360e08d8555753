"""The tracker's savings on real clips: Iris only where a blink can be (the default), and the
opt-in landmark following with the detector every few frames (a second face and a jump are
still seen); what the checks read stays close to every model on every frame."""

from __future__ import annotations

import numpy as np
import pytest

from liveness.blink import detect_blinks
from liveness.tracking import FOLLOW_DETECT_EVERY, FaceTracker, Track, track_face
from liveness.video import Clip, read_video
from matcher import FaceMatcher
from tests.conftest import DATA

pytestmark = pytest.mark.needs_data
VIDEOS = DATA / "videos"


@pytest.fixture(scope="module")
def blinking_clip() -> Clip:
    # A person blinks at frames 64-67 (hand label in tests/data/blink_labels.csv).
    return read_video(VIDEOS / "talking/liveportrait_driving_d0.mp4", with_audio=False)


@pytest.fixture(scope="module")
def full_and_following(matcher: FaceMatcher, blinking_clip: Clip) -> tuple[Track, Track]:
    full = track_face(matcher, blinking_clip, detect_every=1, sparse_eyes=False)
    return full, track_face(matcher, blinking_clip, detect_every=FOLLOW_DETECT_EVERY)


def _blinks(track: Track) -> list[tuple[int, int]]:
    found = detect_blinks(track.series("ear_open_eye"), track.times, track.series("index").astype(int))
    return [(b.start_frame, b.end_frame) for b in found]


def test_following_runs_the_detector_every_few_frames_and_the_series_match_every_frame(
    full_and_following: tuple[Track, Track], blinking_clip: Clip
) -> None:
    full, following = full_and_following
    frames = len(blinking_clip.frames)
    assert full.calls["detect"] == frames
    assert following.calls["detect"] <= -(-frames // FOLLOW_DETECT_EVERY) + 2  # plus a re-detection or two
    assert all(f.tracked for f in following.frames)
    # Median frame-to-frame difference from every-frame measurement, against what the checks
    # resolve: EAR (open ~0.3, a blink falls by 0.07+), mouth ratio, yaw in degrees.
    for name, tolerance in (("ear_open_eye", 0.01), ("mar", 0.01), ("yaw", 1.0)):
        assert np.median(np.abs(full.series(name) - following.series(name))) < tolerance, name
    centres = [
        np.abs((f.box[:2] + f.box[2:]) / 2 - (g.box[:2] + g.box[2:]) / 2).max()
        for f, g in zip(full.frames, following.frames, strict=True)
        if f.box is not None and g.box is not None
    ]
    width = float(np.median([f.box[2] - f.box[0] for f in full.frames if f.box is not None]))
    assert np.median(centres) < 0.03 * width


def test_sparse_eyes_skip_steady_frames_but_measure_the_whole_blink(
    full_and_following: tuple[Track, Track],
) -> None:
    full, following = full_and_following
    skipped = [f.index for f in following.frames if f.eyes_interpolated]
    assert skipped, "the Iris model ran on every frame"
    assert following.calls["eyes"] == len(following.frames) - len(skipped)
    assert not set(skipped) & set(range(62, 70))  # the labelled blink 64-67 and a frame either side
    assert any(s <= 67 and e >= 64 for s, e in _blinks(following))
    # A skipped frame lies between two open ones (measured every frame).
    ear = full.series("ear_open_eye")
    open_level = float(np.nanpercentile(ear, 80))
    assert all(min(ear[i - 1], ear[i + 1]) > 0.75 * open_level for i in skipped if i + 1 < ear.size)


def _side_by_side(left: np.ndarray, right: np.ndarray | None) -> np.ndarray:
    h, w = left.shape[:2]
    canvas = np.zeros((h, 2 * w, 3), np.uint8)
    canvas[:, :w] = left
    if right is not None:
        canvas[:, w:] = right[:h, :w]
    return canvas


def test_a_second_face_is_counted_within_the_detector_interval(matcher: FaceMatcher) -> None:
    one = read_video(VIDEOS / "grid/bbaf2n.mpg", with_audio=False)
    other = read_video(VIDEOS / "grid/lrwp9a.mpg", with_audio=False)
    tracker = FaceTracker(matcher, detect_every=FOLLOW_DETECT_EVERY)
    appears = 31  # not a detector frame: the count must wait for the next run, at most FOLLOW_DETECT_EVERY
    frames = [
        tracker.step(
            _side_by_side(one.frames[i], other.frames[i] if i >= appears else None), i, float(one.times[i])
        )
        for i in range(60)
    ]
    assert all(f.faces == 1 for f in frames[:appears])
    assert all(f.faces == 2 for f in frames[appears + FOLLOW_DETECT_EVERY :])
    assert all(f.tracked and f.box is not None and f.box[2] < one.frames[0].shape[1] for f in frames)


def test_a_jump_of_the_face_is_followed_on_the_frame_it_happens(matcher: FaceMatcher) -> None:
    clip = read_video(VIDEOS / "grid/bbaf2n.mpg", with_audio=False)
    w = clip.frames[0].shape[1]
    tracker = FaceTracker(matcher, detect_every=FOLLOW_DETECT_EVERY)
    jump = 33  # between two detector runs
    frames = []
    for i in range(45):
        image = _side_by_side(clip.frames[i], None)
        if i >= jump:
            image = np.roll(image, w, axis=1)  # the face is now in the right half
        frames.append(tracker.step(image, i, float(clip.times[i])))
    assert all(f.tracked for f in frames)
    assert all(f.box is not None and f.box[0] > w for f in frames[jump:])
    assert all(f.box is not None and f.box[2] < w for f in frames[:jump])


def test_by_default_the_detector_places_the_mesh_on_every_frame(
    matcher: FaceMatcher, blinking_clip: Clip, full_and_following: tuple[Track, Track]
) -> None:
    full, _ = full_and_following
    default = track_face(matcher, blinking_clip)
    assert default.calls["detect"] == len(blinking_clip.frames)
    for f, g in zip(full.frames, default.frames, strict=True):
        assert f.box is not None and g.box is not None and np.array_equal(f.box, g.box)
        assert f.mar == g.mar and (g.eyes_interpolated or f.ear_open_eye == g.ear_open_eye)


def test_detector_interval_must_be_positive(matcher: FaceMatcher) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FaceTracker(matcher, detect_every=0)
