"""How well does ``read_digits`` count syllables? GRID sentences as recorded and hand-held (issue 10).

Every GRID clip under ../shared/data (grid_s1: speaker s1, 20 clips, where the peak settings
of liveness/mouth.py were chosen; grid: 11 clips of other speakers, held out) has a known
sentence (its file name is the GRID code), so its syllables are known: one per word, "again",
"seven" and "zero" two, the letter "w" three. Each clip is tracked as recorded and as filmed
hand-held (``liveness.attacks.hand_held``: the attack builder's pan, zoom, tilt and tremor on
the genuine frames, as a phone held in the hand films), and ``mouth_cycles`` counts its
opening cycles, with the shipped settings and with any given with ``--min-syllable-s`` /
``--prominence``; the tracker runs its detector on every frame (the default) or every
``--detect-every`` frames (FaceMesh following the face in between). Printed per group: mean
error, mean absolute error, counts off by more than the check's tolerance, and how many pass
the bench's stand-in (every GRID clip judged as reading the 6 digits of
benchmarks/liveness_bona_fide.csv, so 4-8 cycles pass), and how many a live capture would
confirm as soon as they are read (as many cycles as the 6 digits: liveness/online.py
``digits_read``; fewer wait for the window to close).

    python benchmarks/mouth_count.py --root ../shared/data --min-syllable-s 0.08,0.16 [--detect-every 5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from liveness import mouth  # noqa: E402
from liveness.attacks import hand_held  # noqa: E402
from liveness.tracking import DETECT_EVERY, track_face  # noqa: E402
from liveness.video import read_video  # noqa: E402
from matcher import FaceMatcher  # noqa: E402

COMMANDS = {"b": "bin", "l": "lay", "p": "place", "s": "set"}
COLOURS = {"b": "blue", "g": "green", "r": "red", "w": "white"}
PREPOSITIONS = {"a": "at", "b": "by", "i": "in", "w": "with"}
DIGITS = {
    "1": "one", "2": "two", "3": "three", "4": "four", "5": "five",
    "6": "six", "7": "seven", "8": "eight", "9": "nine", "z": "zero",
}  # fmt: skip
ADVERBS = {"a": "again", "n": "now", "p": "please", "s": "soon"}
SYLLABLES = {"again": 2, "seven": 2, "zero": 2, "w": 3}
BENCH_DIGITS, BENCH_LANGUAGE = "481639", "en"  # every GRID clip's stand-in in bench-liveness


def sentence(stem: str) -> list[str]:
    """A GRID code (the file name's last six letters, e.g. bbaf2n) as its six words."""
    c, colour, prep, letter, digit, adverb = stem.split("_")[-1]
    return [COMMANDS[c], COLOURS[colour], PREPOSITIONS[prep], letter, DIGITS[digit], ADVERBS[adverb]]


def syllables(words: list[str]) -> int:
    return sum(SYLLABLES.get(w, 1) for w in words)


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--min-syllable-s", type=_floats, default=[mouth.MIN_SYLLABLE_S])
    ap.add_argument("--prominence", type=_floats, default=[mouth.PROMINENCE_FRACTION])
    ap.add_argument("--detect-every", type=int, default=DETECT_EVERY, help="frames between detector runs")
    args = ap.parse_args()
    matcher = FaceMatcher()
    series = []  # (group, true syllables, mar, times)
    for folder in ("grid_s1", "grid"):
        for path in sorted((args.root / "videos" / folder).glob("*.mpg")):
            clip = read_video(path, with_audio=False)
            truth = syllables(sentence(path.stem))
            for condition, shown in (("recorded", clip), ("hand-held", hand_held(clip))):
                track = track_face(matcher, shown, detect_every=args.detect_every)
                series.append((f"{folder} {condition}", truth, track.series("mar"), track.times))
    fewest, _ = mouth.expected_syllables(BENCH_DIGITS, BENCH_LANGUAGE)
    shipped = (mouth.MIN_SYLLABLE_S, mouth.PROMINENCE_FRACTION)
    for min_s in args.min_syllable_s:
        for prominence in args.prominence:
            mouth.MIN_SYLLABLE_S, mouth.PROMINENCE_FRACTION = min_s, prominence
            mark = " (shipped)" if (min_s, prominence) == shipped else ""
            print(f"min syllable {min_s:.2f} s, prominence {prominence:.2f}{mark}")
            for group in sorted({g for g, *_ in series}):
                rows = [(t, m, ts) for g, t, m, ts in series if g == group]
                counts = [len(mouth.mouth_cycles(m, ts, np.arange(m.size)).peaks_frames) for _, m, ts in rows]
                errors = np.array(counts) - np.array([t for t, _, _ in rows])
                off = int(np.sum(np.abs(errors) > mouth.COUNT_TOLERANCE))
                passed = sum(mouth.count_fits(c, BENCH_DIGITS, BENCH_LANGUAGE) for c in counts)
                confirmed = sum(c >= fewest for c in counts)
                print(
                    f"  {group:20s} clips {len(rows):2d}  mean error {errors.mean():+.2f}  "
                    f"MAE {np.abs(errors).mean():.2f}  off by > {mouth.COUNT_TOLERANCE}: {off:2d}  "
                    f"bench stand-in passes {passed}/{len(rows)}  live confirms {confirmed}/{len(rows)}"
                )
    mouth.MIN_SYLLABLE_S, mouth.PROMINENCE_FRACTION = shipped


if __name__ == "__main__":
    main()
