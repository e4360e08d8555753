"""Build presentation attacks from real footage, for evaluation (ISO/IEC 30107-3 style).

Every attack is made in code from ../shared/data so that anyone can rebuild the set:
a still photo turned into a video (static, or slowly panned and zoomed like a hand-held
print), two people's clips spliced, frames shuffled, frames reversed, a clip with another
clip's audio dubbed on. Attacks that need a challenge (another challenge's digits and
timing, person A's clip for person B's ID) are made by the benchmark, not here.
"""

from __future__ import annotations

import cv2
import numpy as np

from liveness.video import Clip


def photo_video(photo: np.ndarray, seconds: float = 3.0, fps: float = 25.0, *, moving: bool) -> Clip:
    """A still photo as a clip; ``moving`` adds a slow pan, zoom and tilt like a hand-held print."""
    h, w = photo.shape[:2]
    side = 480
    scale0 = side / max(h, w) * 0.9
    n = int(seconds * fps)
    frames = []
    rng = np.random.default_rng(7)
    for i in range(n):
        u = i / max(n - 1, 1)
        if moving:
            zoom = scale0 * (1.0 + 0.12 * u)
            angle = 4.0 * np.sin(2 * np.pi * u)
            dx, dy = 25 * np.sin(np.pi * u), 10 * np.cos(2 * np.pi * u)
            dx, dy = dx + rng.normal(0, 0.6), dy + rng.normal(0, 0.6)  # hand tremor
        else:
            zoom, angle, dx, dy = scale0, 0.0, 0.0, 0.0
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, zoom)
        m[:, 2] += np.array([side / 2 - w / 2 + dx, side / 2 - h / 2 + dy])
        frame = cv2.warpAffine(
            photo, m, (side, side), borderMode=cv2.BORDER_CONSTANT, borderValue=(40, 40, 40)
        )
        if moving:  # sensor noise, so frames are not bit-identical
            frame = np.clip(frame.astype(np.int16) + rng.integers(-2, 3, frame.shape), 0, 255).astype(
                np.uint8
            )
        frames.append(frame)
    return Clip(frames, np.arange(n) / fps, None, source="photo-video")


def _fit(frame: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return cv2.resize(frame, (shape[1], shape[0])) if frame.shape != shape else frame


def splice(first: Clip, second: Clip) -> Clip:
    """First half of one person's clip followed by the second half of another's."""
    a = first.frames[: len(first.frames) // 2]
    b = [_fit(f, a[0].shape) for f in second.frames[len(second.frames) // 2 :]]
    period = float(np.median(np.diff(first.times)))
    frames = a + b
    return Clip(frames, np.arange(len(frames)) * period, first.audio, source="splice")


def shuffled(clip: Clip, seed: int = 3) -> Clip:
    order = np.random.default_rng(seed).permutation(len(clip.frames))
    return Clip([clip.frames[i] for i in order], clip.times.copy(), clip.audio, source="shuffled")


def reversed_frames(clip: Clip) -> Clip:
    """Frames played backwards; the audio (if any) is left as it was, as a naive edit does."""
    return Clip(clip.frames[::-1], clip.times.copy(), clip.audio, source="reversed")


def dubbed(clip: Clip, other_audio: np.ndarray | None) -> Clip:
    """The same pictures with another recording's audio: a mute replay with dubbed sound."""
    return Clip(clip.frames, clip.times.copy(), other_audio, source="dubbed")
