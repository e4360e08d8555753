"""Signals that tell a camera filming a face from a face rendered out of one photo.

A face-animation tool (照片活化) makes every frame by warping and re-painting ONE still's
texture; a cut-out photo (抠洞照片) shows a still with someone's real eyes and mouth behind it.
A camera, on the other hand, sees new light every frame. What is measured, per clip, from
the decoded frames and the tracked landmarks (nothing is learned here):

- ``texture_reuse``: the fine detail (high-pass residual) of forehead, cheeks and nose
  bridge in one frame against the next, after following the face with its landmarks and a
  sub-pixel phase correlation per patch. A sensor's noise is new in every frame, so real
  footage correlates less; a re-rendered or still texture correlates almost perfectly.
- ``background_reuse``: the same without motion compensation, away from the face (a
  codec's skipped blocks make a still background look reused too: reported, weighed by
  the fitted model only as far as it earns it).
- ``pulse_snr``: remote photoplethysmography: the skin's colour follows the heartbeat; the
  share of the green-minus-red cheek signal's power in its strongest 0.7-3.5 Hz peak.
- ``mouth_detail``: when the mouth opens, teeth and the dark inside of the mouth give hard
  contrast; generators paint a soft, low-contrast inner mouth.
- ``head_tremor``: the rigid head's small, fast movements (residual of the nose-bridge
  track after 0.3 s smoothing, in face widths per frame): a living head is never still;
  an animated photo's pose curve is drawn smooth.
- ``shape_jitter``: how much the face's own shape (all 468 landmarks, after removing the
  head's rigid motion by a similarity fit) changes from frame to frame beyond smooth motion
  (log10 RMS second difference, in face widths): a rendered face's geometry is synthesised
  anew every frame and "boils"; a real face's shape is held by bone and muscle.
- ``jaw_coupling``: correlation of the lips' opening with the chin's drop: a real mouth
  opens with the jaw; some generators move the lips alone.

Every signal is in units of the face itself (face widths, its own contrast, correlations),
never of the file (size, codec), so that re-encoding or resizing real footage leaves it
where it was (BENCHMARKS.md measures exactly that on re-encoded and upscaled bona fide
clips).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from liveness.tracking import Track
from liveness.video import Clip

# FaceMesh points: face sides (width), chin, nose tip; patch centres on rigid skin.
SIDE_L, SIDE_R, CHIN, NOSE_TIP = 234, 454, 152, 1
SKIN_PATCHES = (151, 50, 280, 6)  # forehead, left cheek, right cheek, nose bridge
CHEEKS = (50, 280, 205, 425)
RIGID = (6, 168, 197, 195, 5, 4, 1, 10, 151, 9, 33, 263, 133, 362)
INNER_LIPS = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)
MAX_PAIRS = 60  # frame pairs sampled for the residual correlations: cost bounded per clip
PATCH_SHARE = 0.09  # patch half-side as a share of the face width
HIGHPASS_SIGMA = 1.0
PULSE_BAND_HZ = (0.7, 3.5)
MIN_PULSE_S = 2.5
OPEN_MOUTH_MAR = 0.15
SIGNAL_NAMES = (
    "texture_reuse",
    "background_reuse",
    "pulse_snr",
    "mouth_detail",
    "head_tremor",
    "jaw_coupling",
    "shape_jitter",
)


@dataclass(frozen=True)
class RenderingSignals:
    texture_reuse: float
    background_reuse: float
    pulse_snr: float
    mouth_detail: float
    head_tremor: float
    jaw_coupling: float
    shape_jitter: float

    def as_dict(self) -> dict[str, float | None]:
        return {k: (None if not math.isfinite(v) else round(v, 4)) for k, v in asdict(self).items()}

    def vector(self) -> list[float]:
        return [float(getattr(self, k)) for k in SIGNAL_NAMES]


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)


def _highpass(grey: np.ndarray) -> np.ndarray:
    return grey - cv2.GaussianBlur(grey, (0, 0), HIGHPASS_SIGMA)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = math.sqrt(float(np.sum(a * a) * np.sum(b * b)))
    return float(np.sum(a * b) / den) if den > 1e-6 else float("nan")


def _face_width(shape: np.ndarray) -> float:
    return float(np.linalg.norm(shape[SIDE_L] - shape[SIDE_R]))


def _patch(image: np.ndarray, cx: float, cy: float, half: int) -> np.ndarray | None:
    x0, y0 = round(cx) - half, round(cy) - half
    if x0 < 0 or y0 < 0 or x0 + 2 * half > image.shape[1] or y0 + 2 * half > image.shape[0]:
        return None
    return image[y0 : y0 + 2 * half, x0 : x0 + 2 * half]


def _pairs(track: Track) -> list[tuple[int, int]]:
    """Consecutive analysed frames both tracked, at most MAX_PAIRS spread over the clip."""
    fr = track.frames
    pairs = [(k, k + 1) for k in range(len(fr) - 1) if fr[k].tracked and fr[k + 1].tracked]
    if len(pairs) > MAX_PAIRS:
        pick = np.linspace(0, len(pairs) - 1, MAX_PAIRS).round().astype(int)
        pairs = [pairs[i] for i in pick]
    return pairs


def _window_as_fitted(pa: np.ndarray, pb: np.ndarray, win: np.ndarray) -> None:
    """Window the two patches in place where OpenCV before 5.1 did, inside phaseCorrelate:
    when the side needs no padding for its DFT (``getOptimalDFTSize``), it multiplied the
    caller's arrays by the window instead of a padded copy. The committed model was fitted on
    that detail; 5.1 leaves its inputs alone, which moved texture_reuse of a training clip from
    0.84 to 0.71. Doing it here keeps the signal the same under every OpenCV release."""
    if all(cv2.getOptimalDFTSize(n) == n for n in pa.shape):
        np.multiply(pa, win, out=pa)
        np.multiply(pb, win, out=pb)


def residual_reuse(clip: Clip, track: Track) -> tuple[float, float]:
    """(face, background) median correlation of consecutive frames' fine detail."""
    face_c: list[float] = []
    back_c: list[float] = []
    # The pairs come in order and most share a frame with the one before: keep that frame's
    # grey (one, not all: a long clip's greys would take a gigabyte).
    kept: tuple[int, np.ndarray] | None = None

    def grey(index: int) -> np.ndarray:
        nonlocal kept
        if kept is None or kept[0] != index:
            kept = (index, _grey(clip.frames[index]))
        return kept[1]

    for a, b in _pairs(track):
        fa, fb = track.frames[a], track.frames[b]
        sa, sb = fa.shape, fb.shape
        assert sa is not None and sb is not None and fa.box is not None
        width = _face_width(sa)
        half = max(6, round(PATCH_SHARE * width))
        m, _ = cv2.estimateAffinePartial2D(sb[list(RIGID)], sa[list(RIGID)])
        if m is None:
            continue
        ga, gb = grey(fa.index), grey(fb.index)
        h, w = ga.shape
        # Only the face's region is warped (frame b onto frame a's face), for speed.
        bx0, by0 = int(max(0, fa.box[0] - 0.2 * width)), int(max(0, fa.box[1] - 0.2 * width))
        bx1, by1 = int(min(w, fa.box[2] + 0.2 * width)), int(min(h, fa.box[3] + 0.2 * width))
        m[:, 2] -= (bx0, by0)
        warped = cv2.warpAffine(
            gb, m, (bx1 - bx0, by1 - by0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        region = ga[by0:by1, bx0:bx1]
        per_patch = []
        for p in SKIN_PATCHES:
            pa = _patch(region, sa[p][0] - bx0, sa[p][1] - by0, half + 4)
            pb = _patch(warped, sa[p][0] - bx0, sa[p][1] - by0, half + 4)
            if pa is None or pb is None:
                continue
            win = cv2.createHanningWindow(pa.shape[::-1], cv2.CV_32F)
            (dx, dy), _ = cv2.phaseCorrelate(pa.copy(), pb.copy(), win)
            _window_as_fitted(pa, pb, win)
            if abs(dx) > 3 or abs(dy) > 3:
                continue
            shift = np.array([[1, 0, -dx], [0, 1, -dy]], dtype=np.float32)
            pb2 = cv2.warpAffine(
                pb, shift, pb.shape[::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT
            )
            qa, qb = _highpass(pa)[4:-4, 4:-4], _highpass(pb2)[4:-4, 4:-4]
            c = _corr(qa, qb)
            if math.isfinite(c):
                per_patch.append(c)
        if per_patch:
            face_c.append(float(np.median(per_patch)))
        # Background: the frame's top corners beside the face, not compensated.
        x0, y0, x1, _ = fa.box
        for xs in ((0, int(max(0, x0 - 0.2 * width))), (int(min(w, x1 + 0.2 * width)), w)):
            ys = (0, int(max(0, y0)))
            if xs[1] - xs[0] >= 16 and ys[1] - ys[0] >= 16:
                sub = (slice(ys[0], ys[1]), slice(xs[0], xs[1]))
                c = _corr(_highpass(ga[sub]), _highpass(gb[sub]))
                if math.isfinite(c):
                    back_c.append(c)
    med = lambda v: float(np.median(v)) if v else float("nan")  # noqa: E731
    return med(face_c), med(back_c)


def pulse_snr(clip: Clip, track: Track) -> float:
    """Share of the cheeks' green-minus-red power (0.7-3.5 Hz) in its strongest peak +-0.15 Hz."""
    values, times = [], []
    for f in track.frames:
        if not f.tracked or f.shape is None:
            continue
        half = max(3, round(PATCH_SHARE * _face_width(f.shape)))
        found = [
            _patch(clip.frames[f.index], float(f.shape[p][0]), float(f.shape[p][1]), half) for p in CHEEKS
        ]
        patches = [p for p in found if p is not None]
        if not patches:
            continue
        mean = np.mean([p.reshape(-1, 3).mean(axis=0) for p in patches], axis=0)  # B, G, R
        values.append(mean[1] / max(mean.sum(), 1e-6) - mean[2] / max(mean.sum(), 1e-6))
        times.append(f.t)
    if len(times) < 8 or times[-1] - times[0] < MIN_PULSE_S:
        return float("nan")
    t = np.asarray(times)
    fs = (len(t) - 1) / (t[-1] - t[0])
    grid = np.arange(t[0], t[-1], 1 / fs)
    x = np.interp(grid, t, np.asarray(values))
    x = x - np.convolve(x, np.ones(int(fs)) / int(fs), mode="same")  # remove drift slower than 1 s
    x = x * np.hanning(x.size)
    n = max(512, 1 << (x.size - 1).bit_length())
    power = np.abs(np.fft.rfft(x, n)) ** 2
    freq = np.fft.rfftfreq(n, 1 / fs)
    band = (freq >= PULSE_BAND_HZ[0]) & (freq <= PULSE_BAND_HZ[1])
    if not band.any() or power[band].sum() <= 0:
        return float("nan")
    peak = freq[band][int(np.argmax(power[band]))]
    near = band & (np.abs(freq - peak) <= 0.15)
    return float(power[near].sum() / power[band].sum())


def mouth_detail(clip: Clip, track: Track) -> float:
    """Contrast inside the open mouth (p95-p5 grey) over the face's own contrast, median over
    the most open frames; NaN if the mouth never opens."""
    mar = track.series("mar")
    if not np.isfinite(mar).any():
        return float("nan")
    order = [k for k in np.argsort(-np.nan_to_num(mar, nan=-1)) if mar[k] >= OPEN_MOUTH_MAR][:12]
    out = []
    for k in order:
        f = track.frames[k]
        assert f.shape is not None
        grey = cv2.cvtColor(clip.frames[f.index], cv2.COLOR_BGR2GRAY)
        mask = np.zeros(grey.shape, np.uint8)
        cv2.fillPoly(mask, [f.shape[list(INNER_LIPS)].round().astype(np.int32)], 1)
        inside = grey[mask > 0]
        face = np.zeros(grey.shape, np.uint8)
        cv2.fillConvexPoly(face, cv2.convexHull(f.shape.round().astype(np.int32)), 1)
        skin = grey[face > 0]
        if inside.size < 20 or skin.size < 100:
            continue
        spread = float(np.percentile(skin, 95) - np.percentile(skin, 5))
        out.append(float(np.percentile(inside, 95) - np.percentile(inside, 5)) / max(spread, 1.0))
    return float(np.median(out)) if out else float("nan")


def head_tremor(track: Track) -> float:
    """log10 of the RMS fast head movement (face widths per frame) after 0.3 s smoothing."""
    pts, times = [], []
    for f in track.frames:
        if f.tracked and f.shape is not None:
            pts.append(f.shape[list(RIGID)].mean(axis=0) / _face_width(f.shape))
            times.append(f.t)
    if len(pts) < 10:
        return float("nan")
    p = np.asarray(pts)
    fps = (len(times) - 1) / max(times[-1] - times[0], 1e-6)
    k = max(3, round(0.3 * fps) | 1)
    kernel = np.ones(k) / k
    smooth = np.stack([np.convolve(np.pad(p[:, i], k // 2, mode="edge"), kernel, "valid") for i in (0, 1)], 1)
    rms = float(np.sqrt(np.mean(np.sum((p - smooth) ** 2, axis=1))))
    return math.log10(max(rms, 1e-6))


def jaw_coupling(track: Track) -> float:
    """Correlation of the inner lips' opening with the chin's distance from the nose tip."""
    mar, chin = [], []
    for f in track.frames:
        if f.tracked and f.shape is not None and math.isfinite(f.mar):
            mar.append(f.mar)
            chin.append(float(np.linalg.norm(f.shape[CHIN] - f.shape[NOSE_TIP])) / _face_width(f.shape))
    if len(mar) < 10 or np.std(mar) < 1e-3:
        return float("nan")
    return _corr(np.asarray(mar), np.asarray(chin))


def shape_jitter(track: Track) -> float:
    """log10 RMS second difference of the landmarks after a similarity fit to the first
    tracked frame, in face widths (NaN on fewer than 6 tracked frames)."""
    shapes = [f.shape for f in track.frames if f.tracked and f.shape is not None]
    if len(shapes) < 6:
        return float("nan")
    ref = shapes[0]
    aligned = []
    for s in shapes:
        m, _ = cv2.estimateAffinePartial2D(s[list(RIGID)], ref[list(RIGID)])
        aligned.append(cv2.transform(s[None], m)[0] if m is not None else s)
    d2 = np.diff(np.asarray(aligned), 2, axis=0) / _face_width(ref)
    return math.log10(max(float(np.sqrt(np.mean(d2**2))), 1e-9))


def rendering_signals(clip: Clip, track: Track) -> RenderingSignals:
    face, back = residual_reuse(clip, track)
    return RenderingSignals(
        texture_reuse=face,
        background_reuse=back,
        pulse_snr=pulse_snr(clip, track),
        mouth_detail=mouth_detail(clip, track),
        head_tremor=head_tremor(track),
        jaw_coupling=jaw_coupling(track),
        shape_jitter=shape_jitter(track),
    )
