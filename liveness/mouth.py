"""Reading digits aloud, seen on the lips: a speaking stretch and its mouth-opening cycles.

Each Mandarin digit is one syllable (一 二 三 四 五 六 七 八 九 零), and each syllable opens
and closes the mouth once, so the number of opening peaks of the inner-lip ratio (MAR)
inside the digit window should be close to the number of digits. English digits are one
syllable except "seven" and "zero" (two), which widens the expected range. The peaks come
from scipy's find_peaks with a prominence relative to this person's own mouth range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks

REST_PERCENTILE = 10
RANGE_PERCENTILE = 95
# Peak settings were chosen on the 20 GRID clips of speaker s1 (grid_s1) by the error of
# the cycle count against the sentence's syllables (mean -0.25, mean absolute 1.05); on the
# 11 held-out GRID clips of other speakers the same settings gave mean -0.09, MAE 1.00.
# Unsmoothed MAR: at 25 fps a three-frame filter merged neighbouring syllables.
MIN_OPENING = 0.01  # a peak must open the lips this much (MAR) above rest
PROMINENCE_FRACTION = 0.10  # ... and stand out by this share of the person's mouth range
# Two mouth openings closer than this are one syllable. It was 0.08 s (two frames), the
# closest English words of the grid_s1 alignments (word centres 0.08 s apart at the least,
# 0.11 s at the 5th percentile, 0.22 s at the median). But a face filmed hand-held gives
# FaceMesh's inner lips a jitter of one or two frames, which split one opening into two: the
# same 31 GRID clips through the attack builder's hand-held camera (liveness/attacks.py)
# counted +1.5 syllables too many on grid_s1 on average, and 7 of the 31 counts were off by
# more than 2. The digits are read one by one (the prompt says 逐个), a few a second at most,
# so 0.16 s (four frames at 25 fps) should merge no digit, and it merges most of that jitter.
# Chosen on grid_s1 (recorded and hand-held): counts off by more than 2 went from 7 of 40 to
# 3; on the 11 held-out clips of other speakers from 3 of 22 to 1 (recorded and hand-held).
# Its price: fast English syllables merge, so recorded GRID counts fall by 0.3-0.55 on
# average (benchmarks/mouth_count.py; BENCHMARKS.md, issue 10, session 14).
MIN_SYLLABLE_S = 0.16
MIN_RANGE = 0.04  # a speaking mouth spans at least this much MAR between rest and open
COUNT_TOLERANCE = 2  # cycles may differ from the syllables by this much (MAE above is ~1)


def expected_syllables(digits: str, language: str) -> tuple[int, int]:
    """(fewest, most) syllables reading ``digits`` aloud produces: one mouth cycle each."""
    n = len(digits)
    if language == "en":
        return n, n + sum(d in "07" for d in digits)
    return n, n


def count_fits(cycles: int, digits: str, language: str) -> bool:
    """Whether ``cycles`` mouth openings fit reading ``digits`` aloud: the syllables give or take
    COUNT_TOLERANCE (``read_digits``'s count; the live capture asks by the same rule)."""
    lo, hi = expected_syllables(digits, language)
    return lo - COUNT_TOLERANCE <= cycles <= hi + COUNT_TOLERANCE


@dataclass
class MouthEvidence:
    rest: float
    span: float
    peaks_frames: list[int]
    peak_times: list[float]
    stretch_s: tuple[float, float] | None
    activity: np.ndarray  # per analysed frame, True where the mouth is open beyond rest

    def as_dict(self) -> dict[str, object]:
        return {
            "rest_mar": round(self.rest, 4),
            "mar_range": round(self.span, 4),
            "cycles": len(self.peaks_frames),
            "peak_frames": self.peaks_frames,
            "speaking_stretch_s": None if self.stretch_s is None else [round(t, 2) for t in self.stretch_s],
        }


def mouth_cycles(
    mar: np.ndarray, times: np.ndarray, frame_index: np.ndarray, window: tuple[float, float] | None = None
) -> MouthEvidence:
    """Opening peaks of the (lightly smoothed) MAR series, optionally inside a time window."""
    finite = np.isfinite(mar)
    if finite.sum() < 5:
        return MouthEvidence(float("nan"), 0.0, [], [], None, np.zeros(mar.size, bool))
    smooth = np.interp(np.arange(mar.size), np.flatnonzero(finite), mar[finite])
    rest = float(np.percentile(smooth, REST_PERCENTILE))
    span = float(np.percentile(smooth, RANGE_PERCENTILE)) - rest
    period = float(np.median(np.diff(times))) if times.size > 1 else 0.04
    peaks, _ = find_peaks(
        smooth,
        height=rest + MIN_OPENING,
        prominence=max(MIN_OPENING * 0.5, PROMINENCE_FRACTION * span),
        distance=max(1, round(MIN_SYLLABLE_S / period)),
    )
    if span < MIN_RANGE:
        peaks = peaks[:0]  # lips never clearly left their resting position
    if window is not None:
        peaks = peaks[(times[peaks] >= window[0]) & (times[peaks] <= window[1])]
    activity = smooth > rest + MIN_OPENING
    stretch = None
    if peaks.size:
        stretch = (float(times[peaks[0]]), float(times[peaks[-1]]))
    return MouthEvidence(
        rest,
        span,
        [int(frame_index[p]) for p in peaks],
        [float(times[p]) for p in peaks],
        stretch,
        activity,
    )
