"""Latency per face, end to end (decode + detect + landmarks + align + quality + embed).

Runs each preset with 1 and 2 onnxruntime/LiteRT threads over the first N distinct images
of a pairs file, in one process, after a short warm-up; reports medians and p90 per stage.

    python benchmarks/speed.py ../shared/data/faces/pairs.csv --root ../shared/data/faces --images 200
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

from matcher import FaceMatcher, MatcherError, Role, read_image
from matcher.evaluation import read_pairs


def measure(matcher: FaceMatcher, files: list[Path], warmup: int = 5) -> dict[str, float]:
    totals: list[float] = []
    stages: dict[str, list[float]] = {}
    for i, f in enumerate(files[:warmup] + files):
        t0 = time.perf_counter()
        image = read_image(f)
        decode = (time.perf_counter() - t0) * 1000
        try:
            result = matcher.analyse(image, Role.PROBE)
        except MatcherError:
            continue
        total = (time.perf_counter() - t0) * 1000
        if i < warmup:
            continue
        totals.append(total)
        for k, v in {"decode": decode, **result.timings_ms}.items():
            stages.setdefault(k, []).append(v)
    out = {
        "faces": len(totals),
        "median_ms": statistics.median(totals),
        "p90_ms": statistics.quantiles(totals, n=10)[-1],
    }
    out.update({f"{k}_median_ms": statistics.median(v) for k, v in stages.items()})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("pairs")
    ap.add_argument("--root", required=True)
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--presets", default="fast,fused,mit")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--out", default="reports/speed.json")
    args = ap.parse_args()
    seen: dict[str, None] = {}
    for p in read_pairs(Path(args.pairs)):
        seen.setdefault(p.file_a)
        seen.setdefault(p.file_b)
    files = [Path(args.root) / f for f in list(seen)[: args.images]]
    rows = []
    for preset in args.presets.split(","):
        for threads in (int(t) for t in args.threads.split(",")):
            row = {
                "preset": preset,
                "threads": threads,
                **measure(FaceMatcher(preset=preset, threads=threads), files),
            }
            rows.append(row)
            print(
                f"{preset:9s} threads={threads}  median {row['median_ms']:.1f} ms  "
                f"p90 {row['p90_ms']:.1f} ms  "
                + "  ".join(f"{k[:-10]} {v:.1f}" for k, v in row.items() if k.endswith("_median_ms"))
            )
    meta = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "images": len(files),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
