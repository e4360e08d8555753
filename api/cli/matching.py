"""Face matching: verify two photos, and the QA benchmarks over pairs and all impostors."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from api.cli.common import PresetOpt, app, fail, load_matcher, tqdm_progress
from matcher import MatcherError, read_image
from matcher.evaluation import Metrics


@app.command()
def verify(
    id_photo: Annotated[Path, typer.Argument(help="ID or enrolment photo (exactly one face).")],
    live_photo: Annotated[Path, typer.Argument(help="Live capture (largest face near the centre).")],
    preset: PresetOpt = None,
) -> None:
    """Compare a live photo 1:1 with an ID photo and print the verdict as JSON."""
    t0 = time.perf_counter()
    matcher = load_matcher(preset)
    load_ms = (time.perf_counter() - t0) * 1000
    try:
        t = time.perf_counter()
        ref_img = read_image(id_photo)
        probe_img = read_image(live_photo)
        decode_ms = (time.perf_counter() - t) * 1000
        verdict = matcher.verify(ref_img, probe_img)
    except MatcherError as exc:
        print(json.dumps({"error": exc.reason.as_dict(), "detail": exc.detail}, ensure_ascii=False, indent=2))
        raise typer.Exit(2) from exc
    out = {
        "match": verdict.match,
        "score": round(verdict.score, 4),
        "threshold": verdict.threshold,
        "preset": matcher.preset.key,
        "calibration": matcher.calibration.as_dict(),
        "per_model_scores": {k: round(v, 4) for k, v in verdict.per_model_scores.items()},
        "id_photo": {"file": str(id_photo), "quality": verdict.reference.quality.as_dict()},
        "live_photo": {"file": str(live_photo), "quality": verdict.probe.quality.as_dict()},
        "timings_ms": {
            "load_models": round(load_ms, 1),
            "decode": round(decode_ms, 1),
            "id_photo": {k: round(v, 1) for k, v in verdict.reference.timings_ms.items()},
            "live_photo": {k: round(v, 1) for k, v in verdict.probe.timings_ms.items()},
        },
    }
    print(json.dumps(out, ensure_ascii=False, indent=2))
    raise typer.Exit(0 if verdict.match else 1)


@app.command()
def bench(
    pairs: Annotated[Path, typer.Argument(help="CSV with file_a,file_b,same[,set,fold].")],
    root: Annotated[Path, typer.Option(help="Folder the pair paths are relative to.")],
    out: Annotated[Path, typer.Option(help="Report folder.")] = Path("reports/bench"),
    preset: PresetOpt = None,
    workers: Annotated[int, typer.Option(help="Processes (each one model set, 1 thread).")] = 0,
    cache: Annotated[bool, typer.Option(help="Reuse embeddings cached by earlier runs.")] = True,
    target_fmr: Annotated[float, typer.Option(help="FMR for the cross-validated threshold.")] = 1e-3,
    group: Annotated[
        list[str] | None, typer.Option(help="Pairs-CSV column to report FMR/FNMR per group by (repeatable).")
    ] = None,
) -> None:
    """Benchmark a pairs file: ROC, DET, EER, TAR@FAR, 10-fold accuracy, per-group rates; writes a report."""
    from api.reports.bench import write_report
    from matcher.bench import run_bench
    from matcher.evaluation import PairsFileError

    if not pairs.is_file():
        raise fail(f"pairs file {pairs} does not exist")
    if not root.is_dir():
        raise fail(f"root folder {root} does not exist")
    matcher = load_matcher(preset)
    n_workers = workers or (os.cpu_count() or 1)

    progress = tqdm_progress("embedding", "img")

    try:
        result = run_bench(
            matcher,
            pairs,
            root,
            workers=n_workers,
            use_cache=cache,
            progress=progress,
            target_fmr=target_fmr,
            groups=tuple(group or ()),
        )
    except PairsFileError as exc:
        raise fail(str(exc)) from exc
    meta = {"pairs_file": str(pairs), "root": str(root), "workers": n_workers}
    page = write_report(result, out, {**meta, "calibration": matcher.calibration.as_dict()})
    _print_summary(result.metrics, f"preset {result.preset} · threshold {result.threshold:.4f}")
    print(f"calibration in force: {matcher.calibration.describe()}")
    img = result.metrics["images"]
    found = f"no face found in {img['no_face_count']} images; unreadable {img['unreadable_count']}"
    print(f"{found}; report: {page}")


def _print_summary(m: Metrics, title: str) -> None:
    """The bench's headline numbers on the terminal: per set, 10-fold, per group."""
    table = Table(title=title)
    for col in ("set", "pairs", "EER", "TAR@1e-3", "FMR@thr", "FNMR@thr"):
        table.add_column(col)
    for name, b in {"all": m["overall"], **m["per_set"]}.items():
        tar = b["tar_at_far"]["1e-03"]
        op = b["at_operating_threshold"]
        table.add_row(
            name,
            str(b["pairs"]),
            f"{100 * b['eer']:.2f}%",
            "—" if tar is None else f"{100 * tar:.2f}%",
            f"{100 * op['fmr']:.2f}%",
            f"{100 * op['fnmr']:.2f}%",
        )
    Console().print(table)
    if "kfold" in m:
        k = m["kfold"]
        c = k["calibration"]
        print(f"10-fold accuracy: {100 * k['accuracy_mean']:.2f} % ± {100 * k['accuracy_std']:.2f}")
        print(
            f"threshold for FMR ≤ {c['target_fmr']:g} (9 folds): {c['threshold_mean']:.4f}; held-out "
            f"FMR {100 * c['heldout_fmr']:.3f} %, FNMR {100 * c['heldout_fnmr']:.2f} %"
        )
    for column, g in m.get("groups", {}).items():
        rates = ", ".join(f"{name} FMR {_pct_or_dash(r['fmr'])}" for name, r in g["groups"].items())
        print(f"by {column}: {rates}; FMR max/min {g['differential']['fmr_max_min']}")


def _pct_or_dash(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.3f} %"


@app.command("bench-impostors")
def bench_impostors(
    folder: Annotated[Path, typer.Argument(help="Photos, one folder per person (LFW's layout).")],
    out: Annotated[Path, typer.Option(help="Report folder.")] = Path("reports/impostors"),
    preset: PresetOpt = None,
    workers: Annotated[int, typer.Option(help="Processes (each one model set, 1 thread).")] = 0,
    cache: Annotated[bool, typer.Option(help="Reuse embeddings cached by earlier runs.")] = True,
) -> None:
    """Low FMR: score every pair of photos of different people; thresholds for 1e-3..1e-6."""
    from api.certification.settings import REGISTER_MATCH_THRESHOLD
    from api.reports.bench import write_identification_report
    from matcher.bench import run_all_pairs

    if not folder.is_dir():
        raise fail(f"folder {folder} does not exist")
    matcher = load_matcher(preset)
    thresholds = {
        "1:1 match (calibration in force)": matcher.threshold,
        "register screening (service)": REGISTER_MATCH_THRESHOLD,
    }

    progress = tqdm_progress("embedding", "img")

    try:
        metrics, pairs = run_all_pairs(
            matcher,
            folder,
            thresholds,
            workers=workers or (os.cpu_count() or 1),
            use_cache=cache,
            progress=progress,
        )
    except ValueError as exc:
        raise fail(str(exc)) from exc
    page = write_identification_report(metrics, pairs, thresholds, out, {"folder": str(folder)})
    table = Table(title=f"preset {metrics['preset']} · {metrics['impostor_pairs']:,} impostor pairs")
    for col in ("threshold", "score", "false matches", "FMR", "TAR"):
        table.add_column(col)
    rows = {**metrics["at_threshold"], **{f"FMR {k}": v for k, v in metrics["at_fmr"].items()}}
    for name, r in rows.items():
        table.add_row(
            name,
            f"{r['threshold']:.4f}",
            f"{r['false_matches']:,}",
            f"{r['fmr']:.2e}",
            f"{100 * r['tar']:.2f} %",
        )
    Console().print(table)
    print(f"report: {page}")


@app.command()
def calibrate(
    people: Annotated[
        Path, typer.Argument(help="Photos: one folder per person, or a folder with manifest.csv.")
    ],
    preset: PresetOpt = None,
    operating_fmr: Annotated[float, typer.Option(help="FMR the service operates at.")] = 1e-3,
    population: Annotated[str | None, typer.Option(help="Description written into the file.")] = None,
    workers: Annotated[int, typer.Option(help="Processes (each one model set, 1 thread).")] = 0,
    write: Annotated[bool, typer.Option(help="Write $LIFECERT_HOME/calibration.toml.")] = True,
) -> None:
    """Thresholds at FMR 1e-3/1e-4/1e-5 from every impostor pair of a deployment's own photos."""
    from matcher.bench import calibrate_folder
    from matcher.calibration import write_calibration

    if not people.is_dir():
        raise fail(f"folder {people} does not exist")
    matcher = load_matcher(preset)
    try:
        cal = calibrate_folder(
            matcher,
            people,
            operating_fmr=operating_fmr,
            workers=workers or (os.cpu_count() or 1),
            population=population,
        )
    except ValueError as exc:
        raise fail(str(exc)) from exc
    table = Table(title=f"preset {cal.preset} · {cal.people} people · {cal.impostor_pairs:,} impostor pairs")
    for col in (
        "target FMR",
        "threshold",
        "measured",
        "bootstrap p95",
        "false matches",
        "FMR ≤ (95 %)",
        "FNMR",
    ):
        table.add_column(col)
    for p in cal.points:
        table.add_row(
            f"{p.target_fmr:g}",
            f"{p.threshold:.4f}",
            "yes" if p.measured else "no (tail fit)",
            "—" if p.bootstrap_p95 is None else f"{p.bootstrap_p95:.4f}",
            str(p.false_matches),
            f"{p.fmr_upper_95:.2e}",
            _pct_or_dash(p.fnmr),
        )
    Console().print(table)
    if write:
        path = write_calibration(matcher.store.home, cal)
        print(f"written: {path} (operating FMR {cal.operating_fmr:g} -> threshold {cal.threshold:.4f})")
