"""Does the chin move with the mouth? The distributions behind the ``jaw_motion`` check (issue 10).

``liveness.jaw.jaw_coupling`` (its docstring says how it reads the pixels) over every clip of
the bona fide list, the cut-outs built from them (person B = each clip's
``other_person_clip``, still and hand-held, as ``make bench-liveness`` builds them) and, with
``--animated``, the animated-photo clips; each over the whole clip, as the benchmark's
whole-clip challenges window the digits. Prints the distribution per group, the CPU the
measure costs per clip, and writes reports/chin_motion.csv. Nothing is fitted here; the
limit's rule (the middle of the GRID gap) is evaluated leaving one reader out at the end.

    nice python benchmarks/chin_motion.py --root ../shared/data \
        [--animated ../shared/data/attacks/animated/manifest.csv] [--limit N]
    python benchmarks/chin_motion.py --from-csv reports/chin_motion.csv   # the summary again
"""

from __future__ import annotations

import argparse
import csv
import itertools
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from liveness import attacks  # noqa: E402
from liveness.bench import BonaFide, read_animated, read_bona_fide  # noqa: E402
from liveness.jaw import jaw_coupling  # noqa: E402
from liveness.tracking import Track, track_face  # noqa: E402
from liveness.video import Clip, read_video, write_mp4  # noqa: E402
from matcher import FaceMatcher  # noqa: E402

GROUPS = ("bona_fide", "cutout_static", "cutout_hand_held", "animated")


def as_sent(clip: Clip, crf: int | None) -> Clip:
    """The clip as a phone would upload it at ``crf`` (None: as it is)."""
    if crf is None:
        return clip
    with tempfile.TemporaryDirectory() as tmp:
        path = write_mp4(Path(tmp) / "clip.mp4", clip.frames, clip.fps, crf=crf)
        return read_video(path, with_audio=False)


def measure(clip: Clip, track: Track, spent: list[float]) -> tuple[float, int]:
    c0 = time.process_time()
    jaw = jaw_coupling(clip, track, 0.0, float("inf"))
    spent.append(time.process_time() - c0)
    return jaw.coupling, jaw.pairs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, default=ROOT.parent / "shared/data")
    parser.add_argument("--manifest", type=Path, default=ROOT / "benchmarks/liveness_bona_fide.csv")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--only", default="", help="only clips whose path contains this")
    parser.add_argument("--animated", type=Path, help="the animated clips' manifest.csv")
    parser.add_argument("--crf", type=int, help="re-encode every clip as H.264 at this CRF first")
    parser.add_argument("--out", type=Path, default=ROOT / "reports/chin_motion.csv")
    parser.add_argument("--from-csv", type=Path, help="skip measuring: summarise an earlier --out")
    args = parser.parse_args()
    if args.from_csv:
        with args.from_csv.open(newline="") as f:
            earlier: list[dict[str, object]] = list(csv.DictReader(f))
        summarise(earlier, read_bona_fide(args.manifest))
        return
    matcher = FaceMatcher()
    items = [i for i in read_bona_fide(args.manifest) if args.only in i.clip][: args.limit or None]
    rows: list[dict[str, object]] = []
    t0 = time.process_time()
    spent: list[float] = []
    for n, item in enumerate(items, 1):
        original = read_video(args.root / item.clip, with_audio=False)
        clip = as_sent(original, args.crf)
        track = track_face(matcher, clip)
        r, pairs = measure(clip, track, spent)
        rows.append({"group": "bona_fide", "clip": item.clip, "chin_motion": r, "pairs": pairs})
        other = read_video(args.root / item.other_person_clip, with_audio=False)
        still = other.frames[len(other.frames) // 2]
        still_shape = track_face(matcher, Clip([still], np.zeros(1))).frames[0].shape
        if still_shape is not None:
            behind = track if args.crf is None else track_face(matcher, original)  # A's own landmarks
            shapes = [f.shape for f in behind.frames]
            for moving in (False, True):
                attack = as_sent(
                    attacks.cutout_photo(still, still_shape, original, shapes, moving=moving), args.crf
                )
                r, pairs = measure(attack, track_face(matcher, attack), spent)
                group = "cutout_hand_held" if moving else "cutout_static"
                rows.append({"group": group, "clip": item.clip, "chin_motion": r, "pairs": pairs})
        print(
            f"{n}/{len(items)} {item.clip}: "
            + ", ".join(f"{x['group']} {x['chin_motion']:.2f}" for x in rows[-3:]),
            flush=True,
        )
    for a in read_animated(args.animated) if args.animated else []:
        clip = as_sent(read_video(args.animated.parent / a.clip, with_audio=False), args.crf)
        r, pairs = measure(clip, track_face(matcher, clip), spent)
        rows.append(
            {"group": "animated", "clip": f"{a.generator}:{a.clip}", "chin_motion": r, "pairs": pairs}
        )
        print(f"{a.generator}:{a.clip}: {r:.2f}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["group", "clip", "chin_motion", "pairs"])
        writer.writeheader()
        writer.writerows(rows)
    print(
        f"\nCPU {time.process_time() - t0:.0f} s in all; jaw_coupling {np.mean(spent) * 1000:.1f} ms per clip"
    )
    print("(mean over the clips; a GRID clip is 3 s)")
    summarise(rows, items)


def summarise(rows: list[dict[str, object]], items: list[BonaFide]) -> None:
    print()
    print("| clips | group | n | not measured | min | 5th | median | 95th | max |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind, group in itertools.product(("grid", "talking", "animated"), GROUPS):
        values = np.array(
            [float(r["chin_motion"]) for r in rows if r["group"] == group and _kind(str(r["clip"])) == kind]  # type: ignore[arg-type]
        )
        ok = values[np.isfinite(values)]
        if not ok.size:
            continue
        p5, p50, p95 = np.percentile(ok, [5, 50, 95])
        print(
            f"| {kind} | {group} | {values.size} | {values.size - ok.size} | {ok.min():.2f} | {p5:.2f} "
            f"| {p50:.2f} | {p95:.2f} | {ok.max():.2f} |"
        )
    leave_one_clip_out(rows, {i.clip: i.other_person_clip for i in items})


def leave_one_clip_out(rows: list[dict[str, object]], partner: dict[str, str]) -> None:
    """The limit's rule held out: for each GRID reader, the rule that set MIN_JAW_COUPLING (the
    middle of the gap between the lowest reader and the highest cut-out) applied to the other
    readers and their cut-outs only (without every clip paired with the held-out one, either
    way: its cut-outs, those on its photo, its partner's), then this reader and its two
    cut-outs judged by it. A score that cannot be measured passes, as in the service."""

    def score(r: dict[str, object]) -> float:
        return float(r["chin_motion"])  # type: ignore[arg-type]

    grid = [r for r in rows if _kind(str(r["clip"])) == "grid" and r["group"] != "animated"]
    readers = sorted({str(r["clip"]) for r in grid})
    refused = missed = cutouts = 0
    limits = []
    for held in readers:
        related = {held, partner.get(held, "")} | {c for c, b in partner.items() if b == held}
        train = [r for r in grid if str(r["clip"]) not in related and math.isfinite(score(r))]
        low = min(score(r) for r in train if r["group"] == "bona_fide")
        high = max(score(r) for r in train if r["group"] != "bona_fide")
        limit = (low + high) / 2
        limits.append(limit)
        for r in (r for r in grid if r["clip"] == held):
            passes = not math.isfinite(score(r)) or score(r) >= limit
            if r["group"] == "bona_fide":
                refused += not passes
            else:
                cutouts += 1
                missed += passes
    print(
        f"\nLeave one GRID reader out ({len(readers)} folds, limits {min(limits):.3f}-{max(limits):.3f}): "
        f"readers sent to staff {refused}/{len(readers)}, cut-outs not sent {missed}/{cutouts}"
    )


def _kind(clip: str) -> str:
    return "animated" if ":" in clip else "grid" if "/grid" in clip else "talking"


if __name__ == "__main__":
    main()
