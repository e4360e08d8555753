"""Which score threshold holds a false-match rate on the population a deployment serves.

Why this exists: a threshold is only "FMR 1e-3" on the faces it was measured on. The preset
thresholds in models/manifest.toml came from LFW (mostly Western public figures); on Chinese
faces the same threshold false-matched ~5 % of impostor pairs (issue 9). So the threshold in
force is a *calibration*: a table of score -> FMR measured on a named population, with the
method and its confidence, chosen in this order:

1. ``$LIFECERT_HOME/calibration.toml``, written by ``lifecert calibrate`` from the
   deployment's own enrolment photos (one section per preset);
2. the default shipped in models/manifest.toml ``[calibrations.PRESET]`` (calibrated on the
   East-Asian development set, see benchmarks/calibrate_default.py);
3. the preset's own LFW threshold, as before.

Method (``calibrate_population``): every pair of photos of two different people is an impostor
pair; the threshold for a target FMR is the lowest score that at most ``target * n`` impostor
pairs reach. Two confidence statements come with it. The Clopper-Pearson bound is the upper
95 % bound on the FMR at that threshold if pairs were independent; they are not (one person
is in many pairs), so the threshold is also bootstrapped *by identity* (people resampled with
replacement, their impostor pairs re-scored), whose 95th percentile is the threshold that
still holds the target if the population had been drawn differently. The threshold in force
is the point estimate or, where the bootstrap asks for more, that percentile
(``conservative=True``, the default): erring on the side of fewer false matches.
A target FMR below 1/n impostor pairs cannot be measured; such points are extrapolated from an
exponential fit of the impostor tail and marked ``measured = false``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from importlib import resources
from pathlib import Path

import numpy as np

from matcher.evaluation import threshold_at_fmr
from matcher.identification import fmr_upper_bound

CALIBRATION_FILE = "calibration.toml"
TARGETS = (1e-3, 1e-4, 1e-5)
BOOTSTRAP_ROUNDS = 200
BOOTSTRAP_SEED = 9
# The top share of impostor scores the tail fit uses for FMRs below 1/n.
TAIL_SHARE = 0.05


@dataclass(frozen=True)
class FmrPoint:
    """One row of the score -> FMR table."""

    target_fmr: float
    threshold: float  # the threshold in force for this target
    measured: bool  # False: extrapolated from the tail fit (too few impostor pairs)
    point_threshold: float  # the plain estimate on all impostor pairs
    bootstrap_p95: float | None  # 95th percentile of the identity bootstrap
    false_matches: int  # impostor pairs at or above ``threshold``
    fmr: float  # measured FMR at ``threshold``
    fmr_upper_95: float  # Clopper-Pearson one-sided bound (independent pairs assumed)
    fnmr: float | None  # genuine pairs below ``threshold`` (None without genuine pairs)


@dataclass(frozen=True)
class Calibration:
    """The threshold in force and where it came from (what /healthz and reports show)."""

    preset: str
    operating_fmr: float
    points: tuple[FmrPoint, ...]
    population: str
    method: str
    date: str
    impostor_pairs: int
    genuine_pairs: int
    people: int
    source: str  # "file:PATH", "shipped:manifest.toml", or "preset:LFW"
    models: str = ""  # embedder model hashes the scores came from
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def threshold(self) -> float:
        return self.threshold_at(self.operating_fmr)

    def threshold_at(self, fmr: float) -> float:
        """The threshold in force for ``fmr`` (a listed target; else the next stricter one)."""
        rows = sorted(self.points, key=lambda p: -p.target_fmr)
        for p in rows:
            if p.target_fmr <= fmr * (1 + 1e-9):
                return p.threshold
        raise KeyError(f"no calibration point at or below FMR {fmr:g}")

    def fmr_at(self, score: float) -> float:
        """Approximate FMR of ``score`` from the table (log-linear between its points)."""
        rows = sorted(self.points, key=lambda p: p.threshold)
        xs = np.array([p.threshold for p in rows])
        ys = np.log10([p.target_fmr for p in rows])
        return float(10 ** np.interp(score, xs, ys))

    def describe(self) -> str:
        return (
            f"{self.source}: preset {self.preset}, FMR {self.operating_fmr:g} -> threshold "
            f"{self.threshold:.4f}; {self.population} ({self.people} people, "
            f"{self.impostor_pairs:,} impostor pairs, {self.date})"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "preset": self.preset,
            "operating_fmr": self.operating_fmr,
            "threshold": self.threshold,
            "population": self.population,
            "people": self.people,
            "impostor_pairs": self.impostor_pairs,
            "genuine_pairs": self.genuine_pairs,
            "date": self.date,
            "method": self.method,
        }


def _tail_threshold(impostor: np.ndarray, fmr: float) -> float:
    """Score at ``fmr`` from an exponential fit of the top TAIL_SHARE of impostor scores."""
    ordered = np.sort(impostor)[::-1]
    k = max(int(TAIL_SHARE * ordered.size), 10)
    u = float(ordered[k])
    scale = float(np.mean(ordered[:k] - u))
    return u + scale * float(np.log((k / ordered.size) / fmr))


def _impostor_scores(scores: np.ndarray, ids: np.ndarray, people: np.ndarray) -> np.ndarray:
    """Impostor scores among a (re)sample of people, a person drawn twice counted twice."""
    index = [np.flatnonzero(ids == p) for p in people]
    pieces = []
    for a in range(len(index)):
        for b in range(a + 1, len(index)):
            if people[a] != people[b]:
                pieces.append(scores[np.ix_(index[a], index[b])].ravel())
    return np.concatenate(pieces) if pieces else np.zeros(0)


def calibrate_population(
    embeddings: np.ndarray,
    identities: Sequence[str],
    *,
    preset: str,
    population: str,
    operating_fmr: float = 1e-3,
    targets: Sequence[float] = TARGETS,
    conservative: bool = True,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = BOOTSTRAP_SEED,
    models: str = "",
    today: str | None = None,
) -> Calibration:
    """Thresholds at each target FMR from every impostor pair of these people (see module doc)."""
    vectors = np.asarray(embeddings, dtype=np.float64)
    scores = vectors @ vectors.T
    ids = np.asarray(identities)
    people = np.unique(ids)
    if people.size < 2:
        raise ValueError("calibration needs photos of at least two people")
    impostor = _impostor_scores(scores, ids, people)
    same = ids[:, None] == ids[None, :]
    upper = np.triu(np.ones_like(same), 1).astype(bool)
    genuine = scores[same & upper]
    rng = np.random.default_rng(seed)
    boot: dict[float, list[float]] = {t: [] for t in targets}
    for _ in range(rounds):
        sample = rng.choice(people, size=people.size, replace=True)
        imp = _impostor_scores(scores, ids, sample)
        for t in targets:
            if t * imp.size >= 1:
                boot[t].append(threshold_at_fmr(imp, t))
    points = []
    for t in targets:
        measured = t * impostor.size >= 1
        point = threshold_at_fmr(impostor, t) if measured else _tail_threshold(impostor, t)
        p95 = float(np.percentile(boot[t], 95)) if measured and boot[t] else None
        chosen = max(point, p95) if (conservative and p95 is not None) else point
        chosen = float(np.ceil(chosen * 1e4) / 1e4)
        false_matches = int(np.count_nonzero(impostor >= chosen))
        points.append(
            FmrPoint(
                target_fmr=t,
                threshold=chosen,  # rounded up to 4 decimals: never a laxer threshold
                measured=measured,
                point_threshold=float(point),
                bootstrap_p95=p95,
                false_matches=false_matches,
                fmr=false_matches / impostor.size,
                fmr_upper_95=fmr_upper_bound(false_matches, int(impostor.size)),
                fnmr=float(np.mean(genuine < chosen)) if genuine.size else None,
            )
        )
    method = (
        "every impostor pair; threshold = lowest score reached by at most FMR x n impostor pairs"
        + (
            f", raised to the 95th percentile of a {rounds}-round bootstrap by identity"
            if conservative
            else ""
        )
        + "; FMR bound one-sided 95 % Clopper-Pearson (pairs assumed independent: optimistic); "
        "targets below 1/n extrapolated from an exponential fit of the top "
        f"{TAIL_SHARE:.0%} impostor scores"
    )
    return Calibration(
        preset=preset,
        operating_fmr=operating_fmr,
        points=tuple(points),
        population=population,
        method=method,
        date=today or date.today().isoformat(),
        impostor_pairs=int(impostor.size),
        genuine_pairs=int(genuine.size),
        people=int(people.size),
        source="computed",
        models=models,
    )


# --- the calibration file ---------------------------------------------------------------


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(float(v)) if isinstance(v, float) else str(v)
    text = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def to_toml(calibrations: Sequence[Calibration], prefix: str = "") -> str:
    """The TOML text of a calibration file: one ``[PRESET]`` table with ``[[PRESET.points]]``
    (``prefix="calibrations."`` for the manifest's shipped defaults)."""
    lines = ["# Written by `lifecert calibrate`; see matcher/calibration.py for the method.", ""]
    for c in calibrations:
        lines.append(f"[{prefix}{c.preset}]")
        for key in ("operating_fmr", "population", "method", "date", "impostor_pairs", "genuine_pairs"):
            lines.append(f"{key} = {_toml_value(getattr(c, key))}")
        lines.append(f"people = {c.people}")
        lines.append(f"models = {_toml_value(c.models)}")
        for p in c.points:
            lines += ["", f"[[{prefix}{c.preset}.points]]"]
            for key, value in p.__dict__.items():
                if value is not None:
                    lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def _from_table(preset: str, t: dict, source: str) -> Calibration:
    points = tuple(
        FmrPoint(
            target_fmr=float(p["target_fmr"]),
            threshold=float(p["threshold"]),
            measured=bool(p.get("measured", True)),
            point_threshold=float(p.get("point_threshold", p["threshold"])),
            bootstrap_p95=float(p["bootstrap_p95"]) if "bootstrap_p95" in p else None,
            false_matches=int(p.get("false_matches", 0)),
            fmr=float(p.get("fmr", p["target_fmr"])),
            fmr_upper_95=float(p.get("fmr_upper_95", 1.0)),
            fnmr=float(p["fnmr"]) if "fnmr" in p else None,
        )
        for p in t.get("points", [])
    )
    if not points:
        raise ValueError(f"{source}: calibration for {preset!r} has no points")
    return Calibration(
        preset=preset,
        operating_fmr=float(t.get("operating_fmr", 1e-3)),
        points=points,
        population=str(t.get("population", "")),
        method=str(t.get("method", "")),
        date=str(t.get("date", "")),
        impostor_pairs=int(t.get("impostor_pairs", 0)),
        genuine_pairs=int(t.get("genuine_pairs", 0)),
        people=int(t.get("people", 0)),
        source=source,
        models=str(t.get("models", "")),
    )


def write_calibration(home: Path, calibration: Calibration) -> Path:
    """Add or replace this preset's section of ``$LIFECERT_HOME/calibration.toml``."""
    path = home / CALIBRATION_FILE
    existing: dict[str, Calibration] = {}
    if path.exists():
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        existing = {k: _from_table(k, v, f"file:{path}") for k, v in data.items() if isinstance(v, dict)}
    existing[calibration.preset] = calibration
    home.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(to_toml(list(existing.values())), encoding="utf-8")
    tmp.replace(path)
    return path


def shipped_calibration(preset: str) -> Calibration | None:
    """The default in models/manifest.toml ``[calibrations.PRESET]``, if there is one."""
    text = resources.files("models").joinpath("manifest.toml").read_text(encoding="utf-8")
    table = tomllib.loads(text).get("calibrations", {}).get(preset)
    return _from_table(preset, table, "shipped:models/manifest.toml") if table else None


def preset_calibration(preset: str, threshold: float, note: str) -> Calibration:
    """The preset's own threshold as a one-point calibration (the old behaviour)."""
    point = FmrPoint(1e-3, threshold, True, threshold, None, 0, 1e-3, 1.0, None)
    return Calibration(preset, 1e-3, (point,), "LFW View 2", note, "", 3000, 3000, 0, "preset:LFW")


def load_calibration(
    home: Path,
    preset: str,
    fallback_threshold: float,
    *,
    models: str = "",
    operating_fmr: float | None = None,
) -> Calibration:
    """The calibration in force for ``preset``: the deployment's file, else the shipped
    default, else the preset threshold. A file section calibrated with other model weights
    (``models`` differs) is ignored, since its scores mean nothing for these."""
    path = home / CALIBRATION_FILE
    found: Calibration | None = None
    if path.exists():
        table = tomllib.loads(path.read_text(encoding="utf-8")).get(preset)
        if table:
            candidate = _from_table(preset, table, f"file:{path}")
            if not models or not candidate.models or candidate.models == models:
                found = candidate
    found = found or shipped_calibration(preset)
    found = found or preset_calibration(preset, fallback_threshold, "preset threshold (LFW)")
    if operating_fmr is not None:
        found = replace(found, operating_fmr=operating_fmr)
    return found
