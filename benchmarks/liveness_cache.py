"""Per-clip track cache for liveness research: track each clip once, iterate on the cache.

Tracking (detector, FaceMesh, Iris on every frame) is ~1 s CPU per 3 s of clip; decoding is
cheap. So the per-frame measurements are stored once per clip file, keyed by the file's
SHA-1, under ``reports/cache/tracks/`` (git-ignored), and signals are recomputed from the
decoded frames plus the cached track. Also writes the re-encoded bona fide variants the
rendered-face signals must survive (``reports/cache/variants/``):

- ``compressed``: H.264 CRF 32, a weak uplink;
- ``upscaled``: centre square, down to 256 px and up to 512 px, H.264 CRF 23: the
  resampling and size that many generated clips carry, applied to real footage, so that a
  signal that only detects "512x512, upscaled" is caught out.

    nice python benchmarks/liveness_cache.py --root ../shared/data
"""

from __future__ import annotations

import argparse
import csv
import hashlib
from pathlib import Path

import cv2
import numpy as np

from liveness.bench import read_bona_fide
from liveness.tracking import FrameMeasure, Track, track_face
from liveness.video import Clip, read_video, write_mp4
from matcher import FaceMatcher

CACHE = Path("reports/cache")
FIELDS = ("index", "t", "faces", "tracked", "ear", "ear_open_eye", "mar", "yaw", "pitch", "sharpness")
VARIANTS = ("compressed", "upscaled")


def file_key(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()[:16]


def save_track(track: Track, path: Path) -> None:
    n = len(track.frames)
    arrays = {k: np.array([getattr(f, k) for f in track.frames], dtype=np.float64) for k in FIELDS}
    boxes = np.full((n, 4), np.nan)
    shapes = np.full((n, 468, 2), np.nan, dtype=np.float32)
    for i, f in enumerate(track.frames):
        if f.box is not None:
            boxes[i] = f.box
        if f.shape is not None:
            shapes[i] = f.shape
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, box=boxes, shape=shapes, **arrays)
    tmp.replace(path)


def load_track(path: Path) -> Track:
    z = np.load(path)
    frames = []
    for i in range(z["index"].size):
        tracked = bool(z["tracked"][i])
        frames.append(
            FrameMeasure(
                index=int(z["index"][i]),
                t=float(z["t"][i]),
                faces=int(z["faces"][i]),
                tracked=tracked,
                box=z["box"][i].copy() if tracked else None,
                ear=float(z["ear"][i]),
                ear_open_eye=float(z["ear_open_eye"][i]),
                mar=float(z["mar"][i]),
                yaw=float(z["yaw"][i]),
                pitch=float(z["pitch"][i]),
                sharpness=float(z["sharpness"][i]),
                shape=z["shape"][i].copy() if tracked else None,
            )
        )
    return Track(frames)


def cached(matcher: FaceMatcher, path: Path, *, with_audio: bool = True) -> tuple[Clip, Track]:
    """The clip and its track, tracking only on the first call for this file's bytes."""
    clip = read_video(path, with_audio=with_audio)
    store = CACHE / "tracks" / f"{file_key(path)}.npz"
    if store.is_file():
        return clip, load_track(store)
    store.parent.mkdir(parents=True, exist_ok=True)
    track = track_face(matcher, clip)
    save_track(track, store)
    return clip, track


def upscaled(frames: list[np.ndarray]) -> list[np.ndarray]:
    h, w = frames[0].shape[:2]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    out = []
    for f in frames:
        small = cv2.resize(f[y0 : y0 + side, x0 : x0 + side], (256, 256), interpolation=cv2.INTER_AREA)
        out.append(cv2.resize(small, (512, 512), interpolation=cv2.INTER_CUBIC))
    return out


def variant_path(clip_rel: str, variant: str) -> Path:
    return CACHE / "variants" / variant / (Path(clip_rel).stem + ".mp4")


def write_variant(root: Path, clip_rel: str, variant: str) -> Path:
    out = variant_path(clip_rel, variant)
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    clip = read_video(root / clip_rel)
    frames = upscaled(clip.frames) if variant == "upscaled" else clip.frames
    tmp = out.with_suffix(".tmp.mp4")
    write_mp4(tmp, frames, clip.fps, audio=clip.audio, crf=23 if variant == "upscaled" else 32)
    tmp.replace(out)
    return out


def still_and_shape(matcher: FaceMatcher, clip: Clip) -> tuple[np.ndarray, np.ndarray]:
    """Person B's photo for a cut-out: the middle frame of B's clip and its landmarks."""
    still = clip.frames[len(clip.frames) // 2]
    one = track_face(matcher, Clip([still], np.zeros(1)))
    shape = one.frames[0].shape
    if shape is None:
        raise ValueError("no face on the still")
    return still, shape


def write_cutouts(matcher: FaceMatcher, root: Path, manifest: Path) -> list[Path]:
    """Cut-out photo attacks (liveness/attacks.py) of every bona fide clip behind the still of
    its ``other_person_clip``, static and hand-held, written near-losslessly (CRF 12)."""
    from liveness.attacks import cutout_photo

    out = []
    for item in read_bona_fide(manifest):
        for moving in (False, True):
            path = CACHE / "cutout" / f"{Path(item.clip).stem}_{'moving' if moving else 'static'}.mp4"
            out.append(path)
            if path.is_file():
                continue
            behind, track = cached(matcher, root / item.clip)
            still, shape = still_and_shape(
                matcher, read_video(root / item.other_person_clip, with_audio=False)
            )
            attack = cutout_photo(still, shape, behind, [f.shape for f in track.frames], moving=moving)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.mp4")
            write_mp4(tmp, attack.frames, behind.fps, crf=12)
            tmp.replace(path)
    return out


def animated_manifest(root: Path) -> list[dict[str, str]]:
    with (root / "attacks/animated/manifest.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, default=Path("../shared/data"))
    ap.add_argument("--manifest", type=Path, default=Path("benchmarks/liveness_bona_fide.csv"))
    args = ap.parse_args()
    matcher = FaceMatcher()
    bona = [i.clip for i in read_bona_fide(args.manifest)]
    paths = [args.root / c for c in bona]
    paths += [args.root / "attacks/animated" / r["file"] for r in animated_manifest(args.root)]
    for v in VARIANTS:
        paths += [write_variant(args.root, c, v) for c in bona]
    for k, p in enumerate(paths):
        cached(matcher, p)
        print(f"{k + 1}/{len(paths)} {p}", flush=True)
    for p in write_cutouts(matcher, args.root, args.manifest):
        cached(matcher, p)
        print(f"cutout {p}", flush=True)


if __name__ == "__main__":
    main()
