"""Time to judge a 3-second 25 fps clip (the GRID clips), end to end and per stage.

Decode (PyAV, with audio) + tracking + checks, wall clock and process CPU time, for every
analysed frame (stride 1) and every second frame (stride 2). Models are loaded once first.

    python benchmarks/liveness_speed.py ../shared/data/videos/grid
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
from liveness.video import read_video
from matcher import FaceMatcher


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("--out", default="reports/liveness_speed.json")
    args = ap.parse_args()
    clips = sorted(Path(args.folder).glob("*.mpg"))
    analyzers = {s: LivenessAnalyzer(FaceMatcher(), stride=s) for s in (1, 2)}
    rows = []
    for stride, analyzer in analyzers.items():
        walls, cpus, stages = [], [], {}
        for path in clips + clips[:1]:  # the first clip twice: its first run is a warm-up
            w0, c0 = time.perf_counter(), time.process_time()
            clip = read_video(path)
            decode = (time.perf_counter() - w0) * 1000
            now = datetime.now(UTC)
            ch = Challenge(
                "speed",
                1,
                "481639",
                (Prompt("blink", 0, 3.0), Prompt("digits", 0, 3.0)),
                now,
                now + timedelta(minutes=1),
                "en",
            )
            result = analyzer.analyse(clip, ch)
            walls.append((time.perf_counter() - w0) * 1000)
            cpus.append((time.process_time() - c0) * 1000)
            for k, v in {"decode": decode, **result.timings_ms}.items():
                stages.setdefault(k, []).append(v)
        walls, cpus = walls[1:], cpus[1:]
        row = {
            "stride": stride,
            "clips": len(walls),
            "wall_median_ms": statistics.median(walls),
            "cpu_median_ms": statistics.median(cpus),
            **{f"{k}_median_ms": statistics.median(v[1:]) for k, v in stages.items()},
        }
        rows.append(row)
        print(
            f"stride {stride}: wall {row['wall_median_ms']:.0f} ms, CPU {row['cpu_median_ms']:.0f} ms; "
            + ", ".join(
                f"{k[:-10]} {v:.0f}"
                for k, v in row.items()
                if k.endswith("_median_ms") and not k.startswith(("wall", "cpu"))
            )
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
