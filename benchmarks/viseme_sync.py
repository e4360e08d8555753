"""Research benchmark: does a registry viseme classifier tell a GRID clip's own sound from a
dubbed one better than sound energy does?

The model is the one registry package found that maps sound to mouth shapes: npm
``@met4citizen/headaudio`` 0.1.0 (MIT), ``dist/model-en-mixed.bin``: 39 Gaussian prototypes
(one per English phoneme, each tagged with one of 15 Oculus visemes) over 12 tanh-compressed
MFCCs of 32 ms frames every 16 ms, classified by the nearest Mahalanobis distance. This file
ports the package's front end (pre-emphasis, its 32-tap low-pass, Hamming window, 40 mel bands
30-7800 Hz, DCT, lifter 22) and classifier; on a GRID clip's sound the features agree with the
package's own JavaScript to 5e-6 (checked with node by hand, not part of this script).

Each viseme is given the lip aperture of its reference shape (phonetics, chosen before looking
at any result and never tuned): open vowels 1, closed lips (p b m) 0, and so on. The predicted
aperture is then compared with the measured lip gap exactly as benchmarks/av_sync_features.py
compares sound energy (detrended, best correlation within +-2 frames), for the clip's own sound,
a dubbed partner's sound and the pictures reversed. A second test asks whether the lips are
actually closed where the sound is classified as p/b/m.

The model is not installed by `lifecert models install`, because nothing ships with it:

    npm pack @met4citizen/headaudio@0.1.0 && tar xzf met4citizen-headaudio-0.1.0.tgz
    python benchmarks/viseme_sync.py benchmarks/liveness_bona_fide.csv --root ../shared/data \\
        --model package/dist/model-en-mixed.bin

BENCHMARKS.md quotes the output.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from av_sync_features import _fill, _summary, lip_feature, load_grid, near_zero_lag
from scipy.ndimage import uniform_filter1d

from liveness.video import AUDIO_RATE

BLOCK, HOP, MEL_BANDS, COEFFS, LIFTER = 512, 256, 40, 12, 22
RECORD_FLOATS = 2 + COEFFS + COEFFS * (COEFFS + 1) // 2
SILENCE, BILABIAL = 14, 5
VOICE_LOG_ENERGY = -4.0  # the package's voice gate: -40 dB
SILENCE_SENSITIVITY = 1.2  # the package's default
VOTE = 6  # the package's majority vote over the last six frames
# Lip aperture of each viseme's reference shape, in the package's order:
# aa E I O U PP SS TH DD FF kk nn RR CH sil
APERTURE = np.array([1.0, 0.7, 0.5, 0.8, 0.4, 0.0, 0.3, 0.3, 0.4, 0.15, 0.5, 0.35, 0.4, 0.35, 0.0])


def load_model(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Viseme ids, means and inverse covariances of the prototypes in the package's .bin."""
    raw = path.read_bytes()
    visemes, means, inverses = [], [], []
    lower = np.tril_indices(COEFFS)
    for k in range(len(raw) // (4 * RECORD_FLOATS)):
        record = raw[4 * k * RECORD_FLOATS : 4 * (k + 1) * RECORD_FLOATS]
        visemes.append(record[7])  # header: packed phoneme (4 bytes), group at 5, viseme at 7
        floats = np.frombuffer(record, "<f4").astype(np.float64)
        means.append(floats[2 : 2 + COEFFS])
        inv = np.zeros((COEFFS, COEFFS))
        inv[lower] = floats[2 + COEFFS :]  # the lower triangle row by row: (0,0), (1,0), (1,1), ...
        inverses.append(inv + np.tril(inv, -1).T)
    return np.array(visemes), np.array(means), np.array(inverses)


def _mel_filters() -> np.ndarray:
    def mel(f: float) -> float:
        return 2595 * np.log10(1 + f / 700)

    edges = 700 * (10 ** (np.linspace(mel(30), mel(7800), MEL_BANDS + 2) / 2595) - 1)
    bins = np.floor(edges / AUDIO_RATE * BLOCK).astype(int)
    filters = np.zeros((MEL_BANDS, BLOCK // 2))
    for i in range(MEL_BANDS):
        lo, mid, hi = bins[i : i + 3]
        filters[i, lo:mid] = (np.arange(lo, mid) - lo) / (mid - lo)
        filters[i, mid:hi] = (hi - np.arange(mid, hi)) / (hi - mid)
    return filters


def features(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MFCCs, log energy and centre time of each 32 ms frame, as the package computes them."""
    x = audio.astype(np.float64)
    x = x - 0.97 * np.concatenate([[0.0], x[:-1]])
    taps = np.arange(32) - 15.5
    lowpass = np.sin(2 * np.pi * 0.45 * taps) / (np.pi * taps) * np.hamming(32)
    y = np.convolve(np.concatenate([np.zeros(31), x]), lowpass[::-1], "valid")
    count = (y.size - BLOCK) // HOP + 1
    frames = np.stack([y[k * HOP : k * HOP + BLOCK] for k in range(count)]) * np.hamming(BLOCK)
    power = np.abs(np.fft.fft(frames, axis=1)[:, : BLOCK // 2]) ** 2 / BLOCK
    log_energy = np.log10(power.sum(1) + 1e-10)
    bands = np.log10(power @ _mel_filters().T + 1e-10)
    k = np.arange(1, COEFFS + 1)
    dct = np.sqrt(2 / MEL_BANDS) * np.cos(np.pi * k[:, None] * (np.arange(MEL_BANDS) + 0.5) / MEL_BANDS)
    lifter = 1 + LIFTER / 2 * np.sin(np.pi * k / LIFTER)
    centres = (np.arange(count) * HOP + BLOCK / 2) / AUDIO_RATE
    return np.tanh(bands @ dct.T * lifter), log_energy, centres


def classify(model: tuple[np.ndarray, np.ndarray, np.ndarray], mfcc: np.ndarray) -> np.ndarray:
    visemes, means, inverses = model
    diff = mfcc[:, None, :] - means[None]
    distance = np.einsum("npi,pij,npj->np", diff, inverses, diff)
    distance[:, visemes == SILENCE] /= SILENCE_SENSITIVITY
    nearest = visemes[np.argmin(distance, 1)]
    ring = np.full(VOTE, SILENCE)
    voted = np.empty_like(nearest)
    for i, v in enumerate(nearest):
        ring[i % VOTE] = v
        counts = np.bincount(ring, minlength=SILENCE + 1)
        voted[i] = np.flatnonzero(counts == counts.max())[-1]
    return voted


def predicted(model: tuple[np.ndarray, np.ndarray, np.ndarray], audio: np.ndarray, times: np.ndarray) -> dict:
    mfcc, log_energy, centres = features(audio)
    visemes = np.where(log_energy > VOICE_LOG_ENERGY, classify(model, mfcc), SILENCE)
    return {
        "aperture": np.interp(times, centres, uniform_filter1d(APERTURE[visemes], 3)),
        "bilabial": np.interp(times, centres, (visemes == BILABIAL).astype(float)) > 0.5,
    }


def lips_at_bilabials(gap: np.ndarray, bilabial: np.ndarray) -> float:
    """Lip gap where the sound says p/b/m, in units of the clip's 10-90 % gap range (0 = median)."""
    n = min(gap.size, bilabial.size)
    gap, bilabial = gap[:n], bilabial[:n]
    if not bilabial.any():
        return float("nan")
    spread = np.percentile(gap, 90) - np.percentile(gap, 10) + 1e-9
    return float((gap[bilabial].mean() - np.median(gap)) / spread)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("manifest", type=Path)
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--model", type=Path, required=True, help="headaudio's dist/model-en-mixed.bin")
    args = ap.parse_args()
    model = load_model(args.model)
    rows, data = load_grid(args.manifest, args.root)
    print(f"{len(model[0])} prototypes; {len(rows)} GRID clips, own and dubbed sound\n")
    scores: dict[str, list[float]] = {"bona": [], "dub": [], "rev": []}
    closed: dict[str, list[float]] = {"bona": [], "dub": []}
    for r in rows:
        own, other = data[r["clip"]], data[r["other_person_clip"]]
        gap = _fill(lip_feature(own["shape"], "gap"))
        mine, dubbed = predicted(model, own["audio"], own["t"]), predicted(model, other["audio"], own["t"])
        scores["bona"].append(near_zero_lag(gap, mine["aperture"]))
        scores["dub"].append(near_zero_lag(gap, dubbed["aperture"]))
        scores["rev"].append(near_zero_lag(gap[::-1].copy(), mine["aperture"]))
        closed["bona"].append(lips_at_bilabials(gap, mine["bilabial"]))
        closed["dub"].append(lips_at_bilabials(gap, dubbed["bilabial"]))
    print("1. predicted lip aperture against measured lip gap (best within +-2 frames)")
    _summary("  viseme aperture", scores["bona"], scores["dub"], scores["rev"])
    print("\n2. lip gap where the sound is classified p/b/m (negative = lips more closed than usual)")
    for kind, values in closed.items():
        v = np.array(values)
        v = v[np.isfinite(v)]
        print(
            f"  {kind:4s}: {v.size} clips with a p/b/m, median {np.median(v):+.2f}, "
            f"below 0 in {int(np.sum(v < 0))}"
        )


if __name__ == "__main__":
    main()
