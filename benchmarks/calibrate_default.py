"""Training script of the shipped default calibration (models/manifest.toml [calibrations.*]).

Data list: the 100 photos of ../shared/data/faces/casia_facev5_dev/manifest.csv (20 Chinese
adults, CASIA-FaceV5 subjects 000-019); photos where no face is found are left out, as
`lifecert calibrate` does (the service refuses them at its quality gate). Method:
matcher.calibration.calibrate_population with its fixed defaults (bootstrap by identity, 200
rounds, seed 9). Deterministic on one kind of CPU: tests/test_calibration.py re-runs it and
compares with the manifest, counts exactly and thresholds to 2e-3 (the embedding models' float
kernels differ between CPUs: 9e-4 at most between the VM that fitted it and an AVX2 EPYC).

    PYTHONPATH=. python -m benchmarks.calibrate_default        # prints the TOML to paste
    PYTHONPATH=. python -m benchmarks.calibrate_default --cv   # identity CV of the method
"""

from __future__ import annotations

import numpy as np

from benchmarks.face_sets import CASIA_DEV, CV_FOLDS, casia_dev, identity_folds
from matcher.bench import calibrate_folder
from matcher.calibration import Calibration, calibrate_population, to_toml
from matcher.identification import fmr_upper_bound
from matcher.pipeline import FaceMatcher

PRESETS = ("fast", "fused")
DATE = "2026-12-01"
POPULATION = "CASIA-FaceV5 dev, subjects 000-019: 20 Chinese adults, webcam photos with a face found"


def default_calibration(matcher: FaceMatcher) -> Calibration:
    cal = calibrate_folder(matcher, CASIA_DEV, workers=1, population=POPULATION)
    return cal.__class__(**{**cal.__dict__, "date": DATE})


def identity_cv(matcher: FaceMatcher) -> None:
    """Held-out FMR/FNMR of the method: a pair of people in folds {a, b} is tested with a
    calibration made on the other folds' people only (faces found, as shipped)."""
    data = casia_dev(matcher).faces_found()
    folds = identity_folds(data.ids)
    i, j = np.triu_indices(data.ids.size, 1)
    same = data.ids[i] == data.ids[j]
    s = data.emb @ data.emb.T
    lo, hi = np.minimum(folds[i], folds[j]), np.maximum(folds[i], folds[j])
    for conservative in (False, True):
        fm = fnm = n_imp = n_gen = 0
        for a in range(CV_FOLDS):
            for b in range(a, CV_FOLDS):
                pool = (folds != a) & (folds != b)
                cal = calibrate_population(
                    data.emb[pool], data.ids[pool], preset="cv", population="", conservative=conservative
                )
                test = (lo == a) & (hi == b)
                imp, gen = s[i[test & ~same], j[test & ~same]], s[i[test & same], j[test & same]]
                fm, fnm = fm + int(np.sum(imp >= cal.threshold)), fnm + int(np.sum(gen < cal.threshold))
                n_imp, n_gen = n_imp + imp.size, n_gen + gen.size
        print(
            f"{'bootstrap p95' if conservative else 'point estimate'}: held-out FMR {fm}/{n_imp} "
            f"= {fm / n_imp:.2e} (95 % up {fmr_upper_bound(fm, n_imp):.2e}), "
            f"FNMR {fnm}/{n_gen} = {fnm / n_gen:.2%}"
        )


def main() -> None:
    import sys

    if "--cv" in sys.argv:
        identity_cv(FaceMatcher(preset="fast", threads=1))
        return
    np.set_printoptions(precision=6)
    cals = [default_calibration(FaceMatcher(preset=p, threads=1)) for p in PRESETS]
    print(to_toml(cals, prefix="calibrations."))


if __name__ == "__main__":
    main()
