"""Liveness: judge one clip, and the liveness benchmark (BPCER, APCER, blink labels)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from api.cli.common import PresetOpt, app, fail, load_matcher, tqdm_progress
from matcher import MatcherError
from matcher.evaluation import Metrics

if TYPE_CHECKING:
    from liveness.analyse import LivenessAnalyzer, LivenessResult
    from liveness.bench import BonaFide
    from liveness.challenge import Challenge


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
    from liveness.analyse import LivenessAnalyzer
    from liveness.challenge import Challenge, Prompt
    from liveness.video import read_video

    ch = _challenge_of(challenge, blink, digits, language)
    matcher = load_matcher(preset)
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


def _blink_rates(
    analyzer: LivenessAnalyzer, label_files: list[Path], roots: list[Path]
) -> dict[str, Metrics]:
    """Blink recall and precision per hand-label set (each file one set)."""
    from liveness.bench import blink_precision_recall, read_blink_labels

    rates = {}
    for label_file in label_files:
        if not label_file.is_file():
            raise fail(f"blink labels {label_file} do not exist")
        labels, checked = read_blink_labels(label_file)
        rates[label_file.stem] = blink_precision_recall(analyzer, labels, checked, roots)
    return rates


def _where_digits_asked(rate: object) -> str:
    return f"; {100 * rate:.1f}% where digits were asked" if isinstance(rate, float | int) else ""


def _print_rates(rates: Metrics, blinks: dict[str, Metrics]) -> None:
    """BPCER, APCER per attack and blink recall/precision per label set, on the terminal."""
    bona = rates["bona_fide"]
    table = Table(title="liveness: ISO/IEC 30107-3")
    for col in ("presentations", "type", "accepted", "sent to staff", "rate"):
        table.add_column(col)
    table.add_row(
        str(bona["presentations"]),
        "bona fide",
        str(bona["presentations"] - bona["rejected"]),
        str(bona.get("referred_to_staff", 0)),
        f"BPCER {100 * bona['bpcer']:.1f}%",
    )
    for kind, v in rates["apcer"].items():
        table.add_row(
            str(v["presentations"]),
            kind,
            str(v["accepted"]),
            str(v.get("referred_to_staff", 0)),
            f"APCER {100 * v['apcer']:.1f}% (unattended {100 * v.get('apcer_unattended', v['apcer']):.1f}%"
            + _where_digits_asked(v.get("apcer_unattended_digits_asked"))
            + ")",
        )
    Console().print(table)
    for name, b in blinks.items():
        print(
            f"blinks ({name}: {b['labelled_blinks']} labelled in {b['clips']} clips): "
            f"recall {100 * b['recall_all']:.0f} % (sure {100 * b['recall_sure']:.0f} %), "
            f"precision {100 * b['precision']:.0f} %"
        )


def _challenge_of(path: Path | None, blink: int, digits: str, language: str) -> Challenge:
    """The challenge file, or one built from the flags with every prompt open throughout."""
    from datetime import UTC, datetime, timedelta

    from liveness.challenge import Challenge, Prompt

    if path is not None:
        try:
            return Challenge.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise fail(f"cannot read challenge {path}: {exc}") from exc
    if not 0 <= blink <= 2 or (digits and (not digits.isdigit() or not 4 <= len(digits) <= 6)):
        raise fail("--blink takes 0-2 and --digits 4-6 digits")
    if not blink and not digits:
        raise fail("ask for at least one action: --blink N and/or --digits NNNN")
    if language not in ("zh", "en"):
        raise fail("--language is zh or en")
    now = datetime.now(UTC)
    whole = 1e9  # no schedule: every prompt is open for the whole clip
    prompts = tuple(Prompt(a, 0.0, whole) for a, on in (("blink", blink), ("digits", digits)) if on)
    return Challenge("cli", blink, digits, prompts, now, now + timedelta(hours=1), language)


def _spoof_photos(spoof_dir: Path | None) -> list[Path]:
    """The attack photos of a spoof folder (its ``_T`` live samples are not attacks)."""
    found = sorted(p for p in (spoof_dir.glob("*/*") if spoof_dir else []) if p.suffix in {".jpg", ".png"})
    return [p for p in found if "_T" not in p.name]


def _example_results(
    analyzer: LivenessAnalyzer, items: list[BonaFide], root: Path
) -> dict[str, LivenessResult]:
    """Two digit clips and two blink clips, judged again for the report's EAR/MAR plot."""
    from liveness.bench import whole_clip_challenge
    from liveness.video import read_video

    examples = {}
    for item in [i for i in items if i.digits][:2] + [i for i in items if i.blinks][:2]:
        clip = read_video(root / item.clip)
        examples[Path(item.clip).name] = analyzer.analyse(clip, whole_clip_challenge(item, clip.duration_s))
    return examples


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
    from api.reports.liveness import write_liveness_report
    from liveness.analyse import LivenessAnalyzer
    from liveness.bench import error_rates, read_animated, read_bona_fide, run_liveness_bench

    if not manifest.is_file():
        raise fail(f"manifest {manifest} does not exist")
    items = read_bona_fide(manifest)
    if animated is not None and not animated.is_file():
        raise fail(f"animated manifest {animated} does not exist")
    analyzer = LivenessAnalyzer(load_matcher(preset), rendered_face_decides=rendered_face_decides)
    presentations = run_liveness_bench(
        analyzer,
        items,
        root,
        _spoof_photos(spoof_dir),
        tqdm_progress("clips", "clip"),
        animated=read_animated(animated) if animated else None,
        animated_root=animated.parent if animated else None,
    )
    rates = error_rates(presentations)
    blinks = _blink_rates(analyzer, blink_labels or [], [blink_clips, root] if blink_clips else [root])
    page = write_liveness_report(
        out,
        rates,
        blinks,
        {"manifest": str(manifest), "root": str(root)},
        _example_results(analyzer, items, root),
        [p.__dict__ for p in presentations],
    )
    _print_rates(rates, blinks)
    print(f"report: {page}")
