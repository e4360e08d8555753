"""Embeddings of the shared face sets, for the issue-9 studies (calibration, normalisation,
multi-image templates). Every image goes through ``matcher.bench.embed_files``, so the
embedding cache of `lifecert bench` is shared and a re-run embeds nothing.

Paths are relative to the project root (run from there): ``../shared/data/faces``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from matcher.bench import bench_cache, embed_files
from matcher.evaluation import read_pairs
from matcher.pipeline import FaceMatcher

FACES = Path("../shared/data/faces")
CASIA_DEV = FACES / "casia_facev5_dev"
CV_FOLDS = 5


@dataclass
class FaceSet:
    files: list[str]  # relative to FACES
    ids: np.ndarray  # identity per file
    emb: np.ndarray  # one L2-normalised (fused) embedding per file
    found: np.ndarray | None = None  # face detected (else the embedding is of a fallback crop)

    def faces_found(self) -> FaceSet:
        """Only the photos where a face was found, as the service's quality gate would keep."""
        keep = self.found if self.found is not None else np.ones(self.ids.size, bool)
        return FaceSet(
            [f for f, k in zip(self.files, keep, strict=True) if k], self.ids[keep], self.emb[keep]
        )


def embed(matcher: FaceMatcher, rel_files: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings and face-found flags of these files (cached)."""
    paths = [FACES / f for f in rel_files]
    out = embed_files(matcher, paths, workers=1, cache=bench_cache(matcher))
    emb = np.stack([out[str(p)].embedding for p in paths]).astype(np.float64)  # type: ignore[misc]
    return emb, np.array([out[str(p)].face_found for p in paths])


def casia_dev(matcher: FaceMatcher) -> FaceSet:
    """The 100 East-Asian development photos (20 people), identity from manifest.csv."""
    with (CASIA_DEV / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        rows = sorted((r["file"], r["identity"]) for r in csv.DictReader(fh))
    files = [f"casia_facev5_dev/{f}" for f, _ in rows]
    return FaceSet(files, np.array([i for _, i in rows]), *embed(matcher, files))


def lfw(matcher: FaceMatcher) -> tuple[FaceSet, list[tuple[int, int, bool, int]]]:
    """The LFW View-2 images (identity = folder) and its 6,000 pairs as index pairs + fold."""
    pairs = [p for p in read_pairs(FACES / "pairs.csv") if p.set == "lfw"]
    files = sorted({p.file_a for p in pairs} | {p.file_b for p in pairs})
    index = {f: i for i, f in enumerate(files)}
    ids = np.array([Path(f).parent.name for f in files])
    protocol = [(index[p.file_a], index[p.file_b], p.same, int(p.fold or 0)) for p in pairs]
    return FaceSet(files, ids, *embed(matcher, files)), protocol


def identity_folds(ids: np.ndarray, k: int = CV_FOLDS) -> np.ndarray:
    """Fold of each image: people (sorted) dealt round-robin into ``k`` folds."""
    people = sorted(set(ids.tolist()))
    fold_of = {p: i % k for i, p in enumerate(people)}
    return np.array([fold_of[p] for p in ids])
