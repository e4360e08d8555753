"""Kiosk flow timing and page weight, in Debian's Chromium with a real clip as the camera.

Time from pressing "start" to the result, split into capture (the spoken plan, countdown,
prompts and recording; the plan part also on its own), the upload request, and the
server's analysis inside it; the page's weight
and the number of requests that left the machine (must be 0). Reuses the browser-test
helpers (tests/test_kiosk_browser.py), several runs, medians.

Taps and keystrokes per path, counted as the browser tests drive the page (a tap: a click, or
the tap that puts the cursor in a field; a keystroke: one per character typed): self at a
kiosk typed, self at a kiosk with an ID-card reader (simulated), a helper on a phone the first
time, and the same helper the next time from the saved list.

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


def other_paths(server, pw, camera: Path, frames) -> dict[str, dict[str, int]]:  # type: ignore[no-untyped-def]
    """Taps and keys of the reader and saved-helper paths (to the result; the time is not kept)."""
    out = {}
    idn = kb.enrol(server, "读卡", cv2.imencode(".jpg", frames[20])[1].tobytes())
    browser = kb.launch(pw, camera)
    page = browser.new_context(viewport={"width": 1080, "height": 1920}, locale="zh-CN").new_page()
    page.add_init_script(
        "window.addEventListener('load', () => window.postMessage("
        "{type: 'lifecert-id-card-reader', ready: true}, location.origin));"
    )
    page.goto(f"{server.url}/kiosk/#key={server.keys['kiosk']}")
    page.wait_for_selector("#reader-hint:not([hidden])")
    page.evaluate(
        "([id, name]) => window.postMessage("
        "{type: 'lifecert-id-card', id_number: id, name}, location.origin)",
        [idn, "读卡"],
    )
    taps = 0
    for sel in ("#consent-yes", "#who-self", "#capture-start"):
        if sel == "#capture-start":
            page.wait_for_function("() => document.querySelector('#feedback').textContent.length > 0")
        page.click(sel)
        taps += 1
    page.wait_for_selector("#step-result:not([hidden])", timeout=90_000)
    out["self_kiosk_id_card_reader"] = {"taps": taps, "keys": 0}
    browser.close()

    idn = kb.enrol(server, "亲情", cv2.imencode(".jpg", frames[22])[1].tobytes())
    browser = kb.launch(pw, camera)
    page = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN").new_page()
    first: dict[str, int] = {"taps": 0, "keys": 0}
    kb.run_flow(page, server, idn, "亲情", "timing-phone-proxy", proxy=True, key_role="app", tally=first)
    out["proxy_phone_first_time"] = first
    page.click("#result-done")
    page.wait_for_selector("#saved:not([hidden])")
    taps = 0
    for sel in (".saved-person", "#consent-yes", "#capture-start"):
        if sel == "#capture-start":
            page.wait_for_function("() => document.querySelector('#feedback').textContent.length > 0")
        page.locator(sel).first.click()
        taps += 1
    page.wait_for_selector("#step-result:not([hidden])", timeout=90_000)
    out["proxy_phone_saved_helper"] = {"taps": taps, "keys": 0}
    browser.close()
    return out


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
            tally = {"taps": 0, "keys": 0}
            kb.run_flow(page, server, idn, name, f"timing-{i}", tally=tally)
            rows.append(page.evaluate("window.lifecertTimings") | tally)
            rows[-1]["page_bytes"] = sum(p.stat().st_size for p in (ROOT / "api" / "web").iterdir())
            browser.close()
        proxy = {"taps": 0, "keys": 0}
        browser, page = kb.browser_page(pw, camera, {"width": 1080, "height": 1920})
        idn = kb.enrol(server, "代办计时", cv2.imencode(".jpg", frames[18])[1].tobytes())
        kb.run_flow(page, server, idn, "代办计时", "timing-proxy", proxy=True, tally=proxy)
        browser.close()
        paths = {
            "self_kiosk_typed": {"taps": rows[0]["taps"], "keys": rows[0]["keys"]},
            "proxy_kiosk_typed": proxy,
        }
        paths |= other_paths(server, pw, camera, frames)
    keys = ["plan_ms", "capture_ms", "request_ms", "analysis_ms", "total_ms", "video_bytes", "page_bytes"]
    summary = {k: statistics.median(r[k] for r in rows) for k in keys}
    summary["upload_ms"] = summary["request_ms"] - summary["analysis_ms"]
    summary["external_requests"] = 0  # run_flow asserts that none left the machine
    summary["paths"] = paths
    print(json.dumps(summary, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"runs": rows, "median": summary}, indent=2))


if __name__ == "__main__":
    main()
