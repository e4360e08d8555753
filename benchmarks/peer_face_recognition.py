"""Peer benchmark: the `face_recognition` library (dlib ResNet, HOG pipeline) on our pairs file.

QA compares lifecert's matcher with this peer on the same pairs. The peer is NOT a dependency
of the product: this script imports nothing from the project and runs in its own virtualenv
(the Makefile creates `.venv-peer` with these three lines):

    python -m venv .venv-peer
    .venv-peer/bin/pip install dlib-bin face-recognition-models
    .venv-peer/bin/pip install --no-deps face-recognition
    .venv-peer/bin/pip install numpy pillow click

Usage:

    .venv-peer/bin/python benchmarks/peer_face_recognition.py PAIRS.csv --root DIR --out OUT_DIR \
        [--limit-pairs N] [--timing-images 200]

PAIRS.csv has the header `file_a,file_b,same[,set,fold,...]` with paths relative to --root.

Per unique image (in order of first appearance): load_image_file, face_locations(model="hog",
number_of_times_to_upsample=1); with several faces the box whose centre is nearest the image
centre is kept (LFW labels the centre person); with none the whole image is used as the box
(counted and listed). Then face_encodings(img, known_face_locations=[box]) with the library's
defaults (num_jitters=1, its default landmark model). Each image is timed end to end
(decode + detect + encode) with time.perf_counter, single process, no thread settings.

Pair score = -euclidean distance (higher = more similar, so ROC code can treat it as a
similarity). face_recognition's own rule is "same person if distance <= 0.6" (its default
tolerance), i.e. score >= -0.6.

Writes OUT_DIR/peer_scores.csv (file_a,file_b,same,set,fold,score) and
OUT_DIR/peer_summary.json. The 10-fold accuracy follows the LFW View-2 protocol as in
matcher/evaluation.py: for each fold the threshold maximising accuracy on the other nine folds
(candidates: midpoints between neighbouring unique scores, lowest on ties) is applied to the
held-out fold; mean and population std over folds are reported.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import importlib.metadata
import inspect
import json
import os
import platform
import sys
import time
from pathlib import Path

import dlib
import face_recognition
import numpy as np

DEFAULT_TOLERANCE = 0.6  # face_recognition.compare_faces(..., tolerance=0.6)
DETECTOR_MODEL = "hog"
UPSAMPLE = 1
PROGRESS_EVERY = 200


def read_pairs(path: Path, limit: int | None) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"file_a", "file_b", "same"} - set(reader.fieldnames or [])
        if missing:
            sys.exit(f"{path}: missing column(s) {sorted(missing)}")
        rows = list(reader)
    if limit is not None:
        rows = rows[:limit]
    if not rows:
        sys.exit(f"{path}: no pairs")
    return rows


def centre_box(boxes: list[tuple[int, int, int, int]], height: int, width: int):
    """Box (top, right, bottom, left) whose centre is nearest the image centre."""
    cy, cx = height / 2.0, width / 2.0

    def dist2(box: tuple[int, int, int, int]) -> float:
        top, right, bottom, left = box
        return ((top + bottom) / 2.0 - cy) ** 2 + ((left + right) / 2.0 - cx) ** 2

    return min(boxes, key=dist2)


def encode_image(path: Path) -> tuple[np.ndarray, int, dict[str, float]]:
    """Return (128-d encoding, number of faces detected, stage timings in seconds)."""
    t0 = time.perf_counter()
    img = face_recognition.load_image_file(str(path))
    t1 = time.perf_counter()
    boxes = face_recognition.face_locations(img, number_of_times_to_upsample=UPSAMPLE, model=DETECTOR_MODEL)
    height, width = img.shape[:2]
    # No face: the whole image, css order (top, right, bottom, left).
    box = centre_box(boxes, height, width) if boxes else (0, width, height, 0)
    t2 = time.perf_counter()
    encodings = face_recognition.face_encodings(img, known_face_locations=[box])
    t3 = time.perf_counter()
    if len(encodings) != 1:
        raise RuntimeError(f"{path}: expected one encoding, got {len(encodings)}")
    times = {"decode": t1 - t0, "detect": t2 - t1, "encode": t3 - t2, "total": t3 - t0}
    return np.asarray(encodings[0], dtype=np.float64), len(boxes), times


def fold_accuracies(
    scores: np.ndarray, same: np.ndarray, folds: np.ndarray
) -> tuple[list[float], list[float], list[str]]:
    """LFW View-2: threshold chosen on the other folds, accuracy measured on the held-out one."""
    accs, thresholds, labels = [], [], []
    for fold in sorted(np.unique(folds), key=lambda f: (len(f), f)):
        test = folds == fold
        thr = best_threshold(scores[~test], same[~test])
        accs.append(float(np.mean((scores[test] >= thr) == same[test])))
        thresholds.append(thr)
        labels.append(str(fold))
    return accs, thresholds, labels


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """Threshold (predict same if score >= t) maximising accuracy; lowest candidate on ties."""
    uniq = np.unique(scores)
    candidates = np.concatenate([[uniq[0] - 1e-6], (uniq[:-1] + uniq[1:]) / 2.0, [uniq[-1] + 1e-6]])
    pos = np.sort(scores[same])
    neg = np.sort(scores[~same])
    pos_ge = pos.size - np.searchsorted(pos, candidates, side="left")
    neg_lt = np.searchsorted(neg, candidates, side="left")
    acc = (pos_ge + neg_lt) / scores.size
    return float(candidates[int(np.argmax(acc))])


def ms_stats(seconds: list[float]) -> dict[str, float | None]:
    if not seconds:
        return {"median_ms": None, "mean_ms": None}
    arr = np.asarray(seconds) * 1000.0
    return {"median_ms": round(float(np.median(arr)), 3), "mean_ms": round(float(arr.mean()), 3)}


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pairs", type=Path, help="pairs CSV: file_a,file_b,same[,set,fold,...]")
    ap.add_argument("--root", type=Path, required=True, help="directory the CSV paths are under")
    ap.add_argument("--out", type=Path, required=True, help="output directory")
    ap.add_argument("--limit-pairs", type=int, default=None, help="use only the first N pairs")
    ap.add_argument(
        "--timing-images",
        type=int,
        default=200,
        help="also report the median ms over the first N images (default 200)",
    )
    args = ap.parse_args(argv)

    rows = read_pairs(args.pairs, args.limit_pairs)
    has_set = "set" in rows[0]
    has_fold = "fold" in rows[0]

    images: list[str] = []
    seen: set[str] = set()
    for row in rows:
        for key in ("file_a", "file_b"):
            if row[key] not in seen:
                seen.add(row[key])
                images.append(row[key])
    absent = [rel for rel in images if not (args.root / rel).is_file()]
    if absent:
        sys.exit(f"{len(absent)} image(s) not found under {args.root}, e.g. {absent[:5]}")

    args.out.mkdir(parents=True, exist_ok=True)
    print(
        f"face_recognition {face_recognition.__version__} / dlib {dlib.__version__}: "
        f"{len(rows)} pairs, {len(images)} unique images",
        flush=True,
    )

    encodings: dict[str, np.ndarray] = {}
    no_face: list[str] = []
    multi_face: list[str] = []
    stage_times: dict[str, list[float]] = {"decode": [], "detect": [], "encode": [], "total": []}
    started = time.perf_counter()
    for i, rel in enumerate(images, start=1):
        enc, n_faces, times = encode_image(args.root / rel)
        encodings[rel] = enc
        if n_faces == 0:
            no_face.append(rel)
        elif n_faces > 1:
            multi_face.append(rel)
        for stage, sec in times.items():
            stage_times[stage].append(sec)
        if i % PROGRESS_EVERY == 0 or i == len(images):
            med = float(np.median(stage_times["total"])) * 1000.0
            print(
                f"[{i}/{len(images)}] {time.perf_counter() - started:.1f}s elapsed, "
                f"median {med:.1f} ms/image, no face so far: {len(no_face)}",
                flush=True,
            )

    same = np.array([int(r["same"]) == 1 for r in rows])
    scores = np.array([-float(np.linalg.norm(encodings[r["file_a"]] - encodings[r["file_b"]])) for r in rows])

    scores_path = args.out / "peer_scores.csv"
    with scores_path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file_a", "file_b", "same", "set", "fold", "score"])
        for row, score in zip(rows, scores, strict=True):
            writer.writerow(
                [
                    row["file_a"],
                    row["file_b"],
                    row["same"],
                    row.get("set", ""),
                    row.get("fold", ""),
                    f"{score:.8f}",
                ]
            )

    default_thr = -DEFAULT_TOLERANCE
    predicted = scores >= default_thr  # distance <= tolerance
    per_set: dict[str, dict[str, float | int]] = {}
    set_labels = np.array([r.get("set", "") or "" for r in rows]) if has_set else None
    if set_labels is not None:
        for name in sorted(set(set_labels.tolist())):
            m = set_labels == name
            per_set[name or "(none)"] = {
                "n_pairs": int(m.sum()),
                "accuracy": round(float(np.mean(predicted[m] == same[m])), 6),
            }

    kfold: dict[str, object] = {"available": False}
    if has_fold:
        fold_col = np.array([(r.get("fold") or "").strip() for r in rows])
        in_folds = fold_col != ""
        n_folds = len(np.unique(fold_col[in_folds]))
        if n_folds >= 2:
            accs, thrs, labels = fold_accuracies(scores[in_folds], same[in_folds], fold_col[in_folds])
            kfold = {
                "available": True,
                "n_pairs": int(in_folds.sum()),
                "n_folds": n_folds,
                "accuracy_mean": round(float(np.mean(accs)), 6),
                "accuracy_std": round(float(np.std(accs)), 6),
                "per_fold": [
                    {
                        "fold": lab,
                        "accuracy": round(a, 6),
                        "score_threshold": round(t, 6),
                        "distance_threshold": round(-t, 6),
                    }
                    for lab, a, t in zip(labels, accs, thrs, strict=True)
                ],
            }
        else:
            kfold = {"available": False, "reason": f"only {n_folds} fold(s) among the pairs"}

    n_timing = min(args.timing_images, len(images))
    enc_sig = inspect.signature(face_recognition.face_encodings).parameters
    summary = {
        "peer": "face_recognition",
        "pairs_file": str(args.pairs),
        "root": str(args.root),
        "limit_pairs": args.limit_pairs,
        "n_pairs": len(rows),
        "n_genuine": int(same.sum()),
        "n_impostor": int((~same).sum()),
        "n_images": len(images),
        "n_no_face": len(no_face),
        "no_face_images": no_face,
        "n_multi_face": len(multi_face),
        "score": "-euclidean distance between 128-d encodings (higher = more similar)",
        "pipeline": {
            "detector": DETECTOR_MODEL,
            "number_of_times_to_upsample": UPSAMPLE,
            "face_choice": "box centre nearest image centre; whole image when none found",
            "num_jitters": enc_sig["num_jitters"].default,
            "landmark_model": enc_sig["model"].default,
        },
        "timing": {
            "scope": "per image end to end: decode + detect + encode, time.perf_counter",
            "all_images": {"n": len(images), **ms_stats(stage_times["total"])},
            "first_images": {
                "n": n_timing,
                "median_ms": ms_stats(stage_times["total"][:n_timing])["median_ms"],
            },
            "stages_median_ms": {k: ms_stats(v)["median_ms"] for k, v in stage_times.items() if k != "total"},
            "wall_s": round(time.perf_counter() - started, 3),
        },
        "default_tolerance": {
            "distance": DEFAULT_TOLERANCE,
            "rule": "same if distance <= 0.6 (score >= -0.6)",
            "accuracy": round(float(np.mean(predicted == same)), 6),
            "per_set": per_set,
        },
        "lfw_10fold": kfold,
        "env": {
            "python": platform.python_version(),
            "dlib": dlib.__version__,
            "dlib_uses_cuda": bool(getattr(dlib, "DLIB_USE_CUDA", False)),
            "face_recognition": face_recognition.__version__,
            "face_recognition_models": package_version("face_recognition_models"),
            "numpy": np.__version__,
            "pillow": package_version("pillow"),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        },
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    summary_path = args.out / "peer_summary.json"
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")

    t_all = summary["timing"]["all_images"]
    print(
        f"images {len(images)}, no face {len(no_face)}, several faces {len(multi_face)}; "
        f"median {t_all['median_ms']} ms/image (mean {t_all['mean_ms']}), "
        f"median over first {n_timing}: {summary['timing']['first_images']['median_ms']} ms"
    )
    print(
        f"accuracy at tolerance {DEFAULT_TOLERANCE}: {summary['default_tolerance']['accuracy']:.4f} {per_set}"
    )
    if kfold.get("available"):
        print(
            f"LFW {kfold['n_folds']}-fold accuracy: "
            f"{kfold['accuracy_mean']:.4f} +- {kfold['accuracy_std']:.4f}"
        )
    else:
        print(f"k-fold accuracy not computed: {kfold.get('reason', 'no fold column')}")
    print(f"wrote {scores_path} and {summary_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
