"""Research benchmark: do bona fide clips still pass when filmed the way phones and kiosks film?

Each bona fide clip of the liveness list is written again as a phone would upload it (H.264
and AAC in MP4, through PyAV) under one capture condition, read back by the service's own
reader (liveness/video.py) and judged against the challenge it satisfies, as in
`lifecert bench-liveness`. The conditions change the recording, never the person:

- reencoded: good quality (CRF 18), the baseline for the rest;
- compressed: CRF 32, a weak uplink's soft picture; heavily_compressed: CRF 40, blocky;
- dark: pixel values x 0.4, an unlit corner of a service hall;
- portrait_tag: stored sideways with a display-rotation tag, as phones store portrait video;
- 1080p60: enlarged to 1920 px on the long side, every frame shown twice at double rate;
- 15fps: every other frame dropped, a slow phone or browser.

Prints the pass rate (1 - BPCER) per condition and the checks that failed.

    python benchmarks/liveness_conditions.py benchmarks/liveness_bona_fide.csv --root ../shared/data
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from liveness.analyse import LivenessAnalyzer
from liveness.bench import read_bona_fide, whole_clip_challenge
from liveness.video import Clip, read_video, write_mp4
from matcher import FaceMatcher

Frames = list[np.ndarray]


def _enlarge(frames: Frames) -> Frames:
    h, w = frames[0].shape[:2]
    scale = 1920 / max(h, w)
    size = (2 * round(w * scale / 2), 2 * round(h * scale / 2))
    return [cv2.resize(f, size, interpolation=cv2.INTER_CUBIC) for f in frames]


# name: (frames -> frames, frame-rate factor, CRF, display rotation)
CONDITIONS: dict[str, tuple[Callable[[Frames], Frames], float, int, int]] = {
    "reencoded": (lambda f: f, 1.0, 18, 0),
    "compressed": (lambda f: f, 1.0, 32, 0),
    "heavily_compressed": (lambda f: f, 1.0, 40, 0),
    "dark": (lambda f: [(x * 0.4).astype(np.uint8) for x in f], 1.0, 18, 0),
    "portrait_tag": (lambda f: f, 1.0, 18, 90),
    "1080p60": (lambda f: [x for x in _enlarge(f) for _ in range(2)], 2.0, 18, 0),
    "15fps": (lambda f: f[::2], 0.5, 18, 0),
}


def write_phone_clip(path: Path, clip: Clip, condition: str) -> None:
    change, rate_factor, crf, rotation = CONDITIONS[condition]
    write_mp4(path, change(clip.frames), clip.fps * rate_factor, audio=clip.audio, rotation=rotation, crf=crf)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("manifest", type=Path)
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=Path("reports/liveness_conditions.json"))
    ap.add_argument("--only", nargs="*", choices=list(CONDITIONS), help="run these conditions only")
    args = ap.parse_args()
    items = read_bona_fide(args.manifest)
    analyzer = LivenessAnalyzer(FaceMatcher())
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for condition in args.only or CONDITIONS:
            passed, failed_checks, failed_clips = 0, Counter(), []
            for item in items:
                original = read_video(args.root / item.clip)
                path = Path(tmp) / f"{condition}.mp4"
                write_phone_clip(path, original, condition)
                clip = read_video(path)
                result = analyzer.analyse(clip, whole_clip_challenge(item, clip.duration_s))
                if result.passed:
                    passed += 1
                else:
                    failed = [c.name for c in result.checks if not c.passed]
                    failed_checks.update(failed)
                    failed_clips.append(f"{Path(item.clip).name}: {', '.join(failed)}")
            results[condition] = {
                "clips": len(items),
                "passed": passed,
                "bpcer": 1 - passed / len(items),
                "failed_checks": dict(failed_checks),
                "failed_clips": failed_clips,
            }
            checks = ", ".join(f"{k} {v}" for k, v in failed_checks.most_common()) or "none"
            print(f"{condition:18s} passed {passed}/{len(items)}  failed checks: {checks}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
