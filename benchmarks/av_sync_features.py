"""Research benchmark: can hand-made lip and sound features tell a GRID clip's own sound
from another GRID clip's sound dubbed over it, and from its pictures played backwards?

Each GRID clip with the dubbing partner named in the bona fide list (the same pairs as the
liveness benchmark's dubbed_audio attack). Prints, per feature and rule:

1. zero-lag correlation of lip opening (four geometries) and sound energy (two scales);
2. significance of that correlation against 28 alignments that cannot be true (circular
   shifts and reversals of the mouth series);
3. a linear map from 8 band energies (+-3 frames) to lip gap, fitted on one group of GRID
   speakers and scored on the other (speaker s1 against the rest, both ways);
4. the paired forward/backward comparison liveness/audio.py ships.

BENCHMARKS.md quotes the output. Nothing here is shipped except rule 4.

    python benchmarks/av_sync_features.py benchmarks/liveness_bona_fide.csv --root ../shared/data
"""

from __future__ import annotations

import argparse
import csv
import itertools
from pathlib import Path

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import stft

from liveness.audio import _best_sync, _fast_changes, audio_visual, envelope_at, speech_band
from liveness.tracking import track_face
from liveness.video import AUDIO_RATE, read_video
from matcher import FaceMatcher

TREND = 13  # frames: the 0.5 s trend liveness/audio.py removes at 25 fps
INNER_LIP = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95]
BAND_EDGES_HZ = np.geomspace(150, 5000, 9)
CONTEXT = 3


def _fill(x: np.ndarray) -> np.ndarray:
    ok = np.isfinite(x)
    return np.interp(np.arange(x.size), np.flatnonzero(ok), x[ok])


def _detrend(x: np.ndarray) -> np.ndarray:
    return x - uniform_filter1d(x, TREND, mode="nearest", axis=0)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 5 or a.std() < 1e-9 or b.std() < 1e-9:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def lip_feature(shape: np.ndarray, kind: str) -> np.ndarray:
    """Lip opening per frame from FaceMesh points, scaled by the eye-corner distance."""
    eyes = np.linalg.norm(shape[:, 33] - shape[:, 263], axis=1)
    if kind == "mar":
        return np.linalg.norm(shape[:, 13] - shape[:, 14], axis=1) / np.linalg.norm(
            shape[:, 78] - shape[:, 308], axis=1
        )
    if kind == "gap":
        return np.linalg.norm(shape[:, 13] - shape[:, 14], axis=1) / eyes
    if kind == "area":
        x, y = shape[:, INNER_LIP, 0], shape[:, INNER_LIP, 1]
        return 0.5 * np.abs(np.sum(x * np.roll(y, -1, 1) - y * np.roll(x, -1, 1), 1)) / eyes**2
    if kind == "jaw":
        return np.linalg.norm(shape[:, 152] - shape[:, 1], axis=1) / eyes
    raise ValueError(kind)


def near_zero_lag(v: np.ndarray, e: np.ndarray, lags: int = 2) -> float:
    n = min(v.size, e.size)
    v, e = _detrend(_fill(v[:n])), _detrend(e[:n])
    return max(_corr(v[k:], e[: n - k]) if k >= 0 else _corr(v[:k], e[-k:]) for k in range(-lags, lags + 1))


def significance(mar: np.ndarray, env: np.ndarray) -> tuple[float, float]:
    """The shipped sync score and its z against shifted and reversed mouth alignments."""
    m, ef = _fill(mar), _fast_changes(env[: mar.size], TREND)
    true, _ = _best_sync(_fast_changes(m, TREND), ef, 1)
    others = []
    for base, is_reversed in ((m, False), (m[::-1], True)):
        for k in range(0, m.size, 5):
            if not is_reversed and min(k, m.size - k) < 10:
                continue  # too close to the true alignment
            others.append(_best_sync(_fast_changes(np.roll(base, k), TREND), ef, 1)[0])
    o = np.array(others)
    return true, float((true - o.mean()) / (o.std() + 1e-9))


def band_energies(audio: np.ndarray, times: np.ndarray) -> np.ndarray:
    f, t, z = stft(audio, fs=AUDIO_RATE, nperseg=640, noverlap=480)
    power = np.abs(z) ** 2
    bands = [
        np.log(power[(f >= lo) & (f < hi)].sum(0) + 1e-10) for lo, hi in itertools.pairwise(BAND_EDGES_HZ)
    ]
    return np.stack([np.interp(times, t, b) for b in bands], 1)


def _design(bands: np.ndarray) -> np.ndarray:
    b = _detrend(bands)
    pad = np.pad(b, ((CONTEXT, CONTEXT), (0, 0)), mode="edge")
    n = b.shape[0]
    return np.concatenate([pad[CONTEXT + k : CONTEXT + k + n] for k in range(-CONTEXT, CONTEXT + 1)], 1)


def fit_map(items: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    x = np.concatenate([_design(b) for b, _ in items])
    y = np.concatenate([_detrend(g) for _, g in items])
    ridge = 10.0 * len(y) * x.var(0).mean()
    return np.linalg.solve(x.T @ x + ridge * np.eye(x.shape[1]), x.T @ y)


def map_score(w: np.ndarray, bands: np.ndarray, gap: np.ndarray) -> float:
    n = min(len(gap), len(bands))
    return near_zero_lag(_design(bands[:n]) @ w, gap[:n], lags=1)


def _summary(name: str, bona: list[float], dub: list[float], rev: list[float]) -> None:
    b, d, r = (np.array(x) for x in (bona, dub, rev))
    cut = np.sort(b)[1]  # a level that rejects one bona fide clip
    print(
        f"{name:34s} bona fide min {b.min():5.2f} median {np.median(b):5.2f} | dubbed max {d.max():5.2f} "
        f"median {np.median(d):5.2f} | at {cut:.2f}: dubbed accepted {int(np.sum(d >= cut))}/{d.size}, "
        f"reversed accepted {int(np.sum(r >= cut))}/{r.size}"
    )


def load_grid(manifest: Path, root: Path) -> tuple[list[dict[str, str]], dict[str, dict[str, np.ndarray]]]:
    """The GRID rows of the bona fide list, and per clip (own and dubbing partners) its sound,
    frame times, mouth ratio and FaceMesh points."""
    with manifest.open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if "grid" in r["clip"]]
    matcher = FaceMatcher()
    data = {}
    for rel in sorted({r["clip"] for r in rows} | {r["other_person_clip"] for r in rows}):
        clip = read_video(root / rel)
        track = track_face(matcher, clip)
        shape = np.stack(
            [f.shape if f.shape is not None else np.full((468, 2), np.nan) for f in track.frames]
        )
        data[rel] = {"audio": clip.audio, "t": track.times, "mar": track.series("mar"), "shape": shape}
    return rows, data


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("manifest", type=Path)
    ap.add_argument("--root", type=Path, required=True)
    args = ap.parse_args()
    rows, data = load_grid(args.manifest, args.root)
    print(f"{len(rows)} GRID clips, each with its own sound and a dubbed partner's\n")

    print("1. zero-lag correlation (best within +-2 frames), lip feature x sound scale")
    for lip in ("mar", "gap", "area", "jaw"):
        for scale in ("dB", "amplitude"):
            scores: dict[str, list[float]] = {"bona": [], "dub": [], "rev": []}
            for r in rows:
                own, other = data[r["clip"]], data[r["other_person_clip"]]
                v = lip_feature(own["shape"], lip)

                def env(audio: np.ndarray, t: np.ndarray = own["t"], s: str = scale) -> np.ndarray:
                    e = envelope_at(speech_band(audio), t)
                    return e if s == "dB" else 10 ** (e / 20)

                scores["bona"].append(near_zero_lag(v, env(own["audio"])))
                scores["dub"].append(near_zero_lag(v, env(other["audio"])))
                scores["rev"].append(near_zero_lag(v[::-1].copy(), env(own["audio"])))
            _summary(f"  {lip} / {scale}", scores["bona"], scores["dub"], scores["rev"])

    print("\n2. shipped score and its significance against impossible alignments")
    sig = {
        kind: [
            significance(
                data[r["clip"]]["mar"][::-1].copy() if kind == "rev" else data[r["clip"]]["mar"],
                envelope_at(
                    speech_band(data[r["other_person_clip"] if kind == "dub" else r["clip"]]["audio"]),
                    data[r["clip"]]["t"],
                ),
            )
            for r in rows
        ]
        for kind in ("bona", "dub", "rev")
    }
    for z_min in (1.0, 1.5, 2.0):
        ok = {k: [s >= 0.15 and z >= z_min for s, z in v] for k, v in sig.items()}
        print(
            f"  score >= 0.15 and z >= {z_min}: bona fide rejected {ok['bona'].count(False)}/{len(rows)}, "
            f"dubbed accepted {sum(ok['dub'])}, reversed accepted {sum(ok['rev'])}"
        )

    print("\n3. linear map from band energies to lip gap, fitted on other speakers")
    s1 = [r for r in rows if "grid_s1" in r["clip"]]
    rest = [r for r in rows if "grid_s1" not in r["clip"]]
    for name, train, test in (("fitted on s1, scored on the rest", s1, rest), ("the other way", rest, s1)):
        w = fit_map(
            [
                (
                    band_energies(data[r["clip"]]["audio"], data[r["clip"]]["t"]),
                    lip_feature(data[r["clip"]]["shape"], "gap"),
                )
                for r in train
            ]
        )
        scores = {"bona": [], "dub": [], "rev": []}
        for r in test:
            own, other = data[r["clip"]], data[r["other_person_clip"]]
            gap = _fill(lip_feature(own["shape"], "gap"))
            scores["bona"].append(map_score(w, band_energies(own["audio"], own["t"]), gap))
            scores["dub"].append(map_score(w, band_energies(other["audio"], own["t"]), gap))
            scores["rev"].append(map_score(w, band_energies(own["audio"], own["t"]), gap[::-1].copy()))
        _summary(f"  {name}", scores["bona"], scores["dub"], scores["rev"])

    print("\n4. shipped paired check: recorded mouth fits the sound better than the mouth run backwards")
    for kind in ("bona", "dub", "rev"):
        wins = 0
        for r in rows:
            own = data[r["clip"]]
            mar = own["mar"][::-1].copy() if kind == "rev" else own["mar"]
            audio = data[r["other_person_clip"]]["audio"] if kind == "dub" else own["audio"]
            av = audio_visual(audio, own["t"], mar)
            wins += av.sync > av.sync_backwards
        print(f"  {kind}: recorded direction fits better in {wins}/{len(rows)}")


if __name__ == "__main__":
    main()
