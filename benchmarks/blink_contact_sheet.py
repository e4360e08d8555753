"""Draw the eye region of every frame of a clip on one sheet, numbered, for hand-labelling blinks.

The blink labels in tests/data/blink_labels*.csv were made by eye from these sheets, frame by
frame, independently of the detector (the CSV's header says who and when). To check a label:

    python benchmarks/blink_contact_sheet.py \
        ../shared/data/videos/talking/liveportrait_driving_d12.mp4 /tmp/d12.png --first 40
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from liveness.video import read_video
from matcher import FaceMatcher
from matcher.landmarks import roi_from_detection

CELL_W, CELL_H, PER_ROW = 150, 56, 10


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("video")
    ap.add_argument("out")
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--count", type=int, default=100)
    args = ap.parse_args()
    clip = read_video(args.video, with_audio=False)
    matcher = FaceMatcher()
    cells = []
    for i in range(args.first, min(len(clip.frames), args.first + args.count)):
        image = clip.frames[i]
        cell = np.zeros((CELL_H + 12, CELL_W, 3), np.uint8)
        faces = matcher.detector(image)
        if faces:
            pts = matcher.mesh(image, roi_from_detection(faces[0])).points[:, :2]
            a, b = pts[33], pts[263]
            d = float(np.linalg.norm(b - a))
            cx, cy = (a + b) / 2
            x0, x1 = int(cx - 0.85 * d), int(cx + 0.85 * d)
            y0, y1 = int(cy - 0.35 * d), int(cy + 0.35 * d)
            region = image[max(0, y0) : y1, max(0, x0) : x1]
            if region.size:
                cell[12:] = cv2.resize(region, (CELL_W, CELL_H))
        cv2.putText(cell, str(i), (2, 10), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 255, 255), 1)
        cells.append(cell)
    while len(cells) % PER_ROW:
        cells.append(np.zeros_like(cells[0]))
    rows = [np.hstack(cells[r : r + PER_ROW]) for r in range(0, len(cells), PER_ROW)]
    cv2.imwrite(args.out, np.vstack(rows))


if __name__ == "__main__":
    main()
