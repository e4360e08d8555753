"""Error rates per group of pairs at one threshold, and the demographic differential.

Why: one threshold serves everyone, so the question a QA report must answer is whether it
false-matches one population (or age band) far more than another. NIST FRTE reports this as
the ratio of the highest to the lowest group FMR at a fixed threshold; a threshold calibrated
on mostly Western faces measured ~40x here for East-Asian impostors (issue 9).

Group labels come from columns of the pairs CSV (``--group population --group age_band``);
a pair belongs to the group named in its row, so the file decides how a mixed pair counts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from matcher.identification import fmr_upper_bound


def rates_by_group(
    scores: np.ndarray, same: np.ndarray, labels: Sequence[str], threshold: float
) -> dict[str, dict[str, float | int | None]]:
    """FMR (with its 95 % upper bound) and FNMR of each group at ``threshold``.

    NaN scores (unscored pairs) are left out; a rate with no pairs behind it is None.
    """
    labels_arr = np.asarray(labels, dtype=object)
    scored = ~np.isnan(scores)
    out: dict[str, dict[str, float | int | None]] = {}
    for name in sorted({str(x) for x in labels_arr[scored]}):
        m = (labels_arr == name) & scored
        gen, imp = scores[m & same], scores[m & ~same]
        false_matches = int(np.count_nonzero(imp >= threshold))
        out[name or "(blank)"] = {
            "genuine": int(gen.size),
            "impostor": int(imp.size),
            "false_matches": false_matches,
            "fmr": false_matches / imp.size if imp.size else None,
            "fmr_upper_95": fmr_upper_bound(false_matches, int(imp.size)) if imp.size else None,
            "false_non_matches": int(np.count_nonzero(gen < threshold)),
            "fnmr": float(np.mean(gen < threshold)) if gen.size else None,
        }
    return out


def _ratio(values: list[float]) -> float | None:
    if len(values) < 2:
        return None
    low, high = min(values), max(values)
    if high == 0:
        return 1.0
    return float("inf") if low == 0 else high / low


def differential(per_group: dict[str, dict[str, float | int | None]]) -> dict[str, object]:
    """Max/min ratio of FMR and of FNMR across groups (NIST FRTE's demographic differential).

    When the lowest group saw no false match the ratio is infinite; the groups' FMR upper
    bounds are then the honest comparison, so their ratio is reported too.
    """
    fmrs = {k: float(v["fmr"]) for k, v in per_group.items() if v["fmr"] is not None}
    fnmrs = {k: float(v["fnmr"]) for k, v in per_group.items() if v["fnmr"] is not None}
    uppers = [float(v["fmr_upper_95"]) for v in per_group.values() if v["fmr_upper_95"] is not None]
    return {
        "fmr_max_min": _ratio(list(fmrs.values())),
        "fmr_highest": max(fmrs, key=fmrs.__getitem__) if fmrs else None,
        "fmr_lowest": min(fmrs, key=fmrs.__getitem__) if fmrs else None,
        "fmr_upper_95_max_min": _ratio(uppers),
        "fnmr_max_min": _ratio(list(fnmrs.values())),
    }


def group_report(
    scores: np.ndarray, same: np.ndarray, columns: dict[str, Sequence[str]], threshold: float
) -> dict[str, dict[str, object]]:
    """For each grouping column: the per-group rates and their differential."""
    report = {}
    for column, labels in columns.items():
        per_group = rates_by_group(scores, same, labels, threshold)
        report[column] = {
            "threshold": threshold,
            "groups": per_group,
            "differential": differential(per_group),
        }
    return report
