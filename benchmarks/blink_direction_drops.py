"""Does the backwards-blink rule hold when frames are lost? (issue 10, the `continuity` check)

Genuine captures lose frames: the live capture when the service falls behind, a browser's
recorder encoding in real time on a loaded machine, a phone recording at a variable rate in
dim light. For every clip of the bona fide list, forwards and played backwards, this drops
10, 20 and 30 % of the tracked frames at random (``--seeds`` draws each, keeping each kept
frame's own timestamp) and counts how often ``liveness.blink.blink_direction`` says "plays
backwards". Beside the rule as shipped it prints the per-frame reading, the same series with
the gaps closed up (what the rule did to uploads before: steps counted per frame, every blink
evidence). Nothing is fitted: the limits are the ones chosen on these clips as recorded
(liveness/blink.py), so the zero-drop row is in-sample and the dropped rows test only how the
reading copes with gaps.

    nice python benchmarks/blink_direction_drops.py --root ../shared/data [--seeds 10]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.liveness_cache import cached  # noqa: E402
from liveness.bench import read_bona_fide  # noqa: E402
from liveness.blink import blink_direction, detect_blinks  # noqa: E402
from matcher import FaceMatcher  # noqa: E402

DROPS = (0.0, 0.1, 0.2, 0.3)


def plays_backwards(ear: np.ndarray, times: np.ndarray) -> bool:
    idx = np.arange(ear.size)
    return blink_direction(ear, times, detect_blinks(ear, times, idx), idx).plays_backwards


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--manifest", type=Path, default=ROOT / "benchmarks" / "liveness_bona_fide.csv")
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    matcher = FaceMatcher()
    rng = np.random.default_rng(20261203)
    # (drop, direction, reading) -> [flagged, windows]
    tally: dict[tuple[float, str, str], list[int]] = {}
    items = read_bona_fide(args.manifest)
    for item in items:
        _clip, track = cached(matcher, args.root / item.clip, with_audio=False)
        ear, times = track.series("ear_open_eye"), track.times
        frame_s = float(np.median(np.diff(times)))
        for drop in DROPS:
            for _ in range(args.seeds if drop else 1):
                keep = rng.random(ear.size) >= drop
                for direction, series in (("forwards", ear), ("backwards", ear[::-1])):
                    kept, at = series[keep], times[keep]
                    readings = {
                        "shipped": plays_backwards(kept, at),
                        "per_frame": plays_backwards(kept, np.arange(kept.size) * frame_s),
                    }
                    for reading, flagged in readings.items():
                        row = tally.setdefault((drop, direction, reading), [0, 0])
                        row[0] += int(flagged)
                        row[1] += 1
    print(f"{len(items)} bona fide clips; flagged 'plays backwards' / windows")
    print(f"{'dropped':>8} {'direction':>10} {'shipped':>14} {'per frame':>14}")
    for drop in DROPS:
        for direction in ("forwards", "backwards"):
            cells = [tally[(drop, direction, r)] for r in ("shipped", "per_frame")]
            print(f"{drop:>8.0%} {direction:>10} " + " ".join(f"{f:>6}/{n:<7}" for f, n in cells))


if __name__ == "__main__":
    main()
