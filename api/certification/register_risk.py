"""What register-wide screening may decide at a given register size (issue 13).

A fixed register threshold turns into a flood as the register grows: at FMR 1.55e-6 per
comparison (0.55 on LFW), 10^6 references give ~1.6 false look-alike hits per certification.
So the threshold is read off the impostor tail for the register's size: the lowest threshold
whose expected false reviews, ``1 - exp(-N FMR(t))`` for N references compared, stay within a
budget per certification (``FALSE_REVIEW_BUDGET``, 1 per 1,000 certifications), never below the
configured ``register_match_threshold`` and never above ``CEILING``.

The curves are (FMR per comparison, threshold) from ``python -m benchmarks.register_screening
--curve`` (preset fast), one per population, chosen by ``settings.register_curve``:

- ``east-asian`` (the default: the service's users, and the population of the shipped 1:1
  calibration): the 4,373 impostor pairs of the East-Asian development set (CASIA-FaceV5 dev, 20
  people), whose impostors score far higher than LFW's (FMR 4.6e-4 at 0.5425 against 1.8e-6).
  Measured only down to ~2e-3; every row here is an EXPONENTIAL TAIL FIT over its top 5 % (219
  pairs), so the low rows are a projection from 20 people, not a measurement.
- ``lfw``: every LFW impostor pair (29.6 M); rows below FMR ~1e-7 a generalised Pareto fit. On
  East-Asian faces its thresholds sent 70-100 % of certifications to review from 10^4 persons.

Neither is a register of Chinese retirees: measure the deployment's own enrolment photos
before relying on either. BENCHMARKS.md gives the tables.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

FALSE_REVIEW_BUDGET = 1e-3  # expected false look-alike reviews per certification
CEILING = 0.90  # above this, genuine pairs of the same person are lost too (TAR < ~10 %)
DEFAULT_K = 10  # persons returned by the index per certification

Curve = tuple[tuple[float, float], ...]

# (FMR per comparison, threshold), LFW all pairs, preset fast: measured where >= 100 pairs
# reach the threshold, a generalised Pareto tail fit over the 1e-3 quantile beyond (marked).
LFW_CURVE: Curve = (
    (1e-3, 0.3350),  # measured, TAR 98.9 %
    (1e-4, 0.4112),  # measured, TAR 97.5 %
    (1e-5, 0.4757),  # measured, TAR 94.3 %
    (1e-6, 0.5570),  # fit, TAR 84.7 %
    (1e-7, 0.6247),  # fit, TAR 70.8 %
    (1e-8, 0.6895),  # fit, TAR 49.3 %
    (1e-9, 0.7515),  # fit, TAR 26.7 %
    (1e-10, 0.8108),  # fit, TAR 10.1 %
    (1e-11, 0.8675),  # fit, TAR 2.0 %
)

# The same from the East-Asian development set's 4,373 impostor pairs (an exponential over their
# top 5 %): every row a fit; from 1e-8 on the fit passes 1.0, where no threshold holds it.
EAST_ASIAN_CURVE: Curve = (
    (1e-3, 0.5173),  # fit, TAR 99.5 %
    (1e-4, 0.6220),  # fit, TAR 96.8 %
    (1e-5, 0.7267),  # fit, TAR 84.5 %
    (1e-6, 0.8314),  # fit, TAR 41.2 %
    (1e-7, 0.9361),  # fit, TAR 4.3 %
)

CURVES: dict[str, Curve] = {"east-asian": EAST_ASIAN_CURVE, "lfw": LFW_CURVE}
DEFAULT_CURVE = "east-asian"  # settings.register_curve's default
FMR_CURVE = CURVES[DEFAULT_CURVE]


@dataclass(frozen=True)
class RegisterThreshold:
    threshold: float
    fmr: float  # per comparison at the threshold, from the curve
    expected_false_reviews: float  # per certification
    achievable: bool  # the budget is met below the ceiling


def fmr_at(threshold: float, curve: Curve = FMR_CURVE) -> float:
    """FMR at ``threshold``, log-linear between the curve's rows, flat beyond its ends."""
    pts = sorted(curve, key=lambda p: p[1])
    if threshold <= pts[0][1]:
        return pts[0][0]
    for (f0, t0), (f1, t1) in itertools.pairwise(pts):
        if threshold <= t1:
            w = (threshold - t0) / (t1 - t0)
            return 10 ** ((1 - w) * math.log10(f0) + w * math.log10(f1))
    return pts[-1][0]


def threshold_for_fmr(fmr: float, curve: Curve = FMR_CURVE) -> float:
    """The threshold at which the curve reaches ``fmr`` (log-linear between rows)."""
    pts = sorted(curve, key=lambda p: -p[0])
    if fmr >= pts[0][0]:
        return pts[0][1]
    for (f0, t0), (f1, t1) in itertools.pairwise(pts):
        if fmr >= f1:
            w = (math.log10(f0) - math.log10(fmr)) / (math.log10(f0) - math.log10(f1))
            return t0 + w * (t1 - t0)
    return math.inf


def expected_false_reviews(compared: int, fmr: float) -> float:
    return -math.expm1(-compared * fmr)


def register_threshold(
    compared: int,
    *,
    budget: float = FALSE_REVIEW_BUDGET,
    floor: float,
    ceiling: float = CEILING,
    curve: Curve = FMR_CURVE,
) -> RegisterThreshold:
    """The register scope's threshold for ``compared`` references (see the module doc)."""
    wanted = threshold_for_fmr(budget / max(compared, 1), curve)
    achievable = wanted <= ceiling
    t = min(max(floor, wanted), ceiling)
    f = fmr_at(t, curve)
    return RegisterThreshold(round(t, 4), f, expected_false_reviews(compared, f), achievable)
