"""How many live, guided captures one API process carries at once (issue 14: the capacity the
kiosk's live default needs).

A live capture holds its place for its whole length: the service measures every frame as it
arrives (``FaceTracker.step`` in a thread), so what limits a host is CPU per streamed second,
not uploads. This benchmark starts the real service (``uvicorn benchmarks.load_app:app``, one
process, SQLite, the rate limits lifted for one key), enrols one person per simulated kiosk and
runs L kiosks at once for each level L: each opens a live session, streams a real clip as JPEG
frames at 25 frames/s on the service's WebSocket the way the page does (at most 10 frames
awaiting their ``measured`` answer; a frame whose turn comes while 10 are waiting is skipped,
as the page skips it), and answers nothing else: the service prompts, confirms and judges.

Recorded footage cannot follow prompts, so the challenge is blink-only with a 4 s window
(benchmarks/load_app.py) and the clip is the looping d0 (a real person who blinks every
3.1 s): whenever the service prompts, a blink falls inside the window, as in the kiosk
benchmark's loop-fitted row. The prompt timing, tracking, judgement, matching and recording
are the service's own.

Reported per level: captures answered (verdicts by outcome, refusals by problem code), the
frame rate the service measured per capture (frames measured over the time from the first
frame to ``judging``; the checks need about 20/s), frames the client had to skip, the last
confirmation to verdict time, and the service's CPU seconds per captured second.

    python benchmarks/load_live.py ../shared/data --levels 1 2 3 4 6 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import struct
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

import cv2
import httpx
import numpy as np
import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.certification.id_numbers import check_char  # noqa: E402
from benchmarks.load_cluster import _cpu_seconds, client_keys, free_port, serve_load_app, wait_up  # noqa: E402
from liveness.video import read_video  # noqa: E402
from models import default_home  # noqa: E402

CLIP = "d0"
FPS = 25.0  # the page's liveFps
IN_FLIGHT = 10  # the page's liveInFlight
WINDOW_S = 4.0  # longer than d0's blink period (3.1 s), so any prompt moment works
MIN_FPS = 20.0  # below this the blink and mouth checks lose their footing (BENCHMARKS.md)


@dataclass
class Stream:
    """The client's side of one socket: answers counted, moments seen."""

    acked: int = 0
    first: float | None = None
    last_ok: float | None = None
    judging: float | None = None
    done: bool = False


@dataclass
class Capture:
    """What one simulated kiosk saw of one live capture."""

    level: int
    outcome: str = "error"
    sent: int = 0
    skipped: int = 0  # ticks whose frame the page would hold back (10 awaiting an answer)
    late_ticks: int = 0  # ticks this client itself missed (its own host busy)
    measured: int = 0
    prompts: int = 0
    missed: int = 0
    streamed_s: float = 0.0  # first frame -> judging
    ok_to_verdict_s: float | None = None
    judging_to_verdict_s: float | None = None
    events: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def measured_fps(self) -> float:
        return self.measured / self.streamed_s if self.streamed_s else 0.0


async def one_capture(
    base: str, key: str, person: tuple[str, str], frames: list[bytes], level: int
) -> Capture:
    idn, name = person
    out = Capture(level)
    async with httpx.AsyncClient(base_url=base, timeout=60, headers={"X-API-Key": key}) as http:
        r = await http.post(
            "/v1/sessions",
            json={"id_number": idn, "name": name, "channel": "kiosk", "consent": True, "capture": "live"},
        )
        if r.status_code != 200:
            out.outcome = f"session http {r.status_code}"
            return out
        live_path = r.json()["live_path"]
    ws_url = base.replace("http://", "ws://") + live_path
    async with websockets.connect(ws_url, max_size=2**22) as ws:
        await ws.send(json.dumps({"type": "hello", "key": key}))
        state = Stream()

        async def sender() -> None:
            await ready.wait()
            # A camera, as the page's setInterval samples it: each tick sends the frame of that
            # moment; a tick that comes late is late (no burst of catch-up frames), and the
            # clip frame a late tick skipped is never sent, as a camera's would not be.
            start = time.perf_counter()
            last = -1
            while not state.done and state.judging is None:
                now = time.perf_counter()
                tick = int((now - start) * FPS)
                if tick > last + 1:
                    out.late_ticks += tick - last - 1
                last = tick
                if out.sent - state.acked >= IN_FLIGHT:
                    out.skipped += 1
                else:
                    if state.first is None:
                        state.first = now
                    ms = round((now - state.first) * 1000)
                    await ws.send(struct.pack("<BI", 1, ms) + frames[tick % len(frames)])
                    out.sent += 1
                await asyncio.sleep(max(0.0, start + (tick + 1) / FPS - time.perf_counter()))

        ready = asyncio.Event()
        task = asyncio.create_task(sender())
        try:
            async for raw in ws:
                e = json.loads(raw)
                kind = e.get("type")
                now = time.perf_counter()
                if kind == "ready":
                    ready.set()
                elif kind == "measured":
                    state.acked += 1
                elif kind == "prompt":
                    out.prompts += 1
                elif kind == "ok":
                    state.last_ok = now
                elif kind == "missed":
                    out.missed += 1
                elif kind == "judging":
                    state.judging = now
                    out.measured = state.acked
                    out.streamed_s = now - (state.first or now)
                elif kind == "verdict":
                    out.outcome = str(e.get("outcome"))
                    out.reasons = [str(r.get("code")) for r in e.get("reasons", [])]
                    out.judging_to_verdict_s = now - (state.judging or now)
                    if state.last_ok is not None:
                        out.ok_to_verdict_s = now - state.last_ok
                    break
                elif kind == "error":
                    out.outcome = "refused " + str(e.get("problem", {}).get("code", "?"))
                    break
                if kind not in ("measured",):
                    out.events.append(kind)
        except websockets.ConnectionClosed:
            out.outcome = out.outcome if out.outcome != "error" else "closed"
        finally:
            state.done = True
            task.cancel()
    if not out.measured:
        out.measured = state.acked
    return out


async def run_level(
    base: str, key: str, people: list[tuple[str, str]], frames: list[bytes], level: int, rounds: int
) -> list[Capture]:
    async def kiosk(person: tuple[str, str]) -> list[Capture]:
        return [await one_capture(base, key, person, frames, level) for _ in range(rounds)]

    done = await asyncio.gather(*(kiosk(p) for p in people[:level]))
    return [c for per in done for c in per]


def summarise(level: int, captures: list[Capture], cpu_s: float, wall_s: float) -> dict:
    outcomes: dict[str, int] = {}
    for c in captures:
        outcomes[c.outcome] = outcomes.get(c.outcome, 0) + 1
    streamed = [c for c in captures if c.streamed_s > 0]
    fps = sorted(c.measured_fps for c in streamed)
    verdict = sorted(c.ok_to_verdict_s for c in captures if c.ok_to_verdict_s is not None)
    return {
        "level": level,
        "captures": len(captures),
        "outcomes": outcomes,
        "measured_fps_min": round(fps[0], 1) if fps else None,
        "measured_fps_median": round(statistics.median(fps), 1) if fps else None,
        "below_min_fps": sum(1 for f in fps if f < MIN_FPS),
        "skipped_share": round(
            sum(c.skipped for c in captures) / max(1, sum(c.sent + c.skipped for c in captures)), 3
        ),
        "missed_prompts": sum(c.missed for c in captures),
        "client_late_ticks": sum(c.late_ticks for c in captures),
        "ok_to_verdict_median_s": round(statistics.median(verdict), 2) if verdict else None,
        "ok_to_verdict_max_s": round(verdict[-1], 2) if verdict else None,
        "streamed_s_total": round(sum(c.streamed_s for c in streamed), 1),
        "cpu_s": round(cpu_s, 1),
        "cpu_s_per_streamed_s": round(cpu_s / max(1e-9, sum(c.streamed_s for c in streamed)), 3),
        "wall_s": round(wall_s, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("--levels", type=int, nargs="+", default=[1, 2, 3, 4, 6])
    ap.add_argument("--rounds", type=int, default=2, help="captures per kiosk at each level")
    ap.add_argument("--live-captures", type=int, default=None, help="LIFECERT_LIVE_CAPTURES for the server")
    ap.add_argument("--out", type=Path, default=ROOT / "reports/load-live.json")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lifecert-live-"))
    (root / "home").mkdir()
    (root / "home" / "models").symlink_to(default_home() / "models")
    clip = read_video(args.data / f"videos/talking/liveportrait_driving_{CLIP}.mp4", with_audio=False)
    frames = [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes() for f in clip.frames]
    env = {
        **os.environ,
        "LIFECERT_HOME": str(root / "home"),
        "LIFECERT_RATE_PER_MINUTE": "100000",  # one kiosk key carries every simulated kiosk
        "LIFECERT_REGISTER_MATCH_THRESHOLD": "1.0",  # every kiosk is the same real person
        "LOAD_WINDOW_S": str(WINDOW_S),
        "PYTHONPATH": str(ROOT),
    }
    if args.live_captures is not None:
        env["LIFECERT_LIVE_CAPTURES"] = str(args.live_captures)
    keys = client_keys(env, "live", ("staff", "kiosk"))
    port = free_port()
    server = serve_load_app(port, env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(base)
        people = enrol(base, keys["staff"], max(args.levels), clip.frames[5])
        levels = []
        for level in args.levels:
            cpu0, t0 = _cpu_seconds([server.pid]), time.perf_counter()
            with HealthPoll(base) as health:
                captures = asyncio.run(run_level(base, keys["kiosk"], people, frames, level, args.rounds))
            summary = summarise(level, captures, _cpu_seconds([server.pid]) - cpu0, time.perf_counter() - t0)
            summary |= health.summary()
            print(json.dumps(summary, ensure_ascii=False), flush=True)
            levels.append(
                {
                    **summary,
                    "runs": [asdict(c) | {"measured_fps": round(c.measured_fps, 1)} for c in captures],
                }
            )
    finally:
        server.terminate()
        server.wait(timeout=60)
    report = {
        "clip": CLIP,
        "fps": FPS,
        "window_s": WINDOW_S,
        "live_captures": args.live_captures,
        "cpu_count": os.cpu_count(),
        "levels": levels,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False))


class HealthPoll:
    """/healthz every 100 ms while a level runs: does the event loop stay responsive while the
    live captures are measured in its process (the kiosks poll it every 2 s)?"""

    def __init__(self, base: str) -> None:
        self.base, self.stop = base, threading.Event()
        self.ms: list[float] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HealthPoll:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as http:
            while not self.stop.wait(0.1):
                t = time.perf_counter()
                http.get("/healthz").raise_for_status()
                self.ms.append((time.perf_counter() - t) * 1000)

    def summary(self) -> dict[str, float | None]:
        ms = sorted(self.ms)
        p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))] if ms else None
        return {
            "healthz_p50_ms": round(statistics.median(ms), 1) if ms else None,
            "healthz_p99_ms": round(p99, 1) if p99 is not None else None,
        }


def enrol(base: str, staff_key: str, n: int, photo_frame: np.ndarray) -> list[tuple[str, str]]:
    start = (date.today() - timedelta(days=200)).isoformat()
    people = []
    photo = cv2.imencode(".jpg", photo_frame)[1].tobytes()
    with httpx.Client(base_url=base, timeout=120, headers={"X-API-Key": staff_key}) as http:
        rows = []
        for i in range(n):
            first17 = f"33010219600101{i:03d}"
            idn = first17 + check_char(first17)
            people.append((idn, f"用户{i}"))
            rows.append(f"{idn},用户{i},retiree,{start}")
        text = "id_number,name,category,benefit_start\n" + "\n".join(rows) + "\n"
        assert http.post("/v1/persons/import", files={"file": ("p.csv", text)}).json()["imported"] == n
        for idn, _name in people:
            pid = http.post("/v1/persons/search", json={"q": idn}).json()[0]["person_id"]
            r = http.post(f"/v1/persons/{pid}/id-photo", files={"photo": ("id.jpg", photo)})
            assert r.status_code == 200, r.text
    return people


if __name__ == "__main__":
    main()
