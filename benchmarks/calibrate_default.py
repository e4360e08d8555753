"""Training script of the shipped default calibration (models/manifest.toml [calibrations.*]).

Data list: the 100 photos of ../shared/data/faces/casia_facev5_dev/manifest.csv (20 Chinese
adults, CASIA-FaceV5 subjects 000-019); photos where no face is found are left out, as
`lifecert calibrate` does (the service refuses them at its quality gate). Method:
matcher.calibration.calibrate_population with its fixed defaults (bootstrap by identity, 200
rounds, seed 9). Deterministic: tests/test_calibration.py re-runs it and compares with the
manifest digit for digit.

    PYTHONPATH=. python -m benchmarks.calibrate_default    # prints the TOML to paste
"""

from __future__ import annotations

import numpy as np

from benchmarks.face_sets import CASIA_DEV
from matcher.bench import calibrate_folder
from matcher.calibration import Calibration, to_toml
from matcher.pipeline import FaceMatcher

PRESETS = ("fast", "fused")
DATE = "2026-12-01"
POPULATION = "CASIA-FaceV5 dev, subjects 000-019: 20 Chinese adults, webcam photos with a face found"


def default_calibration(matcher: FaceMatcher) -> Calibration:
    cal = calibrate_folder(matcher, CASIA_DEV, workers=1, population=POPULATION)
    return cal.__class__(**{**cal.__dict__, "date": DATE})


def main() -> None:
    np.set_printoptions(precision=6)
    cals = [default_calibration(FaceMatcher(preset=p, threads=1)) for p in PRESETS]
    print(to_toml(cals, prefix="calibrations."))


if __name__ == "__main__":
    main()
