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

``--live`` measures the live, guided capture instead (issue 14; the kiosk's default since
session 6, ``lifecertConfig.live``; the upload runs pin it off): (1) blink-only challenges
fitted to the looping d0 clip, as above,
with the service's own random prompt pauses; (2) the service's real challenge (one blink and 4-6
digits, random order; OneBlink says why not two) with an ORACLE-timed clip: the fake camera
loops d12 (a man talking, three blinks), the fake microphone plays its sound, and the prompt
planner knows where the loop is (each measured frame is matched to the clip's frames) and
prompts each action just before the clip does it (blinks 0.3-0.8 s after the prompt; the digits
when as many mouth cycles as digits follow, then a pause). A person reacts to a prompt; a clip
cannot, so the prompt waits for the clip: the pauses the oracle chose are reported beside the
times (the service's own pauses are 0.6-2.0 s, mean 1.3 s). The clip talks before the digits
prompt too, so its verdict is expected to fail (read_digits counts cycles before the prompt);
the times are what is measured.

    python benchmarks/kiosk_timing.py --live --runs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import wave
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.certification.live import LiveSetup, Tracker  # noqa: E402
from liveness.analyse import SPEECH_REACTION_S  # noqa: E402
from liveness.blink import detect_blinks  # noqa: E402
from liveness.challenge import PAUSE_S, Challenge, ChallengeFactory  # noqa: E402
from liveness.mouth import mouth_cycles  # noqa: E402
from liveness.online import READING_SETTLE_S  # noqa: E402
from liveness.tracking import FaceTracker, FrameMeasure, Track, track_face  # noqa: E402
from liveness.video import Clip, read_video  # noqa: E402
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


MIN_PAUSE_S = PAUSE_S[0]
BLINK_AFTER_S = (0.3, 0.8)  # the oracle's "reaction": the clip blinks this long after the prompt
ORACLE_CLIP = kb.DATA / "videos/talking/liveportrait_driving_d12.mp4"


class LoopOracle:
    """Where the looping fake camera is in its clip, and the pause that lines a prompt up with
    the clip's next blink or speaking stretch (see the module docstring)."""

    def __init__(self, clip: Clip, track: Track) -> None:
        self.period = len(clip.frames) / 25.0  # the .y4m plays at 25 fps and loops
        self.times = clip.times
        self.thumbs = np.stack([self._thumb(f) for f in clip.frames])
        idx = track.series("index").astype(int)
        self.blinks = [b.start_s for b in detect_blinks(track.series("ear_open_eye"), track.times, idx)]
        self.peaks = mouth_cycles(track.series("mar"), track.times, idx).peak_times
        self.seen: tuple[float, float] | None = None  # (capture time, clip time) of the last frame
        self.pauses: list[float] = []

    @staticmethod
    def _thumb(image: np.ndarray) -> np.ndarray:
        g = cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (24, 24), interpolation=cv2.INTER_AREA)
        g = g.astype(np.float32)
        return (g - g.mean()) / (g.std() + 1e-6)

    def tracker(self, matcher: FaceMatcher) -> Tracker:
        oracle, inner = self, FaceTracker(matcher)

        class Watching:
            def step(self, image: np.ndarray, index: int, t: float) -> FrameMeasure:
                d = ((oracle.thumbs - oracle._thumb(image)) ** 2).mean(axis=(1, 2))
                oracle.seen = (t, float(oracle.times[int(np.argmin(d))]))
                return inner.step(image, index, t)

            def timings_ms(self) -> dict[str, float]:
                return inner.timings_ms()

        return Watching()

    def _unwrapped(self, events: list[float], upto: float) -> np.ndarray:
        loops = int(upto / self.period) + 2
        return np.array(sorted(e + k * self.period for k in range(loops) for e in events))

    def _works(self, challenge: Challenge, action: str, c: float, window: float) -> bool:
        if action == "blink":
            b = self._unwrapped(self.blinks, c + window)
            first = b[(b >= c + BLINK_AFTER_S[0]) & (b <= c + BLINK_AFTER_S[1])]
            inside = b[(b >= c + BLINK_AFTER_S[0]) & (b <= c + window)]
            return first.size > 0 and inside.size >= max(challenge.blinks, 1)
        if action == "digits":  # online.digits_read: n cycles after the reaction time, then still
            p = self._unwrapped(self.peaks, c + window)
            p = p[p >= c + SPEECH_REACTION_S + 0.05]
            n = len(challenge.digits)
            for k in range(n - 1, p.size - 1):
                if p[k + 1] - p[k] >= READING_SETTLE_S + 0.05:
                    return p[k] + READING_SETTLE_S <= c + window and p[0] <= c + 0.8
            return False
        return False

    def pause_s(self, challenge: Challenge, action: str, now_s: float) -> float:
        window = challenge.window(action)
        if self.seen is None or window is None:
            return 1.3
        t, clip_t = self.seen
        here = clip_t + (now_s - t)
        for c in np.arange(here + MIN_PAUSE_S, here + MIN_PAUSE_S + self.period, 0.04):
            if self._works(challenge, action, float(c), window.end_s - window.start_s):
                self.pauses.append(float(c - here))
                return float(c - here)
        return 1.3


class OneBlink(ChallengeFactory):
    """``ChallengeFactory.issue`` (blink and 4-6 digits in random order) with one blink."""

    def issue(self, **_kw: object) -> Challenge:
        return super().issue(blinks=1)


def live_runs(
    server, pw, camera: Path, frames, runs: int, tag: str, extra: tuple[str, ...] = ()
) -> list[dict]:  # type: ignore[no-untyped-def]
    """``runs`` certifications through the live flow; the page's timings and the outcome."""
    rows = []
    for i in range(runs):
        name = f"{tag}{i}"
        idn = kb.enrol(server, name, cv2.imencode(".jpg", frames[10 + i])[1].tobytes())
        browser = kb.launch(pw, camera, extra)
        page = browser.new_context(viewport={"width": 1080, "height": 1920}, locale="zh-CN").new_page()
        page.add_init_script("window.lifecertConfig = {live: true};")
        tally = {"taps": 0, "keys": 0}
        text = kb.run_flow(page, server, idn, name, f"timing-live-{tag}-{i}", tally=tally)
        row = page.evaluate("window.lifecertTimings") | tally
        # A review (the same face enrolled under several bench names: look-alike screening)
        # passed liveness and the match like a pass.
        row["outcome"] = "passed" if "认证成功" in text else "review" if "审核" in text else "failed"
        rows.append(row)
        browser.close()
    return rows


def live_main(args: argparse.Namespace, work: Path) -> dict:
    frames = read_video(kb.CLIP, with_audio=False).frames
    loop_camera = kb.to_y4m(frames, work / "loop.y4m")
    oracle_clip = read_video(ORACLE_CLIP)
    oracle_camera = kb.to_y4m(oracle_clip.frames, work / "oracle.y4m")
    sound = work / "oracle.wav"
    with wave.open(str(sound), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        assert oracle_clip.audio is not None
        w.writeframes((np.clip(oracle_clip.audio, -1, 1) * 32767).astype("<i2").tobytes())
    matcher = FaceMatcher()
    oracle = LoopOracle(oracle_clip, track_face(matcher, oracle_clip))
    out: dict = {}
    with kb.running_server(work, matcher) as server, kb.playwright_api.sync_playwright() as pw:
        service = server.app.state.service  # type: ignore[attr-defined]
        blink_rows = live_runs(server, pw, loop_camera, frames, args.runs, "直播眨眼")
        # The service's real challenge, with one blink: at the ~20 fps the page reaches on this
        # host the live tracker misses d12's shallow blink (3.7 s), and its other two are 3.8 s
        # apart, so two blinks in the 4 s window cannot be lined up (both such runs of a first
        # measurement ended "missed" twice; BENCHMARKS.md).
        service.challenges = OneBlink(ttl_s=120)
        service.live = LiveSetup(planner=oracle, tracker=oracle.tracker)
        real_rows = live_runs(
            server,
            pw,
            oracle_camera,
            oracle_clip.frames,
            args.runs,
            "直播全",
            (f"--use-file-for-fake-audio-capture={sound}",),
        )
    for label, rows in (("blink_only_loop_fitted", blink_rows), ("real_challenge_oracle_timed", real_rows)):
        keys = ["capture_ms", "request_ms", "analysis_ms", "total_ms", "video_bytes"]
        out[label] = {k: statistics.median(r[k] for r in rows) for k in keys}
        out[label]["outcomes"] = [r["outcome"] for r in rows]
        out[label]["fps_sent"] = statistics.median(r["frames"] / (r["capture_ms"] / 1000) for r in rows)
        out[label]["runs"] = len(rows)
        out[label]["taps_keys"] = {"taps": rows[0]["taps"], "keys": rows[0]["keys"]}
        out[label]["all"] = rows
    out["real_challenge_oracle_timed"]["oracle_pauses_s"] = [round(p, 2) for p in oracle.pauses]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default="reports/kiosk_timing.json")
    ap.add_argument("--live", action="store_true", help="the live, guided capture (issue 14)")
    args = ap.parse_args()
    if args.live:
        result = live_main(args, Path(tempfile.mkdtemp(prefix="lifecert-kiosk-live-")))
        print(
            json.dumps(
                {k: {kk: vv for kk, vv in v.items() if kk != "all"} for k, v in result.items()}, indent=2
            )
        )
        out = Path(args.out if args.out != "reports/kiosk_timing.json" else "reports/kiosk_timing_live.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
        return
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
