"""Has the prompted action happened yet? Online detectors for a live, guided capture.

A live capture (api/certification/live.py) tracks the face as frames arrive and must say
"好的" as soon as the person has blinked, turned or read the digits, and prompt again when
they have not. These functions answer that from the frames measured so far, with the same
detectors and the same reaction-time rules as the offline checks (liveness/analyse.py), run
on the recent part of the series only so each call stays cheap.

They decide what the page is told, never the verdict: when the capture ends the whole of it
is judged by ``LivenessAnalyzer.analyse`` with the windows the server actually prompted, so a
confirmation that the full judgement does not bear out still fails.
"""

from __future__ import annotations

import numpy as np

from liveness.analyse import BLINK_REACTION_S, SPEECH_REACTION_S
from liveness.blink import LOCAL_WINDOW_S, detect_blinks
from liveness.mouth import count_fits, expected_syllables, mouth_cycles
from liveness.tracking import FrameMeasure, Track
from liveness.turn import BASELINE_S, judge_turn, nose_offset

# Mouth rest and range are percentiles of the series: a second before the prompt gives them
# resting frames to stand on.
MOUTH_CONTEXT_S = 1.0
# The digits are confirmed once every syllable was seen and the mouth has been still this long
# (so the person is not cut off while a last syllable is still coming).
READING_SETTLE_S = 0.5


def _since(frames: list[FrameMeasure], t: float) -> list[FrameMeasure]:
    """The frames measured at or after ``t`` (frames arrive in time order)."""
    i = len(frames)
    while i > 0 and frames[i - 1].t >= t:
        i -= 1
    return frames[i:]


def _reaction(start_s: float, delay_s: float) -> float:
    # As offline: a window that opens at the very first frame has no reaction time to wait for.
    return start_s + (delay_s if start_s > 0 else 0.0)


def blinks_seen(frames: list[FrameMeasure], start_s: float, end_s: float) -> int:
    """Blinks begun after the prompt's reaction time and inside its window."""
    recent = Track(_since(frames, start_s - LOCAL_WINDOW_S))
    if len(recent.frames) < 3:
        return 0
    ear, times = recent.series("ear_open_eye"), recent.times
    blinks = detect_blinks(ear, times, recent.series("index").astype(int))
    earliest = _reaction(start_s, BLINK_REACTION_S)
    return sum(1 for b in blinks if earliest <= b.start_s <= end_s)


def turned(frames: list[FrameMeasure], side: str, start_s: float, end_s: float) -> bool:
    """The head turned to ``side`` (the person's own) from where it was before the prompt."""
    recent = Track(_since(frames, start_s - BASELINE_S))
    if not recent.frames:
        return False
    return judge_turn(nose_offset(recent), recent.times, side, start_s, end_s).done


def _cycles_read(frames: list[FrameMeasure], start_s: float, end_s: float) -> np.ndarray | None:
    """Times of the mouth-opening cycles begun after the digits prompt's reaction time and
    inside its window (None: too few frames to say)."""
    recent = Track(_since(frames, start_s - MOUTH_CONTEXT_S))
    if len(recent.frames) < 5:
        return None
    mouth = mouth_cycles(recent.series("mar"), recent.times, recent.series("index").astype(int))
    peaks = np.array(mouth.peak_times)
    return peaks[(peaks >= _reaction(start_s, SPEECH_REACTION_S)) & (peaks <= end_s)]


def digits_read(
    frames: list[FrameMeasure], digits: str, language: str, start_s: float, end_s: float, now_s: float
) -> bool:
    """As many mouth-opening cycles as the digits have syllables, begun after the prompt, and
    the mouth still since the last one for READING_SETTLE_S."""
    inside = _cycles_read(frames, start_s, end_s)
    if inside is None:
        return False
    fewest, _ = expected_syllables(digits, language)
    return inside.size >= fewest and now_s - float(inside[-1]) >= READING_SETTLE_S


def digits_read_as_judged(
    frames: list[FrameMeasure], digits: str, language: str, start_s: float, end_s: float
) -> bool:
    """When the digits window has closed without ``digits_read``: whether the cycles seen
    would still meet ``read_digits``'s count (``count_fits``).
    ``digits_read`` waits for every syllable so that no slow reader is cut off; but a reading
    one or two short is one the judgement accepts, and asking for it again only costs the
    person another reading (the count runs one short on fast speech: liveness/mouth.py)."""
    inside = _cycles_read(frames, start_s, end_s)
    if inside is None:
        return False
    return count_fits(int(inside.size), digits, language)
