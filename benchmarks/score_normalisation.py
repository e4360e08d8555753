"""Issue 9 study: score normalisation and embedding adaptation for East-Asian faces, measured
against each other at one threshold chosen on East-Asian impostors.

For each approach it prints FMR and FNMR on
- CASIA-FaceV5 dev (20 Chinese people) by identity cross-validation: people in 5 folds; a pair
  whose people lie in folds {a, b} is scored with everything (fitted transform, cohort,
  threshold) taken from the people of the *other* folds only, so each pair is tested once and
  nothing it is tested with ever saw its people;
- LFW View 2 (6,000 pairs) and every LFW impostor pair (29.6 M), with the transform, cohort
  and threshold fitted on all 20 CASIA dev people (disjoint from LFW).

Approaches: raw cosine; centring on the East-Asian mean embedding; within-class whitening
(WCCN with shrinkage, centred); cohort s-norm against East-Asian faces (as the service would
use its own register), alone and after centring; s-norm against the probe's own population
(East-Asian cohort for the East-Asian pairs, LFW for LFW: what a deployment's register gives);
the fused preset re-weighted.

    nice python benchmarks/score_normalisation.py            # from the project root
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from benchmarks.face_sets import FaceSet, casia_dev, identity_folds, lfw
from matcher.embedding import l2_normalise
from matcher.evaluation import threshold_at_fmr
from matcher.identification import fmr_upper_bound
from matcher.pipeline import FaceMatcher

Scorer = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]
# fit(train_emb, train_ids) -> score(emb_a, ids_a, emb_b, ids_b) -> matrix of scores
Fit = Callable[[np.ndarray, np.ndarray], Scorer]
SHRINK = 0.5  # WCCN shrinkage towards the identity; fixed a priori, not tuned on any test set


def fit_raw(train: np.ndarray, ids: np.ndarray) -> Scorer:
    return lambda a, ia, b, ib: a @ b.T


def fit_centre(train: np.ndarray, ids: np.ndarray) -> Scorer:
    mean = train.mean(axis=0)
    return lambda a, ia, b, ib: l2_normalise(a - mean) @ l2_normalise(b - mean).T


def fit_wccn(train: np.ndarray, ids: np.ndarray) -> Scorer:
    mean = train.mean(axis=0)
    within = np.concatenate([train[ids == p] - train[ids == p].mean(axis=0) for p in np.unique(ids)])
    sw = within.T @ within / within.shape[0]
    sw = sw / (np.trace(sw) / sw.shape[0])
    vals, vecs = np.linalg.eigh((1 - SHRINK) * sw + SHRINK * np.eye(sw.shape[0]))
    m = vecs @ np.diag(vals**-0.5) @ vecs.T

    def score(a: np.ndarray, ia: np.ndarray, b: np.ndarray, ib: np.ndarray) -> np.ndarray:
        return l2_normalise((a - mean) @ m) @ l2_normalise((b - mean) @ m).T

    return score


def snorm(base: Fit) -> Fit:
    """Symmetric cohort normalisation of ``base``'s scores; the cohort is the training faces."""

    def fit(train: np.ndarray, ids: np.ndarray) -> Scorer:
        inner = base(train, ids)

        def score(a: np.ndarray, ia: np.ndarray, b: np.ndarray, ib: np.ndarray) -> np.ndarray:
            sa = _stats(inner, a, ia, train, ids)
            sb = _stats(inner, b, ib, train, ids)
            s = inner(a, ia, b, ib)
            return 0.5 * ((s - sa[:, :1]) / sa[:, 1:] + (s - sb[:, 0]) / sb[:, 1])

        return score

    return fit


def _stats(inner: Scorer, x: np.ndarray, ix: np.ndarray, cohort: np.ndarray, cids: np.ndarray) -> np.ndarray:
    s = inner(x, ix, cohort, cids)
    keep = ix[:, None] != cids[None, :]
    n = keep.sum(axis=1)
    mu = (s * keep).sum(axis=1) / n
    sd = np.sqrt(((s - mu[:, None]) ** 2 * keep).sum(axis=1) / n)
    return np.stack([mu, sd], axis=1)


@dataclass
class Row:
    name: str
    values: dict[str, float]


def _pairs(ids: np.ndarray, folds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    i, j = np.triu_indices(ids.size, 1)
    return i, j, ids[i] == ids[j]


def casia_cv(data: FaceSet, fit: Fit, fmr: float) -> dict[str, float]:
    """Pooled held-out FMR/FNMR by identity cross-validation (see the module docstring)."""
    folds = identity_folds(data.ids)
    i, j, same = _pairs(data.ids, folds)
    fa, fb = np.minimum(folds[i], folds[j]), np.maximum(folds[i], folds[j])
    fm = fnm = n_imp = n_gen = 0
    thresholds = []
    for a in range(folds.max() + 1):
        for b in range(a, folds.max() + 1):
            pool = (folds != a) & (folds != b)
            scorer = fit(data.emb[pool], data.ids[pool])
            s = scorer(data.emb, data.ids, data.emb, data.ids)
            train = pool[i] & pool[j]
            t = threshold_at_fmr(s[i[train & ~same], j[train & ~same]], fmr)
            thresholds.append(t)
            test = (fa == a) & (fb == b)
            imp, gen = s[i[test & ~same], j[test & ~same]], s[i[test & same], j[test & same]]
            fm += int(np.sum(imp >= t))
            fnm += int(np.sum(gen < t))
            n_imp += imp.size
            n_gen += gen.size
    return {
        "ea_fmr": fm / n_imp,
        "ea_fm": fm,
        "ea_imp": n_imp,
        "ea_fmr_up": fmr_upper_bound(fm, n_imp),
        "ea_fnmr": fnm / n_gen,
        "ea_gen": n_gen,
    }


def lfw_at_ea_threshold(
    ea: FaceSet,
    other: FaceSet,
    protocol: list[tuple[int, int, bool, int]],
    fit: Fit,
    fmr: float,
    own_cohort: bool = False,
) -> dict[str, float]:
    """Fit and threshold on all East-Asian dev people; apply to LFW View 2 and all LFW pairs.
    ``own_cohort``: LFW's scores are normalised against LFW (every View-2 image of another
    person), as a deployment's own register would normalise its own population; the threshold
    still comes from the East-Asian people."""
    scorer = fit(ea.emb, ea.ids)
    s_ea = scorer(ea.emb, ea.ids, ea.emb, ea.ids)
    i, j, same = _pairs(ea.ids, identity_folds(ea.ids))
    t = threshold_at_fmr(s_ea[i[~same], j[~same]], fmr)
    if own_cohort:
        scorer = fit(other.emb, other.ids)
    a = np.array([p[0] for p in protocol])
    b = np.array([p[1] for p in protocol])
    y = np.array([p[2] for p in protocol])
    s = np.array(
        [
            scorer(other.emb[x : x + 1], other.ids[x : x + 1], other.emb[z : z + 1], other.ids[z : z + 1])[
                0, 0
            ]
            for x, z in zip(a, b, strict=True)
        ]
    )
    # Every LFW impostor pair, in blocks of rows (29.6 M scores).
    fm = n = 0
    for start in range(0, other.ids.size, 500):
        rows = slice(start, min(start + 500, other.ids.size))
        block = scorer(other.emb[rows], other.ids[rows], other.emb, other.ids)
        r = np.arange(rows.start, rows.stop)[:, None]
        c = np.arange(other.ids.size)[None, :]
        imp = (c > r) & (other.ids[rows][:, None] != other.ids[None, :])
        fm += int(np.count_nonzero((block >= t) & imp))
        n += int(imp.sum())
    return {
        "t": t,
        "lfw_fmr": float(np.mean(s[~y] >= t)),
        "lfw_fnmr": float(np.mean(s[y] < t)),
        "lfw_all_fmr": fm / n,
        "lfw_all_imp": n,
    }


def reweighted(fused: FaceSet, w: float) -> FaceSet:
    """Fused embeddings with fr_feature weight ``w`` (MobileFaceNet 1 - w)."""
    fr = l2_normalise(fused.emb[:, :512])
    mfn = l2_normalise(fused.emb[:, 512:])
    return FaceSet(fused.files, fused.ids, np.hstack([np.sqrt(w) * fr, np.sqrt(1 - w) * mfn]))


APPROACHES: dict[str, Fit] = {
    "raw cosine": fit_raw,
    "centre (EA mean)": fit_centre,
    "WCCN (centred, shrink 0.5)": fit_wccn,
    "s-norm (EA cohort)": snorm(fit_raw),
    "centre + s-norm": snorm(fit_centre),
}
# Normalised against the probe's own population (session 7): what a register-based cohort does.
OWN_COHORT = "s-norm (own-population cohort: EA for EA, LFW for LFW)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fmr", type=float, nargs="+", default=[1e-3, 1e-4])
    ap.add_argument("--only", default="", help="only the approaches whose name contains this")
    args = ap.parse_args()
    runs: list[tuple[str, FaceSet, FaceSet, list[tuple[int, int, bool, int]], Fit]] = []
    fast = FaceMatcher(preset="fast", threads=1)
    ea, (other, protocol) = casia_dev(fast), lfw(fast)
    runs += [(f"fast · {name}", ea, other, protocol, fit) for name, fit in APPROACHES.items()]
    runs.append((f"fast · {OWN_COHORT}", ea, other, protocol, snorm(fit_raw)))
    fused = FaceMatcher(preset="fused", threads=1)
    ea_f, (other_f, _) = casia_dev(fused), lfw(fused)
    for w in (0.6, 0.5, 0.3):
        for name in ("raw cosine", "centre + s-norm"):
            runs.append(
                (
                    f"fused fr×{w} · {name}",
                    reweighted(ea_f, w),
                    reweighted(other_f, w),
                    protocol,
                    APPROACHES[name],
                )
            )
    for fmr in args.fmr:
        print(f"\n### target FMR {fmr:g}: threshold chosen on East-Asian impostor pairs only\n")
        print(
            "| approach | CASIA-CV FMR (false/imp, 95 % up) | CASIA-CV FNMR | threshold (all CASIA) "
            "| LFW View-2 FMR | LFW View-2 FNMR | LFW all-pairs FMR | FMR ratio EA / LFW-all |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for name, e, o, prot, fit in runs:
            if args.only not in name:
                continue
            cv = casia_cv(e, fit, fmr)
            lf = lfw_at_ea_threshold(e, o, prot, fit, fmr, own_cohort=OWN_COHORT in name)
            ratio = cv["ea_fmr"] / lf["lfw_all_fmr"] if lf["lfw_all_fmr"] > 0 else float("inf")
            print(
                f"| {name} | {100 * cv['ea_fmr']:.3f} % ({cv['ea_fm']}/{cv['ea_imp']}, "
                f"≤{100 * cv['ea_fmr_up']:.2f} %) "
                f"| {100 * cv['ea_fnmr']:.2f} % | {lf['t']:.4f} | {100 * lf['lfw_fmr']:.2f} % "
                f"| {100 * lf['lfw_fnmr']:.2f} % | {lf['lfw_all_fmr']:.2e} | {ratio:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
