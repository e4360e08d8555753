"""Head turns: did the head turn to the side asked for, starting after the prompt?

Measured from the landmarks, not from a pose model: the nose tip's offset from the middle
of the two face sides, in face widths. Facing the camera it is ~0; turning to one's own
left (camera not mirrored, as recorded video is) moves the nose towards the image's right,
so the offset grows positive. A turn is a change from the head's position just before the
prompt by at least TURN_MIN face widths (about 20 degrees), reached inside the window, and
begun (a third of the way) no sooner than REACTION_S after the prompt: a head that was
already turning, or turned the other way, does not count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liveness.tracking import Track

SIDE_L, SIDE_R, NOSE_TIP = 234, 454, 1
TURN_MIN = 0.12  # face widths of nose offset
REACTION_S = 0.15
BASELINE_S = 0.5


def nose_offset(track: Track) -> np.ndarray:
    """Per analysed frame: + when the person looks to their own left, NaN when not tracked."""
    out = np.full(len(track.frames), np.nan)
    for i, f in enumerate(track.frames):
        if f.tracked and f.shape is not None:
            left, right = f.shape[SIDE_L], f.shape[SIDE_R]
            width = float(np.linalg.norm(right - left))
            if width > 1:
                out[i] = (f.shape[NOSE_TIP, 0] - (left[0] + right[0]) / 2) / width
    return out


@dataclass(frozen=True)
class Turn:
    side: str
    done: bool
    peak_change: float
    onset_s: float | None

    def as_dict(self) -> dict[str, object]:
        return {
            "side": self.side,
            "done": self.done,
            "peak_change_face_widths": round(self.peak_change, 3),
            "onset_s": None if self.onset_s is None else round(self.onset_s, 2),
        }


def judge_turn(offset: np.ndarray, times: np.ndarray, side: str, start_s: float, end_s: float) -> Turn:
    sign = 1.0 if side == "left" else -1.0
    before = offset[(times >= start_s - BASELINE_S) & (times <= start_s)]
    before = before[np.isfinite(before)]
    inside = (times >= start_s) & (times <= end_s)
    if not before.size:  # prompt at the very start: the first frames are the baseline
        first = offset[inside][np.isfinite(offset[inside])]
        before = first[:3]
    if not before.size:
        return Turn(side, False, 0.0, None)
    change = sign * (offset - float(np.median(before)))
    peak = float(np.nanmax(change[inside])) if np.isfinite(change[inside]).any() else 0.0
    onset_idx = np.flatnonzero(inside & (change >= TURN_MIN / 3))
    onset = float(times[onset_idx[0]]) if onset_idx.size else None
    done = peak >= TURN_MIN and onset is not None and onset >= start_s + (REACTION_S if start_s > 0 else 0.0)
    return Turn(side, done, peak, onset)
