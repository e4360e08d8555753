"""Load run on loopback: N simulated phones completing full certifications over HTTP.

Starts the real service (uvicorn, 127.0.0.1) on SQLite and on a throwaway PostgreSQL
server, enrols one person per phone with a frame of a real clip, then each phone does
lookup -> session -> upload of that clip, R rounds, all phones at once. Reports
throughput, p50/p95 latency, and checks that every passed check produced exactly one
certification (no loss, no duplicate).

Load mode: the recorded clips cannot follow random prompts, so the server issues
blink-only challenges whose window fits each clip; nonce, expiry, consent, liveness,
matching, rules and storage are the real ones.

CPU per certification is this process's CPU time (the server's threads, the models' and the
phones' HTTP clients, which are a small share) over the run, divided by the certifications.
``--clips`` picks the talking clips (one per phone); the kiosk's real challenge records
11-13 s, which ``--clips d3 d13 d10 d11`` (11.8, 11.7, 14.9 and 9.0 s) stands in for.

    python benchmarks/load.py ../shared/data --phones 4 --rounds 3
    python benchmarks/load.py ../shared/data --phones 4 --rounds 3 --clips d3 d13 d10 d11
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import cv2
import httpx
import uvicorn
from sqlalchemy import func, select

from api.certification.id_numbers import check_char
from api.certification.settings import load_settings
from api.certification.storage.schema import Certification
from api.demo import ensure_client
from api.http.app import create_app
from liveness.challenge import FixedWindowChallenges
from liveness.video import read_video
from matcher import FaceMatcher

CLIPS = ("d0", "d18", "d12", "d11", "d3")  # different people, each blinks (hand labels / detector)


def run_backend(
    name: str, url: str, data: Path, phones: int, rounds: int, matcher: FaceMatcher, clips: list[str]
) -> dict:
    home = Path(tempfile.mkdtemp(prefix=f"lifecert-load-{name}-"))
    os.environ["LIFECERT_HOME"] = str(home)
    url = url or f"sqlite:///{home / 'load.db'}"
    settings = replace(load_settings(database_url=url), rate_per_minute=100_000)
    app = create_app(settings, matcher)
    service = app.state.service
    windows = FixedWindowChallenges()
    service.challenges = windows
    keys = {r: ensure_client(service, f"load-{r}", r) for r in ("staff", "app")}
    port = 8300 + secrets.randbelow(500)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    staff = {"X-API-Key": keys["staff"]}
    people = []
    with httpx.Client(base_url=base, timeout=120) as http:
        for i, clip_name in enumerate(clips[:phones]):
            path = data / f"videos/talking/liveportrait_driving_{clip_name}.mp4"
            clip = read_video(path, with_audio=False)
            first17 = f"11010119600101{i:03d}"
            idn = first17 + check_char(first17)
            start = (date.today() - timedelta(days=200)).isoformat()
            csv_text = f"id_number,name,category,benefit_start\n{idn},用户{i},retiree,{start}\n"
            http.post(
                "/v1/persons/import", headers=staff, files={"file": ("p.csv", csv_text)}
            ).raise_for_status()
            pid = http.post("/v1/persons/search", headers=staff, json={"q": idn}).json()[0]["person_id"]
            frame = cv2.imencode(".jpg", clip.frames[5])[1].tobytes()
            http.post(
                f"/v1/persons/{pid}/id-photo", headers=staff, files={"photo": ("id.jpg", frame)}
            ).raise_for_status()
            people.append((idn, f"用户{i}", path.read_bytes(), clip.duration_s - 0.2))

    lock = threading.Lock()

    def phone(person: tuple[str, str, bytes, float]) -> list[dict]:
        idn, pname, video, window = person
        out = []
        with httpx.Client(base_url=base, timeout=300, headers={"X-API-Key": keys["app"]}) as http:
            for _ in range(rounds):
                t0 = time.perf_counter()
                http.post("/v1/lookup", json={"id_number": idn, "name": pname}).raise_for_status()
                with lock:  # the fitted window belongs to this phone's clip
                    windows.window_s = window
                    r = http.post(
                        "/v1/sessions",
                        json={"id_number": idn, "name": pname, "channel": "phone", "consent": True},
                    )
                r.raise_for_status()
                sid = r.json()["session_id"]
                res = http.post(
                    f"/v1/sessions/{sid}/response", files={"video": ("c.mp4", video, "video/mp4")}
                )
                res.raise_for_status()
                out.append({"outcome": res.json()["outcome"], "seconds": time.perf_counter() - t0})
        return out

    t0, c0 = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(phones) as pool:
        results = [r for batch in pool.map(phone, people) for r in batch]
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    with service.db.transaction() as s:
        certs = s.execute(select(func.count(Certification.id))).scalar_one()
        distinct = s.execute(select(func.count(func.distinct(Certification.attempt_id)))).scalar_one()
    server.should_exit = True
    thread.join(timeout=10)
    app.state.db.engine.dispose()
    passed = sum(r["outcome"] == "passed" for r in results)
    lat = sorted(r["seconds"] for r in results)
    return {
        "backend": name,
        "phones": phones,
        "certifications_attempted": len(results),
        "passed": passed,
        "outcomes": {o: sum(r["outcome"] == o for r in results) for o in {r["outcome"] for r in results}},
        "certifications_recorded": certs,
        "distinct_attempts_certified": distinct,
        "exactly_once": certs == passed == distinct,
        "wall_s": round(wall, 2),
        "clip_s_mean": round(statistics.mean(p[3] + 0.2 for p in people), 2),
        "cpu_s_per_certification": round(cpu / max(len(results), 1), 3),
        "throughput_per_s": round(len(results) / wall, 3),
        "throughput_per_min": round(60 * len(results) / wall, 1),
        "latency_p50_s": round(statistics.median(lat), 2),
        "latency_p95_s": round(statistics.quantiles(lat, n=20)[-1] if len(lat) > 1 else lat[0], 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", type=Path)
    ap.add_argument("--phones", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clips", nargs="+", default=list(CLIPS), help="talking clips dN, one per phone")
    ap.add_argument("--out", default="reports/load.json")
    args = ap.parse_args()
    if len(args.clips) < args.phones:
        ap.error(f"--clips names {len(args.clips)} clips for {args.phones} phones")
    matcher = FaceMatcher()
    rows = [run_backend("sqlite", "", args.data, args.phones, args.rounds, matcher, args.clips)]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' PostgreSQL helper
    from tests import postgres

    reason = postgres.available()
    if reason is None:
        with postgres.temporary_server() as url:
            rows.append(
                run_backend("postgresql", url, args.data, args.phones, args.rounds, matcher, args.clips)
            )
    else:
        print(f"PostgreSQL skipped: {reason}")
    for r in rows:
        print(json.dumps(r, ensure_ascii=False))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
