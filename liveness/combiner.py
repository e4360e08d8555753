"""One calibrated "camera, not rendered" score: a small logistic regression over the
rendered-face signals (liveness/rendering.py), fitted by the project itself.

Why a fitted combination and not one threshold per signal: no single signal separates
every generator (BENCHMARKS.md, issue 10), and hand-set limits on six signals would be
tuned on the very clips they are reported on. The model is a handful of coefficients in a
readable file (liveness/liveness_model.toml), written by benchmarks/fit_liveness_model.py
from a committed list of training clips; a test refits it and demands the same numbers.
Fitting is deterministic (Newton's method from zero, fixed iterations), so it reproduces.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MODEL_PATH = Path(__file__).with_name("liveness_model.toml")
L2 = 1.0  # ridge on standardised coefficients: fixed in advance, never tuned on the data
NEWTON_STEPS = 50


@dataclass(frozen=True)
class LinearModel:
    features: tuple[str, ...]
    mean: np.ndarray  # per feature, raw units
    scale: np.ndarray
    fill: np.ndarray  # raw value used when a signal could not be measured (training median)
    weights: np.ndarray  # per standardised feature
    intercept: float
    threshold: float  # P(camera) below which the clip is refused

    def contributions(self, values: Sequence[float]) -> np.ndarray:
        x = np.asarray(values, dtype=np.float64)
        x = np.where(np.isfinite(x), x, self.fill)
        return self.weights * (x - self.mean) / self.scale

    def probability(self, values: Sequence[float]) -> float:
        z = float(np.sum(self.contributions(values))) + self.intercept
        return 1.0 / (1.0 + math.exp(-z))


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, features: Sequence[str], l2: float = L2) -> LinearModel:
    """Weighted, L2-regularised logistic regression; ``y`` 1 = camera (bona fide)."""
    fill = np.array([float(np.nanmedian(col)) if np.isfinite(col).any() else 0.0 for col in x.T])
    xf = np.where(np.isfinite(x), x, fill)
    wsum = w.sum()
    mean = (xf * w[:, None]).sum(axis=0) / wsum
    scale = np.sqrt(((xf - mean) ** 2 * w[:, None]).sum(axis=0) / wsum)
    scale = np.where(scale > 1e-9, scale, 1.0)
    z = np.hstack([(xf - mean) / scale, np.ones((len(y), 1))])
    beta = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[-1] = 0.0  # the intercept is not shrunk
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-(z @ beta)))
        grad = z.T @ (w * (p - y)) + penalty * beta
        hess = (z * (w * p * (1 - p))[:, None]).T @ z + np.diag(penalty)
        beta = beta - np.linalg.solve(hess, grad)
    return LinearModel(tuple(features), mean, scale, fill, beta[:-1], float(beta[-1]), 0.5)


def with_threshold(model: LinearModel, threshold: float) -> LinearModel:
    return LinearModel(
        model.features, model.mean, model.scale, model.fill, model.weights, model.intercept, threshold
    )


def rounded(model: LinearModel, digits: int = 6) -> LinearModel:
    """The model as the TOML file stores it (the test compares these numbers exactly)."""
    r = lambda a: np.round(np.asarray(a, dtype=np.float64), digits)  # noqa: E731
    return LinearModel(
        model.features,
        r(model.mean),
        r(model.scale),
        r(model.fill),
        r(model.weights),
        float(round(model.intercept, digits)),
        float(round(model.threshold, digits)),
    )


def to_toml(model: LinearModel, header: str) -> str:
    m = rounded(model)
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    lines += [
        "",
        "[model]",
        'kind = "logistic_regression"',
        f"intercept = {m.intercept!r}",
        f"threshold = {m.threshold!r}  # P(camera) below this: rendered_face fails",
        f"features = [{', '.join(repr(f).replace(chr(39), chr(34)) for f in m.features)}]",
    ]
    for i, name in enumerate(m.features):
        lines += [
            "",
            f"[feature.{name}]",
            f"weight = {float(m.weights[i])!r}  # per standard deviation; + means 'more like a camera'",
            f"mean = {float(m.mean[i])!r}",
            f"scale = {float(m.scale[i])!r}",
            f"fill = {float(m.fill[i])!r}  # used when the signal could not be measured",
        ]
    return "\n".join(lines) + "\n"


def load(path: Path = MODEL_PATH) -> LinearModel:
    d = tomllib.loads(path.read_text(encoding="utf-8"))
    names = tuple(d["model"]["features"])
    col = lambda key: np.array([float(d["feature"][n][key]) for n in names])  # noqa: E731
    return LinearModel(
        names,
        col("mean"),
        col("scale"),
        col("fill"),
        col("weight"),
        float(d["model"]["intercept"]),
        float(d["model"]["threshold"]),
    )
