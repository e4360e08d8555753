"""CPU per stage of judging one clip, per second of clip: GRID clips and a long talking clip.

The service's challenge records 11-13 s at the kiosk, so cost is reported per second of clip
(process CPU, both cores counted; models at their default threads) and extrapolated to a
12 s challenge. Each clip set is judged twice: with every model on every frame (the
reference, ``detect_every=1, sparse_eyes=False``) and with the tracker's defaults (detector
every few frames, Iris only where a blink can be), and with the opt-in landmark following.
Decode (PyAV, with audio) is measured
separately; models are loaded once, and the first clip of each run is repeated as a warm-up.

    python benchmarks/liveness_speed.py ../shared/data/videos/grid \\
        --long ../shared/data/videos/talking/liveportrait_driving_d3.mp4
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from liveness.analyse import LivenessAnalyzer
from liveness.challenge import Challenge, Prompt
from liveness.tracking import DETECT_EVERY, FOLLOW_DETECT_EVERY
from liveness.video import read_video
from matcher import FaceMatcher

# (detect_every, sparse_eyes) of the tracker
MODES = {
    "every model, every frame": (1, False),
    "default (Iris where a blink can be)": (DETECT_EVERY, True),
    "opt-in: mesh follows, detector every 5th frame": (FOLLOW_DETECT_EVERY, True),
}
CHALLENGE_S = 12.0  # the middle of the kiosk's 11-13 s recording


def judge_set(analyzer: LivenessAnalyzer, clips: list[Path]) -> dict[str, object]:
    """Median CPU ms per clip-second for each stage, over ``clips`` (the first one run twice)."""
    per_s: dict[str, list[float]] = {}
    calls: dict[str, list[float]] = {}
    for n, path in enumerate([clips[0], *clips]):
        c0 = time.process_time()
        clip = read_video(path)
        decode = (time.process_time() - c0) * 1000
        now = datetime.now(UTC)
        span = max(clip.duration_s, 0.5)
        prompts = (Prompt("blink", 0, span), Prompt("digits", 0, span))
        ch = Challenge("speed", 1, "481639", prompts, now, now + timedelta(minutes=1), "en")
        result = analyzer.analyse(clip, ch)
        total = (time.process_time() - c0) * 1000
        if n == 0:
            continue  # warm-up
        assert result.track is not None
        stages = {"total": total, "decode": decode, **result.cpu_ms}
        stages["track.other"] = stages["track"] - sum(
            v for k, v in result.cpu_ms.items() if k.startswith("track.")
        )
        for k, v in stages.items():
            per_s.setdefault(k, []).append(v / clip.duration_s)
        for k, v in result.track.calls.items():
            calls.setdefault(k, []).append(v / max(len(result.track.frames), 1))
    return {
        "clips": len(clips),
        "cpu_ms_per_clip_s": {k: round(statistics.median(v), 1) for k, v in per_s.items()},
        "model_runs_per_frame": {k: round(statistics.median(v), 2) for k, v in calls.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", help="GRID clips (*.mpg)")
    ap.add_argument("--long", nargs="*", default=[], help="long talking clips (10-13 s)")
    ap.add_argument("--out", default="reports/liveness_speed.json")
    args = ap.parse_args()
    sets = {"grid": sorted(Path(args.folder).glob("*.mpg")), "long": [Path(p) for p in args.long]}
    matcher = FaceMatcher()
    rows = []
    for mode, (detect_every, sparse_eyes) in MODES.items():
        analyzer = LivenessAnalyzer(matcher, detect_every=detect_every, sparse_eyes=sparse_eyes)
        for name, clips in sets.items():
            if not clips:
                continue
            row = {"mode": mode, "set": name, **judge_set(analyzer, clips)}
            rows.append(row)
            cost = row["cpu_ms_per_clip_s"]
            assert isinstance(cost, dict)
            print(
                f"{mode} / {name} ({row['clips']} clips): CPU {cost['total']:.0f} ms per clip-second "
                f"(~{cost['total'] * CHALLENGE_S / 1000:.2f} s for a {CHALLENGE_S:.0f} s challenge); "
                + ", ".join(f"{k} {v:.0f}" for k, v in cost.items() if k not in ("total", "track"))
                + f"; model runs per frame {row['model_runs_per_frame']}"
            )
    meta = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
