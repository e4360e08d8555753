"""Blinks from the eye-openness series: closed-then-open events against a personal baseline.

Why a personal baseline: older eyes, hooded lids, glasses and small eyes open to very
different EAR levels (0.2 to 0.45 on our clips), so "closed" is a fall to a fraction of this
person's open level, not a fixed number. Hysteresis (close below one level, reopen above a
higher one) stops flicker from counting twice; a duration window rejects single-frame
landmark glitches and eyes held shut.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLOSE_FRACTION = 0.5  # closed when EAR < 50 % of the person's open level
REOPEN_FRACTION = 0.75  # reopened when EAR > 75 % of it
MIN_CLOSED_S = 0.06  # two frames at 25-30 fps: one-frame dips are landmark glitches
MAX_CLOSED_S = 0.8
BASELINE_PERCENTILE = 75


@dataclass(frozen=True)
class Blink:
    start_frame: int
    end_frame: int  # last closed frame
    start_s: float
    end_s: float
    min_ear: float

    def as_dict(self) -> dict[str, object]:
        return {
            "frames": [self.start_frame, self.end_frame],
            "seconds": [round(self.start_s, 3), round(self.end_s, 3)],
            "min_ear": round(self.min_ear, 3),
        }


def open_baseline(ear: np.ndarray) -> float:
    valid = ear[np.isfinite(ear)]
    return float(np.percentile(valid, BASELINE_PERCENTILE)) if valid.size else float("nan")


def detect_blinks(ear: np.ndarray, times: np.ndarray, frame_index: np.ndarray) -> list[Blink]:
    """Blink events in a series (NaN where the face was not measured)."""
    baseline = open_baseline(ear)
    if not np.isfinite(baseline) or baseline <= 0.05:
        return []
    close, reopen = CLOSE_FRACTION * baseline, REOPEN_FRACTION * baseline
    blinks: list[Blink] = []
    state = "unknown"  # a blink must start from eyes seen open
    start = -1
    for i, value in enumerate(ear):
        if not np.isfinite(value):
            state, start = "unknown", -1
            continue
        if state in ("unknown", "open"):
            if value > reopen:
                state = "open"
            elif value < close and state == "open":
                state, start = "closed", i
        elif state == "closed" and value > reopen:
            end = i - 1
            duration = times[end] - times[start] + _frame_period(times)
            if MIN_CLOSED_S <= duration <= MAX_CLOSED_S:
                blinks.append(
                    Blink(
                        int(frame_index[start]),
                        int(frame_index[end]),
                        float(times[start]),
                        float(times[end]),
                        float(np.nanmin(ear[start : end + 1])),
                    )
                )
            state = "open"
    return blinks


def _frame_period(times: np.ndarray) -> float:
    return float(np.median(np.diff(times))) if times.size > 1 else 0.04
