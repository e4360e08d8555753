"""Embed the images of a pairs file once each, score every pair, collect the metrics.

Embeddings are cached on disk per preset and model hashes (``$LIFECERT_HOME/cache``),
keyed by file path, size and modification time, so a re-run with a new report layout
or a new pairs file over the same images costs nothing.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from matcher.alignment import align_face
from matcher.calibration import Calibration, calibrate_population
from matcher.errors import MatcherError
from matcher.evaluation import (
    Metrics,
    Pair,
    PairsFileError,
    fallback_five_points,
    kfold_accuracy,
    kfold_threshold_at_fmr,
    rates_at,
    read_pairs,
    roc_summary,
    score_fmr_table,
)
from matcher.groups import group_report
from matcher.identification import AllPairs, all_pair_scores, identification_metrics
from matcher.image_io import read_image
from matcher.pipeline import FaceMatcher, Role
from models import ModelStore


@dataclass
class ImageOutcome:
    embedding: np.ndarray | None
    face_found: bool
    ms: float
    error: str = ""


@dataclass
class BenchResult:
    pairs: list[Pair]
    scores: np.ndarray
    preset: str
    threshold: float
    outcomes: dict[str, ImageOutcome]
    metrics: Metrics = field(default_factory=dict)

    @property
    def same(self) -> np.ndarray:
        return np.array([p.same for p in self.pairs])


PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".pgm", ".ppm", ".pnm"}

_worker: dict[str, FaceMatcher] = {}


def _init_worker(home: str, preset: str, threads: int) -> None:
    _worker["m"] = FaceMatcher(ModelStore(Path(home)), preset, threads)


def embed_one(matcher: FaceMatcher, path: str) -> ImageOutcome:
    """Embed one image as a probe; if no face is found, embed the centred fallback crop."""
    t0 = time.perf_counter()
    try:
        image = read_image(path)
    except MatcherError as exc:
        return ImageOutcome(None, False, 0.0, exc.reason.code)
    try:
        emb = matcher.analyse(image, Role.PROBE).embedding
        found = True
    except MatcherError:
        emb = matcher.embedder(align_face(image, fallback_five_points(image.shape)))
        found = False
    return ImageOutcome(emb, found, (time.perf_counter() - t0) * 1000.0)


def _embed_in_worker(path: str) -> tuple[str, ImageOutcome]:
    return path, embed_one(_worker["m"], path)


def _fingerprint(matcher: FaceMatcher) -> str:
    manifest = matcher.store.manifest
    p = matcher.preset
    keys = ["blazeface_short", "blazeface_full", "facemesh", *p.embedders]
    text = "|".join([p.key, str(p.weights), str(p.flip), *(manifest.models[k].sha256 for k in keys)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _cache_key(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"


class EmbeddingCache:
    """A small on-disk map from image identity to (embedding, face_found)."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.data: dict[str, tuple[np.ndarray, bool]] = {}
        if file.exists():
            with np.load(file, allow_pickle=False) as z:
                for key, vec, found in zip(z["keys"], z["vecs"], z["found"], strict=True):
                    self.data[str(key)] = (vec, bool(found))

    def save(self) -> None:
        if not self.data:
            return
        self.file.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self.data)
        tmp = self.file.with_suffix(".tmp.npz")
        np.savez(
            tmp,
            keys=np.array(keys),
            vecs=np.stack([self.data[k][0] for k in keys]),
            found=np.array([self.data[k][1] for k in keys]),
        )
        os.replace(tmp, self.file)


def embed_files(
    matcher: FaceMatcher,
    files: list[Path],
    *,
    workers: int = 1,
    cache: EmbeddingCache | None = None,
    progress: Callable[[Iterable[tuple[str, ImageOutcome]], int], Iterable[tuple[str, ImageOutcome]]]
    | None = None,
) -> dict[str, ImageOutcome]:
    """Outcome per file (keyed by the string path); cached files are not re-embedded."""
    outcomes: dict[str, ImageOutcome] = {}
    todo = []
    for f in files:
        key = _cache_key(f) if f.is_file() else None
        if cache is not None and key in cache.data:
            vec, found = cache.data[key]
            outcomes[str(f)] = ImageOutcome(vec, found, float("nan"))
        else:
            todo.append(str(f))
    if workers > 1 and len(todo) > 1:
        ctx = mp.get_context("spawn")
        pool = ctx.Pool(
            workers,
            initializer=_init_worker,
            initargs=(str(matcher.store.home), matcher.preset.key, 1),
        )
        stream: Iterable[tuple[str, ImageOutcome]] = pool.imap(_embed_in_worker, todo, chunksize=8)
    else:
        pool = None
        stream = ((p, embed_one(matcher, p)) for p in todo)
    if progress is not None:
        stream = progress(stream, len(todo))
    try:
        for path, outcome in stream:
            outcomes[path] = outcome
            if cache is not None and outcome.embedding is not None:
                cache.data[_cache_key(Path(path))] = (outcome.embedding, outcome.face_found)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
        if cache is not None:
            cache.save()
    return outcomes


def bench_cache(matcher: FaceMatcher) -> EmbeddingCache:
    """The embedding cache every benchmark of this preset and these model files shares."""
    return EmbeddingCache(matcher.store.home / "cache" / f"bench-{_fingerprint(matcher)}.npz")


def identity_photos(folder: Path) -> list[tuple[Path, str]]:
    """Photos laid out one folder per person (LFW's layout), as (path, person)."""
    return sorted(
        (p, p.parent.name) for p in folder.glob("*/*") if p.suffix.lower() in PHOTO_SUFFIXES and p.is_file()
    )


def run_all_pairs(
    matcher: FaceMatcher,
    folder: Path,
    thresholds: dict[str, float],
    *,
    workers: int = 1,
    use_cache: bool = True,
    progress: Callable | None = None,
) -> tuple[Metrics, AllPairs]:
    """Every pair of photos of different people in ``folder``: the low-FMR end of the curve."""
    photos = identity_photos(folder)
    cache = bench_cache(matcher) if use_cache else None
    outcomes = embed_files(matcher, [p for p, _ in photos], workers=workers, cache=cache, progress=progress)
    kept = [(p, who) for p, who in photos if outcomes[str(p)].embedding is not None]
    if len({who for _, who in kept}) < 2:
        raise ValueError(f"{folder} needs photos of at least two people, one folder each")
    pairs = all_pair_scores(
        np.stack([outcomes[str(p)].embedding for p, _ in kept]),  # type: ignore[misc]
        [who for _, who in kept],
    )
    metrics = identification_metrics(pairs, thresholds)
    metrics["preset"] = matcher.preset.key

    def listed(keep: Callable[[ImageOutcome], bool]) -> list[str]:
        return sorted(os.path.relpath(p, folder) for p, _ in photos if keep(outcomes[str(p)]))

    metrics["images"] = {
        "total": len(photos),
        "people": len({who for _, who in photos}),
        # An unreadable file is not a photo without a face: counted apart, never scored.
        "no_face": listed(lambda o: not o.face_found and o.embedding is not None),
        "unreadable": listed(lambda o: o.embedding is None),
    }
    metrics["top_impostors"] = [
        {"a": os.path.relpath(kept[i][0], folder), "b": os.path.relpath(kept[j][0], folder), "score": score}
        for i, j, score in pairs.top_impostors
    ]
    return metrics, pairs


def run_bench(
    matcher: FaceMatcher,
    pairs_file: Path,
    root: Path,
    *,
    workers: int = 1,
    use_cache: bool = True,
    progress: Callable | None = None,
    target_fmr: float = 1e-3,
    groups: tuple[str, ...] = (),
) -> BenchResult:
    """Score every pair of ``pairs_file``; ``groups`` names CSV columns to report per group."""
    pairs = read_pairs(pairs_file)
    missing = [g for g in groups if g not in {"set"} and all(g not in dict(p.attrs) for p in pairs)]
    if missing:
        raise PairsFileError(f"{pairs_file}: no column {missing} for --group")
    files = sorted({root / p.file_a for p in pairs} | {root / p.file_b for p in pairs})
    cache = bench_cache(matcher) if use_cache else None
    outcomes = embed_files(matcher, files, workers=workers, cache=cache, progress=progress)
    scores = np.full(len(pairs), np.nan)
    for i, p in enumerate(pairs):
        a, b = outcomes[str(root / p.file_a)].embedding, outcomes[str(root / p.file_b)].embedding
        if a is not None and b is not None:
            scores[i] = matcher.compare(a, b)
    result = BenchResult(pairs, scores, matcher.preset.key, matcher.threshold, outcomes)
    result.metrics = compute_metrics(result, root, target_fmr, groups)
    return result


def _block(scores: np.ndarray, same: np.ndarray, threshold: float) -> Metrics:
    roc = roc_summary(scores, same)
    return {
        "pairs": int(same.size),
        "genuine": roc.n_genuine,
        "impostor": roc.n_impostor,
        "auc": roc.auc,
        "eer": roc.eer,
        "eer_threshold": roc.eer_threshold,
        "tar_at_far": roc.tar_at_far,
        "at_operating_threshold": rates_at(scores, same, threshold),
    }


def compute_metrics(
    result: BenchResult, root: Path, target_fmr: float = 1e-3, groups: tuple[str, ...] = ()
) -> Metrics:
    same = result.same
    scored = ~np.isnan(result.scores)
    scores, same_s = result.scores[scored], same[scored]
    metrics: Metrics = {
        "preset": result.preset,
        "operating_threshold": result.threshold,
        "pairs_total": len(result.pairs),
        "pairs_unscored": int((~scored).sum()),
        "overall": _block(scores, same_s, result.threshold),
    }
    sets = sorted({p.set for p in result.pairs if p.set})
    per_set = {}
    for s in sets:
        mask = np.array([p.set == s for p in result.pairs]) & scored
        if len(np.unique(same[mask])) == 2:
            per_set[s] = _block(result.scores[mask], same[mask], result.threshold)
    metrics["per_set"] = per_set
    metrics["score_scale"] = score_fmr_table(scores, same_s)
    if groups:
        columns: dict[str, Sequence[str]] = {
            g: [p.set if g == "set" else p.attr(g) for p in result.pairs] for g in groups
        }
        metrics["groups"] = group_report(result.scores, same, columns, result.threshold)
    folds = np.array([p.fold if p.fold is not None else -1 for p in result.pairs])
    fold_mask = (folds >= 0) & scored
    if len(np.unique(folds[fold_mask])) >= 2:
        mean, std, thresholds = kfold_accuracy(result.scores[fold_mask], same[fold_mask], folds[fold_mask])
        metrics["kfold"] = {
            "folds": len(thresholds),
            "pairs": int(fold_mask.sum()),
            "accuracy_mean": mean,
            "accuracy_std": std,
            "fold_thresholds": thresholds,
            "threshold_mean": float(np.mean(thresholds)),
            "calibration": kfold_threshold_at_fmr(
                result.scores[fold_mask], same[fold_mask], folds[fold_mask], target_fmr
            ),
        }
    # Unreadable files (a format the decoder refused, a missing file) are reported apart from
    # photos where no face was found: the first is a tooling fault, the second a detector miss.
    no_face = sorted(
        os.path.relpath(k, root)
        for k, o in result.outcomes.items()
        if not o.face_found and o.embedding is not None
    )
    errors = {
        os.path.relpath(k, root): o.error or "unreadable"
        for k, o in result.outcomes.items()
        if o.embedding is None
    }
    times = [o.ms for o in result.outcomes.values() if o.ms == o.ms and o.ms > 0]
    metrics["images"] = {
        "total": len(result.outcomes),
        "no_face_count": len(no_face),
        "no_face": no_face,
        "unreadable_count": len(errors),
        "unreadable": errors,
        "embedded_now": len(times),
        "ms_per_image_median": statistics.median(times) if times else None,
    }
    return metrics


def people_photos(folder: Path) -> list[tuple[Path, str]]:
    """Photos of people as (path, identity): from ``folder/manifest.csv`` (columns ``file``
    and ``identity``, as casia_facev5_dev has) when there is one, else one folder per person."""
    import csv

    manifest = folder / "manifest.csv"
    if manifest.is_file():
        with manifest.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if {"file", "identity"} <= set(reader.fieldnames or []):
                return sorted((folder / r["file"], r["identity"]) for r in reader)
    return identity_photos(folder)


def calibrate_folder(
    matcher: FaceMatcher,
    folder: Path,
    *,
    operating_fmr: float = 1e-3,
    workers: int = 1,
    use_cache: bool = True,
    progress: Callable | None = None,
    population: str | None = None,
) -> Calibration:
    """Embed every photo of ``folder`` and calibrate thresholds on its impostor pairs.

    Photos without a detectable face are left out (an enrolment photo must hold one), so
    the calibration is made on faces as the service would see them.
    """
    photos = people_photos(folder)
    cache = bench_cache(matcher) if use_cache else None
    outcomes = embed_files(matcher, [p for p, _ in photos], workers=workers, cache=cache, progress=progress)
    kept = [
        (p, who)
        for p, who in photos
        if outcomes[str(p)].embedding is not None and outcomes[str(p)].face_found
    ]
    return calibrate_population(
        np.stack([outcomes[str(p)].embedding for p, _ in kept]),  # type: ignore[misc]
        [who for _, who in kept],
        preset=matcher.preset.key,
        population=population or f"{folder} ({len(kept)} of {len(photos)} photos with a face)",
        operating_fmr=operating_fmr,
        models=matcher.models_fingerprint,
    )
