"""Research benchmark: which embedder variants (channel order, flip, fusion) pay off on LFW.

Embeds every image of a pairs file once per variant (fr_feature BGR/RGB with and without
the mirror image, MobileFaceNet with and without it) and prints the LFW 10-fold accuracy
of each single variant and of fused combinations. The product's presets in
models/manifest.toml were chosen from this output (BENCHMARKS.md has the run).

    python benchmarks/embedder_variants.py ../shared/data/faces/pairs.csv --root ../shared/data/faces
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
from pathlib import Path

import numpy as np
from tqdm import tqdm

from matcher.alignment import align_face
from matcher.embedding import FrFeatureEmbedder, MobileFaceNetEmbedder, l2_normalise
from matcher.evaluation import fallback_five_points, kfold_accuracy, read_pairs
from matcher.image_io import read_image
from matcher.pipeline import FaceMatcher, Role
from models import load_runner

VARIANTS = ("fr_bgr", "fr_bgr_flip", "fr_rgb", "mfn", "mfn_flip")
_state: dict[str, object] = {}


def _init() -> None:
    fm = FaceMatcher(preset="fast", threads=1)
    _state["fm"] = fm
    _state["fr_bgr"] = FrFeatureEmbedder(load_runner(fm.store, "fr_feature", 1), "bgr")
    _state["fr_rgb"] = FrFeatureEmbedder(load_runner(fm.store, "fr_feature", 1), "rgb")
    _state["mfn"] = MobileFaceNetEmbedder(load_runner(fm.store, "mobilefacenet", 1))


def _embed(path: str) -> tuple[str, dict[str, np.ndarray], bool]:
    fm: FaceMatcher = _state["fm"]  # type: ignore[assignment]
    image = read_image(path)
    try:
        crop = fm.analyse(image, Role.PROBE, embed=False).crop
        found = True
    except Exception:
        crop = align_face(image, fallback_five_points(image.shape))
        found = False
    fr_bgr, fr_rgb, mfn = _state["fr_bgr"], _state["fr_rgb"], _state["mfn"]
    out = {
        "fr_bgr": fr_bgr(crop, False),  # type: ignore[operator]
        "fr_bgr_flip": fr_bgr(crop, True),  # type: ignore[operator]
        "fr_rgb": fr_rgb(crop, False),  # type: ignore[operator]
        "mfn": mfn(crop, False),  # type: ignore[operator]
        "mfn_flip": mfn(crop, True),  # type: ignore[operator]
    }
    return path, out, found


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("pairs")
    ap.add_argument("--root", required=True)
    ap.add_argument("--cache", default="/tmp/lifecert-variants.npz")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    pairs = read_pairs(Path(args.pairs))
    root = Path(args.root)
    files = sorted({p.file_a for p in pairs} | {p.file_b for p in pairs})
    cache = Path(args.cache)
    if cache.exists():
        data = dict(np.load(cache))
    else:
        vecs: dict[str, dict[str, np.ndarray]] = {}
        missing = []
        with mp.Pool(args.workers, initializer=_init) as pool:
            for path, out, found in tqdm(
                pool.imap(_embed, [str(root / f) for f in files], chunksize=16), total=len(files)
            ):
                vecs[path] = out
                if not found:
                    missing.append(path)
        print(f"no face found in {len(missing)} images: {missing[:10]}")
        data = {v: np.stack([vecs[str(root / f)][v] for f in files]) for v in VARIANTS}
        np.savez(cache, **data)
    index = {f: i for i, f in enumerate(files)}
    lfw = [p for p in pairs if p.set == "lfw"]
    ia = np.array([index[p.file_a] for p in lfw])
    ib = np.array([index[p.file_b] for p in lfw])
    same = np.array([p.same for p in lfw])
    folds = np.array([p.fold for p in lfw])

    def report(name: str, scores: np.ndarray) -> None:
        mean, std, _ = kfold_accuracy(scores, same, folds)
        print(f"{name:40s} {100 * mean:.2f} ± {100 * std:.2f}")

    for v in VARIANTS:
        report(v, np.sum(data[v][ia] * data[v][ib], axis=1))
    for a, b in (("fr_bgr", "mfn"), ("fr_bgr_flip", "mfn_flip"), ("fr_bgr_flip", "mfn")):
        for w in (0.4, 0.5, 0.6):
            s = w * np.sum(data[a][ia] * data[a][ib], 1) + (1 - w) * np.sum(data[b][ia] * data[b][ib], 1)
            report(f"{w:.1f}*{a} + {1 - w:.1f}*{b}", s)
    both = l2_normalise(data["fr_bgr_flip"] + data["fr_rgb"])
    report("fr bgr_flip+rgb", np.sum(both[ia] * both[ib], 1))


if __name__ == "__main__":
    main()
