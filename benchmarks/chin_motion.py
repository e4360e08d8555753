"""Does the chin move with the mouth? The distributions behind the ``jaw_motion`` check (issue 10).

``liveness.jaw.jaw_coupling`` (its docstring says how it reads the pixels) over every clip of
the bona fide list, the cut-outs built from them (person B = each clip's
``other_person_clip``, still and hand-held, as ``make bench-liveness`` builds them) and, with
``--animated``, the animated-photo clips; each over the whole clip, as the benchmark's
whole-clip challenges window the digits. Prints the distribution per group, the CPU the
measure costs per clip, and writes reports/chin_motion.csv. Nothing is fitted here.

    nice python benchmarks/chin_motion.py --root ../shared/data \
        [--animated ../shared/data/attacks/animated/manifest.csv] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from liveness import attacks  # noqa: E402
from liveness.bench import read_animated, read_bona_fide  # noqa: E402
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
    args = parser.parse_args()
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
    print("(mean over the clips; a GRID clip is 3 s)\n")
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


def _kind(clip: str) -> str:
    return "animated" if ":" in clip else "grid" if "/grid" in clip else "talking"


if __name__ == "__main__":
    main()
