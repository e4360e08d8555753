"""The QA report of a face-verification benchmark: JSON, Markdown, HTML and plots."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import norm

from api.reports.html import write_html_report
from matcher.bench import BenchResult
from matcher.evaluation import Metrics, roc_summary
from matcher.identification import AllPairs


def _groups(result: BenchResult) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    scored = ~np.isnan(result.scores)
    same = result.same
    groups = {"all": (result.scores[scored], same[scored])}
    for s in sorted({p.set for p in result.pairs if p.set}):
        m = np.array([p.set == s for p in result.pairs]) & scored
        if len(np.unique(same[m])) == 2:
            groups[s] = (result.scores[m], same[m])
    return groups


def plot_roc(result: BenchResult, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4.5))
    lowest = 1.0
    for name, (scores, same) in _groups(result).items():
        roc = roc_summary(scores, same)
        ax.plot(np.maximum(roc.fpr, 1e-5), roc.tpr, label=f"{name} (AUC {roc.auc:.4f})")
        lowest = min(lowest, float(roc.tpr[np.searchsorted(roc.fpr, 1e-4)]))
    ax.set_xscale("log")
    ax.set_xlim(1e-4, 1)
    # Zoom on the part that differs: from a little below the weakest TAR at FAR 1e-4.
    ax.set_ylim(max(0.0, lowest - 0.05), 1.005)
    ax.set_xlabel("false match rate (FAR)")
    ax.set_ylabel("true accept rate (TAR)")
    ax.set_title(f"ROC — preset {result.preset}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_det(result: BenchResult, path: Path) -> None:
    """DET curve on normal-deviate axes, as ISO/IEC 19795-1 draws it."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    clip = 1e-4
    for name, (scores, same) in _groups(result).items():
        roc = roc_summary(scores, same)
        fmr = np.clip(roc.fpr, clip, 1 - clip)
        fnmr = np.clip(1 - roc.tpr, clip, 1 - clip)
        ax.plot(norm.ppf(fmr), norm.ppf(fnmr), label=f"{name} (EER {100 * roc.eer:.2f} %)")
    ticks = [1e-4, 1e-3, 1e-2, 0.05, 0.2, 0.5]
    ax.set_xticks(norm.ppf(ticks), [f"{100 * t:g}" for t in ticks])
    ax.set_yticks(norm.ppf(ticks), [f"{100 * t:g}" for t in ticks])
    ax.set_xlim(norm.ppf(clip), norm.ppf(0.5))
    ax.set_ylim(norm.ppf(clip), norm.ppf(0.5))
    ax.set_xlabel("FMR (%)")
    ax.set_ylabel("FNMR (%)")
    ax.set_title(f"DET — preset {result.preset}")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_histogram(result: BenchResult, path: Path) -> None:
    scores, same = _groups(result)["all"]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    bins = np.linspace(min(-0.2, scores.min()), 1.0, 80).tolist()
    ax.hist(scores[same], bins=bins, alpha=0.6, label=f"genuine ({same.sum()})", color="tab:green")
    ax.hist(scores[~same], bins=bins, alpha=0.6, label=f"impostor ({(~same).sum()})", color="tab:red")
    ax.axvline(result.threshold, color="k", linestyle="--", label=f"threshold {result.threshold:.3f}")
    ax.set_yscale("log")
    ax.set_xlabel("cosine score")
    ax.set_ylabel("pairs")
    ax.set_title("genuine / impostor scores")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _pct(x: object) -> str:
    return "—" if x is None else f"{100 * float(x):.2f} %"  # type: ignore[arg-type]


def _kfold_lines(k: Metrics | None) -> list[str]:
    if not k:
        return []
    c = k["calibration"]
    return [
        "## 10-fold accuracy (LFW View-2 protocol)",
        "",
        f"**{100 * k['accuracy_mean']:.2f} % ± {100 * k['accuracy_std']:.2f}** over {k['folds']} folds, "
        f"{k['pairs']} pairs (threshold chosen on 9 folds, tested on the 10th; mean fold threshold "
        f"{k['threshold_mean']:.4f}).",
        "",
        f"Cross-validated operating point for FMR ≤ {c['target_fmr']:g}: threshold "
        f"**{c['threshold_mean']:.4f}** ± {c['threshold_std']:.4f} (chosen on 9 folds); on the held-out "
        f"folds FMR {_pct(c['heldout_fmr'])}, FNMR {_pct(c['heldout_fnmr'])}. This is how the presets' "
        "LFW thresholds in models/manifest.toml are calibrated.",
        "",
    ]


def markdown(result: BenchResult, meta: dict[str, object]) -> str:
    m = result.metrics
    lines = [
        f"# Face verification benchmark — preset `{result.preset}`",
        "",
        f"Pairs file: `{meta['pairs_file']}` · root `{meta['root']}` · {meta['date']} · {meta['machine']}",
        "",
        f"Operating threshold: **{result.threshold:.4f}**",
        "",
        *_calibration_lines(meta.get("calibration")),
    ]
    lines += _kfold_lines(m.get("kfold"))
    lines += [
        "## Error rates",
        "",
        "| set | pairs | gen/imp | AUC | EER | TAR@FAR 1e-2 | TAR@FAR 1e-3 | TAR@FAR 1e-4 "
        "| FMR @thr | FNMR @thr |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    blocks = {"all": m["overall"], **m["per_set"]}
    for name, b in blocks.items():
        t = b["tar_at_far"]
        op = b["at_operating_threshold"]
        lines.append(
            f"| {name} | {b['pairs']} | {b['genuine']}/{b['impostor']} | {b['auc']:.5f} "
            f"| {_pct(b['eer'])} | {_pct(t['1e-02'])} | {_pct(t['1e-03'])} | {_pct(t['1e-04'])} "
            f"| {_pct(op['fmr'])} | {_pct(op['fnmr'])} |"
        )
    img = m["images"]
    lines += [
        "",
        "TAR at a FAR below 1/(impostor pairs) cannot be measured and is shown as —.",
        "",
        *_group_lines(m.get("groups", {})),
        *_scale_lines(m.get("score_scale")),
        "## Images",
        "",
        f"{img['total']} images; embedded in this run: {img['embedded_now']} "
        f"(median {img['ms_per_image_median'] or float('nan'):.1f} ms per image end to end, workers "
        f"{meta['workers']}); the rest came from the cache.",
        "",
        f"No face found in {img['no_face_count']} images (scored on a centred fallback crop); "
        f"unreadable files, counted apart and not scored: {img.get('unreadable_count', 0)}.",
        "",
    ]
    lines += [f"- `{f}`" for f in img["no_face"]] or ["- none"]
    if img["unreadable"]:
        lines += ["", "Unreadable images (their pairs are not scored):", ""]
        lines += [f"- `{f}`: {code}" for f, code in img["unreadable"].items()]
    lines += ["", "![ROC](roc.png) ![DET](det.png) ![scores](scores.png)", ""]
    return "\n".join(lines)


def _calibration_lines(cal: object) -> list[str]:
    if not isinstance(cal, dict):
        return []
    return [
        f"Calibration in force: `{cal['source']}` — {cal['population']} ({cal['people']} people, "
        f"{cal['impostor_pairs']:,} impostor pairs, {cal['date']}); operating FMR {cal['operating_fmr']:g}. "
        f"Method: {cal['method']}.",
        "",
    ]


def _fmt_ratio(x: object) -> str:
    if x is None:
        return "—"
    return "∞" if x == float("inf") else f"{float(x):.2f}"  # type: ignore[arg-type]


def _group_lines(groups: dict[str, dict]) -> list[str]:
    """Per-group FMR/FNMR at the operating threshold and NIST FRTE's max/min FMR ratio."""
    lines: list[str] = []
    for column, g in groups.items():
        d = g["differential"]
        lines += [
            f"## By {column} (threshold {g['threshold']:.4f})",
            "",
            "| group | genuine | impostor | false matches | FMR | FMR 95 % upper | FNMR |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, r in g["groups"].items():
            up = "—" if r["fmr_upper_95"] is None else f"{r['fmr_upper_95']:.2e}"
            fmr = "—" if r["fmr"] is None else f"{r['fmr']:.2e}"
            lines.append(
                f"| {name} | {r['genuine']} | {r['impostor']} | {r['false_matches']} | {fmr} | {up} "
                f"| {_pct(r['fnmr'])} |"
            )
        lines += [
            "",
            f"Demographic differential (max/min across groups): FMR **{_fmt_ratio(d['fmr_max_min'])}** "
            f"(highest {d['fmr_highest']}, lowest {d['fmr_lowest']}); on the 95 % upper bounds "
            f"{_fmt_ratio(d['fmr_upper_95_max_min'])}; FNMR {_fmt_ratio(d['fnmr_max_min'])}.",
            "",
        ]
    return lines


def _scale_lines(scale: dict | None) -> list[str]:
    """Score -> FMR table: what a score means on these impostors."""
    if not scale:
        return []
    lines = [
        "## Score scale (score → FMR on these pairs)",
        "",
        "| score | false matches | FMR | FMR 95 % upper | FNMR |",
        "|---|---|---|---|---|",
    ]
    for r in scale["by_score"]:
        fmr = "—" if r["fmr"] is None else f"{r['fmr']:.2e}"
        lines.append(
            f"| {r['threshold']:.2f} | {r['false_matches']} | {fmr} | {r['fmr_upper_95']:.2e} "
            f"| {_pct(r['fnmr'])} |"
        )
    lines += ["", "| target FMR | score | false matches | FNMR |", "|---|---|---|---|"]
    for r in scale["by_fmr"]:
        lines.append(
            f"| {r['target_fmr']:g} | {r['threshold']:.4f} | {r['false_matches']} | {_pct(r['fnmr'])} |"
        )
    return [*lines, ""]


def write_report(result: BenchResult, out_dir: Path, meta: dict[str, object]) -> Path:
    """Write metrics.json, report.md, report.html and the three plots; returns the HTML path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()} {platform.processor() or ''} python {platform.python_version()}",
        **meta,
    }
    plot_roc(result, out_dir / "roc.png")
    plot_det(result, out_dir / "det.png")
    plot_histogram(result, out_dir / "scores.png")
    (out_dir / "metrics.json").write_text(
        json.dumps({"meta": meta, **result.metrics}, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    with (out_dir / "scores.csv").open("w", encoding="utf-8") as fh:
        fh.write("file_a,file_b,same,set,fold,score\n")
        for p, s in zip(result.pairs, result.scores, strict=True):
            fh.write(f"{p.file_a},{p.file_b},{int(p.same)},{p.set},{p.fold or ''},{s:.6f}\n")
    md = markdown(result, meta)
    (out_dir / "report.md").write_text(md, encoding="utf-8")
    return write_html_report(
        out_dir,
        "lifecert benchmark",
        md.replace("![ROC](roc.png) ![DET](det.png) ![scores](scores.png)", ""),
        {"roc.png": "ROC", "det.png": "DET", "scores.png": "score histogram"},
    )


def plot_fmr_tail(pairs: AllPairs, thresholds: dict[str, float], path: Path) -> None:
    """FMR (log) and TAR against the threshold, so a screening threshold can be read off."""
    grid = np.linspace(0.0, 1.0, 201)
    impostor, genuine = np.sort(pairs.impostor), np.sort(pairs.genuine)
    fmr = 1 - np.searchsorted(impostor, grid, side="left") / max(impostor.size, 1)
    tar = 1 - np.searchsorted(genuine, grid, side="left") / max(genuine.size, 1)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.semilogy(
        grid, np.where(fmr > 0, fmr, np.nan), color="tab:red", label=f"FMR ({impostor.size:,} impostor pairs)"
    )
    ax.set_xlabel("score threshold")
    ax.set_ylabel("FMR")
    ax.set_ylim(max(0.5 / max(impostor.size, 1), 1e-9), 1)
    right = ax.twinx()
    right.plot(grid, tar, color="tab:green", label=f"TAR ({genuine.size:,} genuine pairs)")
    right.set_ylabel("TAR")
    right.set_ylim(0, 1.01)
    for name, t in thresholds.items():
        ax.axvline(t, color="k", linestyle="--", linewidth=0.8)
        ax.text(t, 0.5, f" {name}", rotation=90, va="top", fontsize=8)
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.legend(handles, [str(h.get_label()) for h in handles], loc="lower left")
    ax.set_title("every pair of photos of different people")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def identification_markdown(metrics: dict, meta: dict[str, object]) -> str:
    def rate_row(name: str, r: dict) -> str:
        return (
            f"| {name} | {r['threshold']:.4f} | {r['false_matches']:,} | {r['fmr']:.2e} | "
            f"{r['fmr_upper_95']:.2e} | {_pct(r['tar'])} |"
        )

    images = metrics["images"]
    lines = [
        f"# Low-FMR benchmark: preset `{metrics['preset']}`",
        "",
        f"{meta['date']} · {meta['machine']} · folder `{meta['folder']}`",
        "",
        f"{images['total']:,} photos of {images['people']:,} people; every pair of photos of different "
        f"people is an impostor pair ({metrics['impostor_pairs']:,}), every pair of the same person's "
        f"photos a genuine pair ({metrics['genuine_pairs']:,}). Pairs share photos, so they are not "
        "independent and the bound is optimistic.",
        "",
        "| threshold | score | impostor pairs at or above | FMR | FMR 95 % upper bound | TAR |",
        "|---|---|---|---|---|---|",
        *(rate_row(name, r) for name, r in metrics["at_threshold"].items()),
        *(rate_row(f"FMR {name}", r) for name, r in metrics["at_fmr"].items()),
        "",
        f"Highest impostor score: {metrics['impostor_max']:.4f}. The highest-scoring impostor pairs "
        "(a mislabelled or duplicated photo shows up here first):",
        "",
        "| photo | photo | score |",
        "|---|---|---|",
        *(f"| {p['a']} | {p['b']} | {p['score']:.4f} |" for p in metrics["top_impostors"]),
        "",
        f"Photos with no face found (scored on the whole image): {len(images['no_face'])}; "
        f"unreadable: {len(images['unreadable'])}.",
        "",
        "![FMR and TAR against the threshold](fmr_tail.png)",
    ]
    return "\n".join(lines)


def write_identification_report(
    metrics: dict,
    pairs: AllPairs,
    thresholds: dict[str, float],
    out_dir: Path,
    meta: dict[str, object],
) -> Path:
    """Write metrics.json, report.md, report.html and the FMR/TAR plot; returns the HTML path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()} {platform.processor() or ''} python {platform.python_version()}",
        **meta,
    }
    plot_fmr_tail(pairs, thresholds, out_dir / "fmr_tail.png")
    (out_dir / "metrics.json").write_text(
        json.dumps({"meta": meta, **metrics}, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    md = identification_markdown(metrics, meta)
    (out_dir / "report.md").write_text(md, encoding="utf-8")
    return write_html_report(out_dir, "lifecert low-FMR benchmark", md)
