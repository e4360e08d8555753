"""Does the chin move with the mouth? A measured lead against cut-out photos (issue 10).

A real jaw opens the mouth: when the lips part, the skin of the chin moves down with them.
In a cut-out photo (抠洞照片: person B's photo with holes at the eyes and mouth, person A's
real eyes and mouth behind) the mouth moves but the chin is paper: it only follows the
hand. FaceMesh does not tell the two apart (it draws a chin that follows the mouth: the
landmark-based ``jaw_coupling`` signal barely separates them), so this reads the pixels:

1. dense optical flow (OpenCV Farneback) between consecutive frames over the face;
2. its median vertical component in a box over the chin (below the mouth hole's reach),
   minus the same over the forehead (above the eye holes' reach: paper in a cut-out, so the
   head's or the hand's motion is taken out), in face widths per frame: the chin's own motion.
   Landmarks only place the boxes; they are not used to undo motion, because on a cut-out
   the eye landmarks follow the real eyes behind the holes;
3. the signal is the correlation of that motion with the change of the mouth opening (MAR).

Real footage: positive (the chin goes down as the mouth opens). A cut-out: about zero.

    nice python benchmarks/chin_motion.py --root ../shared/data [--limit N]

Prints the distribution per group (bona fide, static cut-out, hand-held cut-out) and writes
reports/chin_motion.csv. Nothing is fitted or thresholded here: it reports distributions.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import math
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from liveness import attacks  # noqa: E402
from liveness.bench import read_bona_fide  # noqa: E402
from liveness.tracking import Track, track_face  # noqa: E402
from liveness.video import Clip, read_video  # noqa: E402
from matcher import FaceMatcher  # noqa: E402

LOWER_LIP, CHIN, MOUTH_R, MOUTH_L, SIDE_R, SIDE_L = 17, 152, 61, 291, 234, 454
FOREHEAD = (10, 151, 9, 108, 337, 67, 297)  # above the eye holes' reach: paper in a cut-out


def chin_box(shape: np.ndarray) -> tuple[float, float, float, float] | None:
    """The chin below the mouth hole's reach: the middle of the mouth's width, from 55 % of
    the way from the lower lip to the chin, to a little past the chin."""
    lip, chin = shape[LOWER_LIP], shape[CHIN]
    drop = chin[1] - lip[1]
    if drop <= 4:
        return None
    left, right = sorted((shape[MOUTH_R][0], shape[MOUTH_L][0]))
    margin = 0.2 * (right - left)
    return left + margin, lip[1] + 0.55 * drop, right - margin, chin[1] + 0.1 * drop


def forehead_box(shape: np.ndarray) -> tuple[float, float, float, float]:
    pts = shape[list(FOREHEAD)]
    return float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())


def _median_v(flow: np.ndarray, box: tuple[float, float, float, float], x0: int, y0: int) -> float | None:
    bx0, by0, bx1, by1 = (round(box[0]) - x0, round(box[1]) - y0, round(box[2]) - x0, round(box[3]) - y0)
    bx0, by0 = max(bx0, 0), max(by0, 0)
    part = flow[by0:by1, bx0:bx1, 1]
    return float(np.median(part)) if part.size >= 40 else None


def chin_motion(clip: Clip, track: Track) -> tuple[float, int]:
    """(correlation of the chin's vertical motion relative to the forehead with the change of
    mouth opening, frame pairs used). NaN where the mouth hardly moves or too few pairs."""
    chin_v, mouth_v = [], []
    frames = track.frames
    for prev, cur in itertools.pairwise(frames):
        if not (prev.tracked and cur.tracked and cur.shape is not None and cur.box is not None):
            continue
        if not (math.isfinite(prev.mar) and math.isfinite(cur.mar)):
            continue
        chin = chin_box(cur.shape)
        if chin is None:
            continue
        x0, y0, x1, y1 = (int(v) for v in cur.box)
        h, w = clip.frames[cur.index].shape[:2]
        x0, y0, x1, y1 = max(0, x0), max(0, y0 - (y1 - y0) // 4), min(w, x1), min(h, y1 + (y1 - y0) // 8)
        if x1 - x0 < 32 or y1 - y0 < 32:
            continue
        a = cv2.cvtColor(clip.frames[prev.index][y0:y1, x0:x1], cv2.COLOR_BGR2GRAY)
        b = cv2.cvtColor(clip.frames[cur.index][y0:y1, x0:x1], cv2.COLOR_BGR2GRAY)
        flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 11, 3, 5, 1.1, 0)
        down, still = _median_v(flow, chin, x0, y0), _median_v(flow, forehead_box(cur.shape), x0, y0)
        if down is None or still is None:
            continue
        width = float(np.linalg.norm(cur.shape[SIDE_L] - cur.shape[SIDE_R]))
        chin_v.append((down - still) / max(width, 1.0))
        mouth_v.append(cur.mar - prev.mar)
    if len(chin_v) < 10 or np.std(mouth_v) < 1e-4 or np.std(chin_v) < 1e-9:
        return float("nan"), len(chin_v)
    return float(np.corrcoef(chin_v, mouth_v)[0, 1]), len(chin_v)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, default=ROOT.parent / "shared/data")
    parser.add_argument("--manifest", type=Path, default=ROOT / "benchmarks/liveness_bona_fide.csv")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--only", default="", help="only clips whose path contains this")
    parser.add_argument("--out", type=Path, default=ROOT / "reports/chin_motion.csv")
    args = parser.parse_args()
    matcher = FaceMatcher()
    items = [i for i in read_bona_fide(args.manifest) if args.only in i.clip][: args.limit or None]
    rows: list[dict[str, object]] = []
    t0 = time.process_time()
    for n, item in enumerate(items, 1):
        clip = read_video(args.root / item.clip, with_audio=False)
        track = track_face(matcher, clip)
        r, pairs = chin_motion(clip, track)
        rows.append({"group": "bona_fide", "clip": item.clip, "chin_motion": r, "pairs": pairs})
        other = read_video(args.root / item.other_person_clip, with_audio=False)
        still = other.frames[len(other.frames) // 2]
        still_shape = track_face(matcher, Clip([still], np.zeros(1))).frames[0].shape
        if still_shape is not None:
            for moving in (False, True):
                attack = attacks.cutout_photo(
                    still, still_shape, clip, [f.shape for f in track.frames], moving=moving
                )
                r, pairs = chin_motion(attack, track_face(matcher, attack))
                group = "cutout_hand_held" if moving else "cutout_static"
                rows.append({"group": group, "clip": item.clip, "chin_motion": r, "pairs": pairs})
        print(
            f"{n}/{len(items)} {item.clip}: "
            + ", ".join(f"{x['group']} {x['chin_motion']:.2f}" for x in rows[-3:]),
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["group", "clip", "chin_motion", "pairs"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"\nCPU {time.process_time() - t0:.0f} s\n")
    print("| group | clips | NaN | median | 5th | 95th | share > 0.2 |")
    print("|---|---|---|---|---|---|---|")
    for group in ("bona_fide", "cutout_static", "cutout_hand_held"):
        values = np.array([float(r["chin_motion"]) for r in rows if r["group"] == group])  # type: ignore[arg-type]
        ok = values[np.isfinite(values)]
        if not ok.size:
            continue
        p5, p50, p95 = np.percentile(ok, [5, 50, 95])
        print(
            f"| {group} | {values.size} | {values.size - ok.size} | {p50:.2f} | {p5:.2f} | {p95:.2f} "
            f"| {np.mean(ok > 0.2):.0%} |"
        )


if __name__ == "__main__":
    main()
