"""Kiosk flow timing and page weight, in Debian's Chromium with a real clip as the camera.

Time from pressing "start" to the result, split into capture (the spoken plan, countdown,
prompts and recording; the plan part also on its own), the upload request, and the
server's analysis inside it; the page's weight
and the number of requests that left the machine (must be 0). Reuses the browser-test
helpers (tests/test_kiosk_browser.py), several runs, medians.

    python benchmarks/kiosk_timing.py --runs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from liveness.video import read_video  # noqa: E402
from matcher import FaceMatcher  # noqa: E402
from tests import test_kiosk_browser as kb  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default="reports/kiosk_timing.json")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lifecert-kiosk-timing-"))
    frames = read_video(kb.CLIP, with_audio=False).frames
    camera = kb.to_y4m(frames, work / "live.y4m")
    rows = []
    with kb.running_server(work, FaceMatcher()) as server, kb.playwright_api.sync_playwright() as pw:
        for i in range(args.runs):
            name = f"计时{i}"
            idn = kb.enrol(server, name, cv2.imencode(".jpg", frames[10 + i])[1].tobytes())
            browser, page = kb.browser_page(pw, camera, {"width": 1080, "height": 1920})
            kb.run_flow(page, server, idn, name, f"timing-{i}")
            rows.append(page.evaluate("window.lifecertTimings"))
            rows[-1]["page_bytes"] = sum(p.stat().st_size for p in (ROOT / "api" / "web").iterdir())
            browser.close()
    keys = ["plan_ms", "capture_ms", "request_ms", "analysis_ms", "total_ms", "video_bytes", "page_bytes"]
    summary = {k: statistics.median(r[k] for r in rows) for k in keys}
    summary["upload_ms"] = summary["request_ms"] - summary["analysis_ms"]
    summary["external_requests"] = 0  # run_flow asserts that none left the machine
    print(json.dumps(summary, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"runs": rows, "median": summary}, indent=2))


if __name__ == "__main__":
    main()
