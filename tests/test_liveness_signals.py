"""Blink and mouth-cycle logic on series whose answer is known by construction."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from liveness.audio import audio_visual
from liveness.blink import detect_blinks
from liveness.jaw import jaw_coupling
from liveness.mouth import expected_syllables, mouth_cycles
from liveness.presentation import lag1_autocorrelation
from liveness.tracking import FrameMeasure, Track
from liveness.video import AUDIO_RATE, Clip


def _series(values: list[float], fps: float = 25.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ear = np.array(values, dtype=float)
    return ear, np.arange(ear.size) / fps, np.arange(ear.size)


def test_one_blink_against_a_personal_baseline() -> None:
    # Small eyes: open at 0.20, closing to 0.05 for three frames.
    ear, t, idx = _series([0.2] * 20 + [0.16, 0.05, 0.05, 0.06, 0.16] + [0.2] * 20)
    blinks = detect_blinks(ear, t, idx)
    assert len(blinks) == 1
    # Closed from the first frame under 75 % of the open level (0.05 at frame 21) until the
    # lids are back above 85 % of it: 0.16 at frame 24 is still reopening.
    assert blinks[0].start_frame == 21 and blinks[0].end_frame == 24


def test_lids_lowered_slowly_are_not_a_blink() -> None:
    # A downward look: the openness sinks to 55 % over half a second, stays, and comes back.
    down = list(np.linspace(0.3, 0.165, 13)) + [0.165] * 4 + list(np.linspace(0.165, 0.3, 13))
    ear, t, idx = _series([0.3] * 25 + down + [0.3] * 25)
    assert detect_blinks(ear, t, idx) == []
    # The same depth reached in two frames is a blink.
    fast = [0.22, 0.165, 0.165, 0.165, 0.165, *np.linspace(0.165, 0.3, 6)]
    ear, t, idx = _series([0.3] * 25 + fast + [0.3] * 25)
    assert len(detect_blinks(ear, t, idx)) == 1


def test_double_blink_that_half_reopens_is_two_blinks() -> None:
    # Lids shut, half reopen (to 70 % of open: never back above the 85 % reopening level), shut again.
    double = [0.1, 0.0, 0.0, 0.12, 0.2, 0.21, 0.2, 0.06, 0.0, 0.0, 0.15, 0.26]
    ear, t, idx = _series([0.3] * 25 + double + [0.3] * 25)
    blinks = detect_blinks(ear, t, idx)
    assert [(b.start_frame, b.end_frame) for b in blinks] == [(25, 29), (31, 35)]
    # Landmark jitter on closed lids (a rise of 15 % of open) does not split a blink.
    jitter = [0.1, 0.0, 0.045, 0.0, 0.045, 0.0, 0.15, 0.26]
    ear, t, idx = _series([0.3] * 25 + jitter + [0.3] * 25)
    assert len(detect_blinks(ear, t, idx)) == 1


def test_single_frame_dip_is_not_a_blink() -> None:
    ear, t, idx = _series([0.3] * 20 + [0.05] + [0.3] * 20)
    assert detect_blinks(ear, t, idx) == []


def test_eyes_held_closed_are_not_a_blink() -> None:
    ear, t, idx = _series([0.3] * 20 + [0.02] * 40 + [0.3] * 20)  # 1.6 s closed
    assert detect_blinks(ear, t, idx) == []


def test_blink_must_start_from_open_eyes() -> None:
    ear, t, idx = _series([0.02] * 5 + [0.3] * 30)
    assert detect_blinks(ear, t, idx) == []


def test_two_blinks_and_a_lost_face_in_between() -> None:
    values = [0.3] * 10 + [0.05] * 3 + [0.3] * 10 + [np.nan] * 5 + [0.3] * 5 + [0.04] * 4 + [0.3] * 10
    ear, t, idx = _series(values)
    assert len(detect_blinks(ear, t, idx)) == 2


def test_mouth_cycles_count_syllables() -> None:
    fps = 25.0
    t = np.arange(int(4 * fps)) / fps
    mar = np.full(t.size, 0.02)
    speaking = (t >= 1.0) & (t < 3.0)
    # Five syllables in two seconds: the lips open and close five times.
    mar[speaking] += 0.15 * np.clip(np.sin(2 * np.pi * 2.5 * (t[speaking] - 1.0)), 0, None)
    ev = mouth_cycles(mar, t, np.arange(t.size))
    assert len(ev.peaks_frames) == 5
    assert ev.stretch_s is not None and 1.0 <= ev.stretch_s[0] < ev.stretch_s[1] <= 3.0
    still = mouth_cycles(np.full(t.size, 0.02) + 0.002 * np.sin(t * 40), t, np.arange(t.size))
    assert still.peaks_frames == []


def test_a_jittered_opening_counts_as_one_syllable() -> None:
    """A face filmed hand-held makes FaceMesh's inner lips jitter by a frame or two, which can
    notch one opening into two peaks 0.08 s apart; four syllables read one by one are four."""
    fps = 25.0
    t = np.arange(int(4 * fps)) / fps
    mar = np.full(t.size, 0.02)
    for centre in (1.0, 1.6, 2.2, 2.8):  # one digit every 0.6 s
        near = np.abs(t - centre) < 0.15
        mar[near] += 0.15 * np.cos(np.pi * (t[near] - centre) / 0.3)
        mar[round(centre * fps)] -= 0.03  # the notch: two maxima, one frame either side
    ev = mouth_cycles(mar, t, np.arange(t.size))
    assert len(ev.peaks_frames) == 4, ev.peaks_frames


def test_expected_syllables_by_language() -> None:
    assert expected_syllables("3816", "zh") == (4, 4)
    assert expected_syllables("3807", "en") == (4, 6)  # zero and seven have two syllables


def test_autocorrelation_tells_smooth_from_shuffled() -> None:
    x = np.sin(np.linspace(0, 6 * np.pi, 150))
    assert lag1_autocorrelation(x) > 0.9
    assert abs(lag1_autocorrelation(np.random.default_rng(0).permutation(x))) < 0.3


def test_av_sync_own_audio_beats_shifted_audio() -> None:

    fps, seconds = 25.0, 4.0
    t = np.arange(int(fps * seconds)) / fps
    rng = np.random.default_rng(1)
    # Syllables at irregular times: the mouth opens, and a 200 Hz voice sounds, together.
    onsets = np.sort(rng.uniform(0.5, 3.5, 9))
    mar = np.full(t.size, 0.02)
    audio = np.zeros(int(AUDIO_RATE * seconds), dtype=np.float32)
    audio_t = np.arange(audio.size) / AUDIO_RATE
    for o in onsets:
        mar += 0.2 * np.exp(-(((t - o) / 0.06) ** 2))
        loudness = np.exp(-(((audio_t - o) / 0.06) ** 2))
        audio += (0.3 * loudness * np.sin(2 * np.pi * 200 * audio_t)).astype(np.float32)
    audio += rng.normal(0, 1e-3, audio.size).astype(np.float32)
    own = audio_visual(audio, t, mar)
    dubbed = audio_visual(np.roll(audio, int(0.5 * AUDIO_RATE)), t, mar)
    silent = audio_visual(np.zeros_like(audio), t, mar)
    assert own.present and own.sync > 0.5
    assert dubbed.sync < own.sync - 0.3
    assert not silent.present


def test_blink_played_backwards_has_the_fast_half_last() -> None:
    from liveness.blink import blink_direction

    # Lids close in 2 frames and reopen over 6, as eyelids do.
    one = [0.3] * 15 + [0.2, 0.05, 0.05, 0.1, 0.15, 0.2, 0.22, 0.25, 0.27] + [0.3] * 15
    ear, t, idx = _series(one * 2)
    forward = blink_direction(ear, t, detect_blinks(ear, t, idx), idx)
    back = ear[::-1].copy()
    backward = blink_direction(back, t, detect_blinks(back, t, idx), idx)
    assert len(forward.log_speed_ratios) == len(backward.log_speed_ratios) == 2
    assert min(forward.log_speed_ratios) > 0 > max(backward.log_speed_ratios)
    assert forward.closing_minus_opening_frames < 0 < backward.closing_minus_opening_frames
    assert not forward.plays_backwards and backward.plays_backwards
    flat, t, idx = _series([0.3] * 60)
    assert not blink_direction(flat, t, [], idx).plays_backwards  # no blink, no verdict


def test_a_blink_with_lost_frames_is_read_the_most_forward_way_the_frames_allow() -> None:
    """A forward blink with 120 ms lost as the lids reopen (a live capture whose service fell
    behind, or a browser recorder dropping frames on a loaded machine). Counted per frame, the
    step across the gap looks like a fast reopening and the forward blink "plays backwards";
    spread over the intervals it spans, it does not. Played backwards, the fast half is the
    reopening however the gap is read, and the rule still flags it."""
    from liveness.blink import blink_direction

    one = [0.3] * 20 + [0.22, 0.12, 0.05, 0.08, 0.12, 0.16, 0.2, 0.24, 0.27] + [0.3] * 20
    ear, t, idx = _series(one)
    forward = blink_direction(ear, t, detect_blinks(ear, t, idx), idx)
    assert forward.log_speed_ratios == pytest.approx([0.916], abs=0.01) and not forward.plays_backwards
    assert blink_direction(ear[::-1].copy(), t, detect_blinks(ear[::-1].copy(), t, idx), idx).plays_backwards
    keep = np.ones(ear.size, dtype=bool)
    keep[[23, 24, 25]] = False
    e, times, i = ear[keep], t[keep], np.arange(int(keep.sum()))
    blinks = detect_blinks(e, times, i)
    assert len(blinks) == 1  # still a blink for the blink check
    gapped = blink_direction(e, times, blinks, i)
    assert gapped.with_lost_frames == 1 and gapped.closing_minus_opening_frames == 0  # no duration evidence
    assert gapped.log_speed_ratios[0] > -0.25 and not gapped.plays_backwards
    even = np.arange(e.size) / 25.0  # the same frames counted as if none were lost
    assert blink_direction(e, even, detect_blinks(e, even, i), i).plays_backwards  # the false alarm
    # Played backwards, with a frame lost in its fast half (the reopening): still flagged. Lost
    # in its slow half, the closing step could hold the whole motion and the reading abstains:
    # what reading gaps forwards gives up (benchmarks/blink_direction_drops.py measures it).
    back = ear[::-1].copy()
    keep_back = np.ones(back.size, dtype=bool)
    keep_back[int(np.argmin(back)) + 1] = False
    eb, tb, ib = back[keep_back], t[keep_back], np.arange(int(keep_back.sum()))
    assert blink_direction(eb, tb, detect_blinks(eb, tb, ib), ib).plays_backwards


def test_mouth_run_backwards_fits_forward_sound_worse() -> None:
    # Syllables of uneven length: the mouth opens fast and closes slowly, the voice follows.
    t = np.arange(100) / 25.0
    rng = np.random.default_rng(2)
    onsets = np.cumsum(rng.uniform(0.18, 0.4, 12)) + 0.3
    mar = np.full(t.size, 0.05)
    audio_t = np.arange(int(4 * AUDIO_RATE)) / AUDIO_RATE
    audio = np.zeros(audio_t.size, np.float32)
    for o in onsets:
        shape = np.where(t < o, np.exp(-(((t - o) / 0.03) ** 2)), np.exp(-((t - o) / 0.12)))
        mar += 0.2 * shape
        loud = np.where(audio_t < o, np.exp(-(((audio_t - o) / 0.03) ** 2)), np.exp(-((audio_t - o) / 0.12)))
        audio += (0.3 * loud * np.sin(2 * np.pi * 200 * audio_t)).astype(np.float32)
    audio += rng.normal(0, 1e-3, audio.size).astype(np.float32)
    recorded = audio_visual(audio, t, mar)
    reversed_pictures = audio_visual(audio, t, mar[::-1].copy())
    assert recorded.sync > recorded.sync_backwards
    assert reversed_pictures.sync < reversed_pictures.sync_backwards


def test_sync_over_a_window_the_clip_does_not_reach_is_zero_not_an_error() -> None:
    audio = (0.1 * np.sin(np.arange(AUDIO_RATE) / 10)).astype(np.float32)
    none = audio_visual(audio, np.array([]), np.array([]))
    assert none.present and none.sync == 0.0 and none.voiced.size == 0


def _jaw_clip(jaw_moves: bool, mouth_moves: bool = True) -> tuple[Clip, Track]:
    """A textured face whose chin (rows below y 175) moves down by d(t) px as the mouth opens
    (``jaw_moves``), or stays put while the mouth opens (paper, as in a cut-out photo)."""
    rng = np.random.default_rng(3)
    texture = cv2.GaussianBlur(rng.integers(0, 255, (260, 240), dtype=np.uint8), (0, 0), 2.0)
    shape = np.zeros((468, 2), np.float32)
    shape[234], shape[454] = (60, 120), (180, 120)  # the face's sides: 120 px wide
    shape[17], shape[152], shape[61], shape[291] = (120, 160), (120, 200), (95, 150), (145, 150)
    for k, i in enumerate((10, 151, 9, 108, 337, 67, 297)):  # the forehead, above the eyes
        shape[i] = (90 + 10 * k, 50 + 3 * (k % 3))
    frames, measures = [], []
    for i in range(50):
        d = 3.0 * (1 + np.sin(2 * np.pi * i / 12)) / 2 if mouth_moves else 0.0
        image = texture.copy()
        if jaw_moves:
            shifted = cv2.warpAffine(texture, np.float32([[1, 0, 0], [0, 1, d]]), (240, 260))
            image[175:] = shifted[175:]
        frames.append(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
        box = np.array([50, 60, 190, 215], np.float32)
        measures.append(FrameMeasure(i, i / 25, 1, True, box, mar=0.1 + 0.05 * d, shape=shape))
    return Clip(frames, np.arange(50) / 25), Track(measures)


def test_jaw_coupling_sees_a_chin_that_moves_with_the_mouth_and_paper_that_does_not() -> None:
    clip, track = _jaw_clip(jaw_moves=True)
    real = jaw_coupling(clip, track, 0.0, 2.0)
    assert real.measured and real.coupling > 0.9, real
    paper = jaw_coupling(*_jaw_clip(jaw_moves=False), 0.0, 2.0)
    assert paper.measured and abs(paper.coupling) < 0.2, paper
    # Only the frames inside the window count; a mouth that never moved is no evidence.
    assert jaw_coupling(clip, track, 0.0, 0.2).pairs == 5 and not jaw_coupling(clip, track, 0.0, 0.2).measured
    still = jaw_coupling(*_jaw_clip(jaw_moves=False, mouth_moves=False), 0.0, 2.0)
    assert not still.measured
