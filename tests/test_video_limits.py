"""Decoding is bounded by the video, whatever else a small file carries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from liveness.video import AUDIO_BEYOND_VIDEO_S, AUDIO_RATE, read_video, write_mp4
from tests.conftest import DATA

pytestmark = pytest.mark.needs_data


def test_hours_of_audio_behind_a_short_video_are_not_decoded(tmp_path: Path) -> None:
    """3 s of real video with 10 minutes of silent sound behind it (the attack used 10 h; the
    bound is the same): only the sound that goes with the frames is decoded."""
    source = read_video(DATA / "videos/talking/liveportrait_driving_d0.mp4", with_audio=False)
    fps = source.fps
    frames = source.frames[: int(3 * fps)]
    bomb = write_mp4(tmp_path / "bomb.mp4", frames, fps, audio=np.zeros(600 * AUDIO_RATE, np.float32))
    clip = read_video(bomb)
    assert clip.audio is not None
    assert clip.audio.size <= (clip.duration_s + 2 * AUDIO_BEYOND_VIDEO_S) * AUDIO_RATE
    assert clip.audio.size >= clip.duration_s * AUDIO_RATE * 0.9  # the sound of the frames is kept
