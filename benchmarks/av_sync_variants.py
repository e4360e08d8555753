"""Research benchmark: variants of the audio-visual sync score, own audio vs dubbed.

For each GRID clip (all have audio), the score with its own audio and with the audio of
three other GRID clips (a mute replay with dubbed sound). Prints, per variant, the AUC,
the genuine 5th percentile and the share of dubbings at or above it. liveness/audio.py
uses the best variant found here (BENCHMARKS.md has the run).

    python benchmarks/av_sync_variants.py ../shared/data/videos
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
from scipy.ndimage import uniform_filter1d
from sklearn.metrics import roc_auc_score

from liveness.audio import envelope_at, speech_band
from liveness.tracking import track_face
from liveness.video import read_video
from matcher import FaceMatcher


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if np.std(a) < 1e-9 or np.std(b) < 1e-9:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def score(mar: np.ndarray, env: np.ndarray, max_lag: int, detrend: bool, diff: bool) -> float:
    m, e = mar.copy(), env.copy()
    if detrend:
        m, e = m - uniform_filter1d(m, 13, mode="nearest"), e - uniform_filter1d(e, 13, mode="nearest")
    if diff:
        m, e = np.diff(m), np.diff(e)
    best = -1.0
    for lag in range(-max_lag, max_lag + 1):
        c = _corr(m[lag:], e[: e.size - lag]) if lag >= 0 else _corr(m[:lag], e[-lag:])
        best = max(best, c)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("videos")
    args = ap.parse_args()
    matcher = FaceMatcher()
    clips = []
    for path in sorted(Path(args.videos).glob("grid*/*.mpg")):
        clip = read_video(path)
        track = track_face(matcher, clip)
        mar = track.series("mar")
        clips.append((clip.audio, track.times, np.nan_to_num(mar, nan=float(np.nanmedian(mar)))))
    envelopes = {
        (i, band): envelope_at(speech_band(a) if band else a, times)
        for i, (a, times, _) in enumerate(clips)
        for band in (False, True)
    }
    n = len(clips)
    for band, lag, detrend, diff in itertools.product((False, True), (1, 2, 5), (False, True), (False, True)):
        own, dub = [], []
        for i, (_, _, mar) in enumerate(clips):
            own.append(score(mar, envelopes[(i, band)], lag, detrend, diff))
            for k in (3, 7, 11):
                env = envelopes[((i + k) % n, band)]
                size = min(env.size, mar.size)
                dub.append(score(mar[:size], env[:size], lag, detrend, diff))
        own_a, dub_a = np.array(own), np.array(dub)
        auc = roc_auc_score(np.r_[np.ones(own_a.size), np.zeros(dub_a.size)], np.r_[own_a, dub_a])
        p5 = np.percentile(own_a, 5)
        print(
            f"band {band!s:5} lag {lag} detrend {detrend!s:5} diff {diff!s:5}: AUC {auc:.3f} "
            f"own p5 {p5:.2f} dubbed >= p5 {np.mean(dub_a >= p5):.2f}"
        )


if __name__ == "__main__":
    main()
