"""The QA report of a liveness benchmark: BPCER/APCER tables, blink P/R, EAR/MAR plots."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from api.reports.html import write_html_report
from liveness.analyse import LivenessResult
from matcher.evaluation import Metrics


def plot_series(results: dict[str, LivenessResult], path: Path) -> None:
    """EAR and MAR over time for a few bona fide clips, with detected blinks shaded."""
    fig, axes = plt.subplots(len(results), 1, figsize=(9, 2.2 * len(results)), squeeze=False)
    for ax, (name, res) in zip(axes[:, 0], results.items(), strict=True):
        track = res.track
        if track is None:
            continue
        t = track.times
        ax.plot(t, track.series("ear_open_eye"), label="eye openness (EAR, more open eye)")
        ax.plot(t, track.series("mar"), label="mouth opening (MAR)")
        blink = next((c for c in res.checks if c.name == "blink"), None)
        if blink is not None:
            for b in cast(list[dict[str, Any]], blink.evidence.get("blinks", [])):
                ax.axvspan(b["seconds"][0], b["seconds"][1] + 0.04, color="orange", alpha=0.3)
        ax.set_title(f"{name} — {'passed' if res.passed else 'failed'}", fontsize=9)
        ax.set_ylim(0, 0.7)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_liveness_report(
    out_dir: Path,
    rates: Metrics,
    blinks: dict[str, Metrics],
    meta: dict[str, object],
    examples: dict[str, LivenessResult],
    presentations: list[dict[str, object]],
) -> Path:
    """metrics.json (everything), report.md and its HTML (what QA reads), series.png."""
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()} python {platform.python_version()}",
        **meta,
    }
    (out_dir / "metrics.json").write_text(
        json.dumps(
            {"meta": meta, "rates": rates, "blinks": blinks, "presentations": presentations},
            indent=2,
            ensure_ascii=False,
            default=str,
        ),
        encoding="utf-8",
    )
    if examples:
        plot_series(examples, out_dir / "series.png")
    lines = [
        "# Liveness benchmark (ISO/IEC 30107-3 vocabulary)",
        "",
        f"{meta['date']} · {meta['machine']} · bona fide list `{meta['manifest']}`",
        *_bona_fide_section(rates["bona_fide"]),
        *_attack_section(rates["apcer"]),
    ]
    for name, stats in blinks.items():
        lines += _blink_section(name, stats)
    lines += ["", "![EAR and MAR](series.png)", ""]
    md = "\n".join(lines)
    (out_dir / "report.md").write_text(md, encoding="utf-8")
    return write_html_report(out_dir, "lifecert liveness benchmark", md)


def _bona_fide_section(bona: Metrics) -> list[str]:
    lines = [
        "",
        "## Bona fide",
        "",
        f"BPCER **{100 * bona['bpcer']:.1f} %** ({bona['rejected']} of {bona['presentations']} rejected)",
        "",
    ]
    for src, failed in bona["rejected_sources"].items():
        lines.append(f"- `{src}`: failed {', '.join(failed)}")
    lines.append(
        f"\nIf the rendered-face model decided: BPCER {100 * bona['bpcer_if_rendered_face_decides']:.1f} %"
    )
    referred = bona.get("referred_sources", [])
    lines.append(
        f"\nAccepted but sent to staff (a check that refers failed): {len(referred)}"
        + (": " + ", ".join(f"`{s}`" for s in referred) if referred else "")
    )
    return lines


def _share(rate: object, n: object) -> str:
    return f"{100 * rate:.1f} % of {n}" if isinstance(rate, float | int) else "—"


def _attack_section(apcer: Metrics) -> list[str]:
    lines = [
        "",
        "## Attacks",
        "",
        "| attack type | presentations | accepted | APCER | of them sent to staff | APCER unattended "
        "| unattended, where digits were asked (as the service always asks) "
        "| APCER if rendered_face decided | per generator |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, v in apcer.items():
        gens = ", ".join(f"{g} {n}" for g, n in v.get("per_generator", {}).items())
        lines.append(
            f"| {kind} | {v['presentations']} | {v['accepted']} | {100 * v['apcer']:.1f} % "
            f"| {v.get('referred_to_staff', 0)} | {100 * v.get('apcer_unattended', v['apcer']):.1f} % "
            f"| {_share(v.get('apcer_unattended_digits_asked'), v.get('digits_asked', 0))} "
            f"| {100 * v['apcer_if_rendered_face_decides']:.1f} % | {gens} |"
        )
    for kind, v in apcer.items():
        if v["accepted_sources"]:
            lines.append(f"\nAccepted `{kind}`: " + ", ".join(f"`{s}`" for s in v["accepted_sources"]))
    return lines


def _blink_section(name: str, stats: Metrics) -> list[str]:
    lines = [
        "",
        f"## Blinks against hand labels: `{name}`",
        "",
        f"{stats['labelled_blinks']} labelled blinks ({stats['labelled_sure']} sure) "
        f"in {stats['clips']} clips: "
        f"recall {100 * stats['recall_all']:.0f} % (sure only {100 * stats['recall_sure']:.0f} %), "
        f"precision {100 * stats['precision']:.0f} % of {stats['detections']} detections.",
        "",
        "| clip | labelled | detected | false detections |",
        "|---|---|---|---|",
    ]
    for clip, v in stats["per_clip"].items():
        lines.append(f"| {clip} | {v['labelled']} | {v['detected']} | {v['false_detections']} |")
    return lines
