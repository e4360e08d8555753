"""Build presentation attacks from real footage, for evaluation (ISO/IEC 30107-3 style).

Every attack is made in code from ../shared/data so that anyone can rebuild the set:
a still photo turned into a video (static, or slowly panned and zoomed like a hand-held
print), a cut-out photo (抠洞照片, GB/T 41987: a still of person B with eye and mouth holes
through which person A's real face shows), two people's clips spliced, frames shuffled,
frames reversed, a clip with another clip's audio dubbed on. Attacks that need a challenge
(another challenge's digits and timing, person A's clip for person B's ID) are made by the
benchmark, not here.
"""

from __future__ import annotations

import cv2
import numpy as np

from liveness.video import Clip


def _held(
    picture: np.ndarray, i: int, n: int, rng: np.random.Generator, *, moving: bool, side: int = 480
) -> np.ndarray:
    """Frame ``i`` of ``n`` of a picture filmed on a ``side``-pixel square: still, or slowly
    panned, zoomed and tilted with hand tremor and a little sensor noise (a hand-held print)."""
    h, w = picture.shape[:2]
    scale0 = side / max(h, w) * 0.9
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
    frame = cv2.warpAffine(picture, m, (side, side), borderMode=cv2.BORDER_CONSTANT, borderValue=(40, 40, 40))
    if moving:  # sensor noise, so frames are not bit-identical
        frame = np.clip(frame.astype(np.int16) + rng.integers(-2, 3, frame.shape), 0, 255).astype(np.uint8)
    return frame


def photo_video(photo: np.ndarray, seconds: float = 3.0, fps: float = 25.0, *, moving: bool) -> Clip:
    """A still photo as a clip; ``moving`` adds a slow pan, zoom and tilt like a hand-held print."""
    n = int(seconds * fps)
    rng = np.random.default_rng(7)
    frames = [_held(photo, i, n, rng, moving=moving) for i in range(n)]
    return Clip(frames, np.arange(n) / fps, None, source="photo-video")


# FaceMesh contours of the holes: both eyes (with the lids) and the outer lips.
EYE_HOLES = (
    (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246),
    (362, 382, 381, 380, 374, 373, 390, 249, 263, 466, 388, 387, 386, 385, 384, 398),
)
MOUTH_HOLE = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
EYE_HOLE_GROWTH, MOUTH_HOLE_GROWTH = 1.8, 1.3
# Points that place person A's face behind the holes: eye corners, nose, mouth corners.
ALIGN_POINTS = (33, 133, 362, 263, 1, 61, 291, 168)


def hand_held(clip: Clip, seed: int = 7) -> Clip:
    """The clip's own frames filmed hand-held (``_held``: pan, zoom, tilt, tremor, sensor
    noise): a genuine face through a phone held in the hand, for the capture-condition
    benchmarks (benchmarks/mouth_count.py)."""
    rng = np.random.default_rng(seed)
    n = len(clip.frames)
    frames = [_held(f, i, n, rng, moving=True) for i, f in enumerate(clip.frames)]
    return Clip(frames, clip.times.copy(), clip.audio, source=f"{clip.source} hand-held")


def cutout_holes(shape: np.ndarray, image_shape: tuple[int, ...]) -> np.ndarray:
    """The hole mask (uint8 0/1) of a cut-out made from a photo with these landmarks: each eye
    and the mouth, their contour grown about its centre so that the lids and lips show."""
    mask = np.zeros(image_shape[:2], np.uint8)
    for contour, growth in [(c, EYE_HOLE_GROWTH) for c in EYE_HOLES] + [(MOUTH_HOLE, MOUTH_HOLE_GROWTH)]:
        pts = shape[list(contour)].astype(np.float64)
        centre = pts.mean(axis=0)
        hull = cv2.convexHull(((pts - centre) * growth + centre).round().astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 1)
    return mask


def cutout_photo(
    still: np.ndarray,
    still_shape: np.ndarray,
    behind: Clip,
    behind_shapes: list[np.ndarray | None],
    *,
    moving: bool,
) -> Clip:
    """A cut-out photo attack (抠洞照片): person B's still with holes at the eyes and mouth,
    held in front of person A, whose real eyes and mouth show through. ``still_shape`` is B's
    landmarks on the still; ``behind_shapes`` A's landmarks per frame of ``behind`` (None where
    not found: the last placement is kept, as a hand stays where it was). Outside the holes
    every frame is the still (then, if ``moving``, the whole picture is hand-held)."""
    mask = cutout_holes(still_shape, still.shape)[..., None].astype(bool)
    target = still_shape[list(ALIGN_POINTS)].astype(np.float32)
    rng = np.random.default_rng(11)
    frames, m = [], None
    n = len(behind.frames)
    for i, (image, shape) in enumerate(zip(behind.frames, behind_shapes, strict=True)):
        if shape is not None:
            m, _ = cv2.estimateAffinePartial2D(shape[list(ALIGN_POINTS)].astype(np.float32), target)
        if m is None:
            continue
        placed = cv2.warpAffine(image, m, (still.shape[1], still.shape[0]), borderMode=cv2.BORDER_REPLICATE)
        composite = np.where(mask, placed, still)
        frames.append(_held(composite, i, n, rng, moving=True) if moving else composite)
    if not frames:
        raise ValueError("the clip behind the cut-out has no face to place")
    times = behind.times[len(behind.frames) - len(frames) :] - behind.times[len(behind.frames) - len(frames)]
    return Clip(frames, times, None, source="cutout-photo")


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
