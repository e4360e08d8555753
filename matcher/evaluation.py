"""Verification metrics over pair scores: ROC, DET, EER, TAR@FAR, LFW 10-fold accuracy.

Vocabulary follows ISO/IEC 19795-1: FMR (false match rate, an impostor pair scored at or
above the threshold), FNMR (false non-match rate), TAR = 1 - FNMR at a given FAR = FMR.
The ROC itself comes from scikit-learn; only the protocol-specific parts live here.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

# Benchmark results are JSON-shaped (written to metrics.json, read by the reports): nested
# dicts of numbers and strings whose shape the report code knows.
Metrics = dict[str, Any]


@dataclass(frozen=True)
class Pair:
    file_a: str
    file_b: str
    same: bool
    set: str = ""
    fold: int | None = None
    # Every other column of the pairs CSV (population, age_band, ...), for per-group reports.
    attrs: tuple[tuple[str, str], ...] = ()

    def attr(self, column: str) -> str:
        """The value of a further CSV column ("" when the file has no such column)."""
        return dict(self.attrs).get(column, "")


_CORE_COLUMNS = {"file_a", "file_b", "same", "set", "fold"}


class PairsFileError(ValueError):
    """The pairs CSV is malformed; the message names the line."""


def read_pairs(path: Path) -> list[Pair]:
    """Pairs from a CSV with ``file_a,file_b,same`` (optional ``set``, ``fold``; any other
    column is kept in ``Pair.attrs`` for group reports)."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"file_a", "file_b", "same"} - set(reader.fieldnames or [])
        if missing:
            raise PairsFileError(f"{path}: missing columns {sorted(missing)}")
        pairs = []
        for line, row in enumerate(reader, start=2):
            same = (row["same"] or "").strip().lower()
            if same not in {"1", "0", "true", "false", "yes", "no"}:
                raise PairsFileError(f"{path}:{line}: 'same' must be 1/0, got {row['same']!r}")
            fold = (row.get("fold") or "").strip()
            pairs.append(
                Pair(
                    file_a=row["file_a"].strip(),
                    file_b=row["file_b"].strip(),
                    same=same in {"1", "true", "yes"},
                    set=(row.get("set") or "").strip(),
                    fold=int(fold) if fold else None,
                    attrs=tuple(
                        (k, (v or "").strip())
                        for k, v in row.items()
                        if k not in _CORE_COLUMNS and k is not None
                    ),
                )
            )
    if not pairs:
        raise PairsFileError(f"{path}: no pairs")
    return pairs


def fallback_five_points(shape: tuple[int, ...]) -> np.ndarray:
    """Five points of a centred frontal face, for images where detection found nothing.

    Only the benchmark uses this, so that every protocol pair still gets a score (LFW's
    deep-funnelled crops centre the face); such images are counted and listed in the report.
    """
    h, w = shape[:2]
    rel = np.array([[0.415, 0.445], [0.585, 0.445], [0.5, 0.545], [0.43, 0.625], [0.57, 0.625]])
    return (rel * np.array([w, h])).astype(np.float32)


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """Threshold that maximises accuracy (ties: the midpoint between neighbouring scores)."""
    order = np.sort(np.unique(scores))
    candidates = np.concatenate([[order[0] - 1e-6], (order[:-1] + order[1:]) / 2, [order[-1] + 1e-6]])
    acc = [(np.mean((scores >= t) == same)) for t in candidates]
    return float(candidates[int(np.argmax(acc))])


def kfold_accuracy(
    scores: np.ndarray, same: np.ndarray, folds: np.ndarray
) -> tuple[float, float, list[float]]:
    """LFW View-2 protocol: threshold picked on 9 folds, accuracy measured on the 10th."""
    accs, thresholds = [], []
    for f in np.unique(folds):
        test = folds == f
        t = best_threshold(scores[~test], same[~test])
        thresholds.append(t)
        accs.append(float(np.mean((scores[test] >= t) == same[test])))
    return float(np.mean(accs)), float(np.std(accs)), thresholds


def threshold_at_fmr(impostor_scores: np.ndarray, target_fmr: float) -> float:
    """The lowest threshold whose FMR on these impostors is at most ``target_fmr``."""
    ordered = np.sort(impostor_scores)[::-1]
    allowed = int(np.floor(target_fmr * ordered.size))  # impostors that may score >= t
    if allowed >= ordered.size:
        return float(ordered[-1])
    return float(np.nextafter(ordered[allowed], np.inf))


def kfold_threshold_at_fmr(
    scores: np.ndarray, same: np.ndarray, folds: np.ndarray, target_fmr: float
) -> dict[str, float]:
    """Cross-validated operating point: threshold for ``target_fmr`` chosen on 9 folds,
    FMR and FNMR measured on the held-out fold; means over folds.

    This is how the shipped thresholds are calibrated: the error rates it reports are
    never measured on the pairs that chose the threshold.
    """
    thresholds, fmrs, fnmrs = [], [], []
    for f in np.unique(folds):
        test = folds == f
        t = threshold_at_fmr(scores[~test & ~same], target_fmr)
        thresholds.append(t)
        fmrs.append(float(np.mean(scores[test & ~same] >= t)))
        fnmrs.append(float(np.mean(scores[test & same] < t)))
    return {
        "target_fmr": target_fmr,
        "threshold_mean": float(np.mean(thresholds)),
        "threshold_std": float(np.std(thresholds)),
        "heldout_fmr": float(np.mean(fmrs)),
        "heldout_fnmr": float(np.mean(fnmrs)),
    }


@dataclass
class RocSummary:
    n_genuine: int
    n_impostor: int
    auc: float
    eer: float
    eer_threshold: float
    tar_at_far: dict[str, float | None]
    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray


def roc_summary(scores: np.ndarray, same: np.ndarray) -> RocSummary:
    """EER, AUC and TAR at FAR 1e-2/1e-3/1e-4 (a FAR is reported only if measurable).

    The ROC keeps every operating point (``drop_intermediate=False``): scikit-learn's default
    thins points that lie on straight stretches of the curve, and on a small set the EER
    crossing falls exactly on such a stretch, so the nearest surviving point understated the
    EER (CASIA dev: 3.4 % reported for a true 6.0 %).
    """
    fpr, tpr, thr = roc_curve(same.astype(int), scores, drop_intermediate=False)
    fnr = 1 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    eer = float((fpr[i] + fnr[i]) / 2)
    n_imp = int(np.sum(~same))
    tar: dict[str, float | None] = {}
    for far in (1e-2, 1e-3, 1e-4):
        # A FAR below 1/N impostors cannot be measured: report None rather than guess.
        if n_imp * far < 1:
            tar[f"{far:.0e}"] = None
            continue
        ok = np.flatnonzero(fpr <= far)
        tar[f"{far:.0e}"] = float(tpr[ok[-1]]) if ok.size else 0.0
    return RocSummary(
        n_genuine=int(np.sum(same)),
        n_impostor=n_imp,
        auc=float(roc_auc_score(same.astype(int), scores)),
        eer=eer,
        eer_threshold=float(thr[i]),
        tar_at_far=tar,
        fpr=fpr,
        tpr=tpr,
        thresholds=thr,
    )


def rates_at(scores: np.ndarray, same: np.ndarray, threshold: float) -> dict[str, float]:
    """FMR and FNMR at a fixed operating threshold."""
    gen, imp = scores[same], scores[~same]
    return {
        "threshold": threshold,
        "fmr": float(np.mean(imp >= threshold)) if imp.size else float("nan"),
        "fnmr": float(np.mean(gen < threshold)) if gen.size else float("nan"),
        "accuracy": float(np.mean((scores >= threshold) == same)),
    }


def score_fmr_table(
    scores: np.ndarray,
    same: np.ndarray,
    grid: np.ndarray | None = None,
    fmrs: tuple[float, ...] = (1e-2, 1e-3, 1e-4, 1e-5),
) -> dict[str, list[dict[str, float | int | None]]]:
    """The score scale a deployment reads: FMR and FNMR at fixed scores, and the score for
    each FMR the impostors can resolve (like the score-to-FAR tables vendors publish).

    Each FMR row carries the one-sided 95 % Clopper-Pearson upper bound, so a reader sees how
    little 0 false matches among a few thousand pairs proves.
    """
    from matcher.identification import fmr_upper_bound

    gen, imp = scores[same], scores[~same]
    if grid is None:
        grid = np.round(np.arange(0.20, 0.701, 0.05), 2)

    def row(t: float) -> dict[str, float | int | None]:
        false_matches = int(np.count_nonzero(imp >= t))
        return {
            "threshold": float(t),
            "false_matches": false_matches,
            "fmr": false_matches / imp.size if imp.size else None,
            "fmr_upper_95": fmr_upper_bound(false_matches, int(imp.size)),
            "fnmr": float(np.mean(gen < t)) if gen.size else None,
        }

    by_fmr = []
    for fmr in fmrs:
        if imp.size and fmr * imp.size >= 1:
            by_fmr.append({"target_fmr": fmr, **row(threshold_at_fmr(imp, fmr))})
    return {"by_score": [row(float(t)) for t in grid], "by_fmr": by_fmr}
