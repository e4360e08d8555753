"""Province layout on loopback (issue 13): two "hosts" of API worker processes behind nginx, on
one PostgreSQL (and, with ``--rate-store redis``, one Redis for the budgets), with many simulated
phones, and one worker killed with SIGKILL mid-run.

- PostgreSQL: a throwaway server (tests/postgres.py, Debian's binaries).
- Hosts: two `uvicorn --workers W` process groups on their own loopback ports, each worker
  building the app from the environment (LIFECERT_DATABASE_URL, rate limits in the database,
  clips judged in the worker itself: one process per core is the unit of scale here).
- nginx (Debian's) on a third port, round-robin over both hosts, as docs/DEPLOY.md describes.
- Phones: P threads, each enrolled with a frame of a real clip, doing lookup -> session ->
  upload of that clip. Recorded clips cannot follow random prompts, so the load app issues
  blink-only challenges whose window fits the clip (benchmarks/load_app.py); everything else
  is the service's own.
- Mid-run one worker process gets SIGKILL. Afterwards: every certification a phone was told of
  is recorded exactly once, none is duplicated, the audit chain is intact.

    python benchmarks/load_cluster.py ../shared/data --phones 200 --hosts 2 --workers 2 [--rate-store redis]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import date, timedelta
from pathlib import Path

import cv2
import httpx
import psutil
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.certification import audit  # noqa: E402
from api.certification.id_numbers import check_char  # noqa: E402
from api.certification.outcome import ReviewKind  # noqa: E402
from api.certification.storage.schema import Certification, Review  # noqa: E402
from liveness.video import read_video  # noqa: E402
from models import default_home  # noqa: E402
from tests import postgres, redis_server  # noqa: E402

CLIP = "d0"  # a real person who blinks within 3 s


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client_keys(env: dict[str, str], prefix: str, roles: tuple[str, ...]) -> dict[str, str]:
    """One API client per role, made by `lifecert clients add` in the benchmark's home."""
    lifecert = str(Path(sys.executable).with_name("lifecert"))
    return {
        role: subprocess.run(
            [lifecert, "clients", "add", f"{prefix}-{role}", "--role", role],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for role in roles
    }


def serve_load_app(port: int, env: dict[str, str], workers: int = 1) -> subprocess.Popen[bytes]:
    """`uvicorn` serving benchmarks/load_app.py on a loopback port with ``workers`` processes."""
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "benchmarks.load_app:app", "--factory"),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
            *("--log-level", "warning"),
        ],
        env=env,
        cwd=ROOT,
    )


def wait_up(url: str, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up")


def nginx_conf(root: Path, port: int, upstreams: list[int]) -> Path:
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=0;" for p in upstreams)
    conf = root / "nginx.conf"
    conf.write_text(
        f"""worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    upstream lifecert {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 41m;
        location / {{
            proxy_pass http://lifecert;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_read_timeout 600s;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""
    )
    return conf


def worker_pids(parent: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("data", type=Path)
    ap.add_argument("--phones", type=int, default=200)
    ap.add_argument("--hosts", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1, help="worker processes per host")
    ap.add_argument("--concurrency", type=int, default=16, help="phones uploading at once (bounded)")
    ap.add_argument("--out", type=Path, default=ROOT / "reports/load-cluster.json")
    ap.add_argument(
        "--rate-store",
        choices=("database", "redis"),
        default="database",
        help="where the budgets are counted (redis: a throwaway Debian redis-server)",
    )
    args = ap.parse_args()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        sys.exit("nginx not found: apt-get install nginx")
    reason = postgres.available()
    if reason:
        sys.exit(f"PostgreSQL needed: {reason}")
    if args.rate_store == "redis" and (reason := redis_server.available()):
        sys.exit(f"Redis needed for --rate-store redis: {reason}")
    root = Path(tempfile.mkdtemp(prefix="lifecert-cluster-"))
    (root / "home" / "models").parent.mkdir(parents=True)
    (root / "home" / "models").symlink_to(default_home() / "models")
    clip_path = args.data / f"videos/talking/liveportrait_driving_{CLIP}.mp4"
    clip = read_video(clip_path, with_audio=False)
    video = clip_path.read_bytes()
    with ExitStack() as servers:
        url = servers.enter_context(postgres.temporary_server())
        store = (
            servers.enter_context(redis_server.temporary_server()).url
            if args.rate_store == "redis"
            else "database"
        )
        env = {
            **os.environ,
            "LIFECERT_HOME": str(root / "home"),
            "LIFECERT_DATABASE_URL": url,
            "LIFECERT_RATE_LIMIT_STORE": store,
            "LIFECERT_RATE_PER_MINUTE": "100000",  # one app key carries every phone
            # Every phone is the same real person (one clip that blinks in its window): the
            # register screening still scores every reference, but cannot flag a look-alike.
            "LIFECERT_REGISTER_MATCH_THRESHOLD": "1.0",
            "LOAD_WINDOW_S": str(round(clip.duration_s - 0.2, 2)),
            "PYTHONPATH": str(ROOT),
        }
        keys = client_keys(env, "load", ("staff", "app"))
        host_ports = [free_port() for _ in range(args.hosts)]
        hosts = [serve_load_app(p, env, args.workers) for p in host_ports]
        front = free_port()
        root.chmod(0o755)  # nginx's workers run as an unprivileged user and buffer bodies here
        for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (root / d).mkdir(mode=0o777)
            (root / d).chmod(0o777)
        proxy = subprocess.Popen([nginx, "-c", str(nginx_conf(root, front, host_ports)), "-g", "daemon off;"])
        try:
            for p in host_ports:
                wait_up(f"http://127.0.0.1:{p}")
            base = f"http://127.0.0.1:{front}"
            wait_up(base)
            report = run_phones(base, keys, args, clip, video, hosts[0], [h.pid for h in hosts])
        finally:
            proxy.terminate()
            for h in hosts:
                h.terminate()
            for h in hosts:
                h.wait(timeout=60)
            proxy.wait(timeout=30)
        engine = create_engine(url)
        with Session(engine) as s:
            recorded = s.execute(select(func.count(Certification.id))).scalar_one()
            distinct = s.execute(select(func.count(func.distinct(Certification.attempt_id)))).scalar_one()
            # Enrolment opens its own reviews (every phone is enrolled with one frame: each
            # photo after the first is a duplicate_reference); those are not answers to phones.
            reviews = s.execute(
                select(func.count(Review.id)).where(Review.kind != str(ReviewKind.DUPLICATE_REFERENCE))
            ).scalar_one()
            intact = audit.verify_chain(s) is None
        engine.dispose()
    told_passed = report["outcomes"].get("passed", 0)
    told_review = report["outcomes"].get("review", 0)
    report.update(
        {
            "certifications_recorded": recorded,
            "duplicates": recorded - distinct,
            "lost": max(0, told_passed - recorded),
            "reviews_recorded": reviews,
            "told_review": told_review,
            "audit_chain_intact": intact,
            "hosts": args.hosts,
            "rate_store": args.rate_store,
            "workers_per_host": args.workers,
        }
    )
    print(json.dumps(report, indent=2, ensure_ascii=False))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False))


def run_phones(  # type: ignore[no-untyped-def]
    base: str,
    keys: dict[str, str],
    args: argparse.Namespace,
    clip,
    video: bytes,
    victim,
    victim_group: list[int],
) -> dict:
    staff = {"X-API-Key": keys["staff"]}
    start = (date.today() - timedelta(days=200)).isoformat()
    people = []
    frame = cv2.imencode(".jpg", clip.frames[5])[1].tobytes()
    with httpx.Client(base_url=base, timeout=120, headers=staff) as http:
        rows = []
        for i in range(args.phones):
            first17 = f"33010219600101{i:03d}" if i < 1000 else f"330102196002{i // 1000:02d}{i % 1000:03d}"
            idn = first17 + check_char(first17)
            people.append((idn, f"用户{i}"))
            rows.append(f"{idn},用户{i},retiree,{start}")
        text = "id_number,name,category,benefit_start\n" + "\n".join(rows) + "\n"
        assert (
            http.post("/v1/persons/import", files={"file": ("p.csv", text)}).json()["imported"] == args.phones
        )
        for idn, _name in people:
            pid = http.post("/v1/persons/search", json={"q": idn}).json()[0]["person_id"]
            r = http.post(f"/v1/persons/{pid}/id-photo", files={"photo": ("id.jpg", frame)})
            assert r.status_code == 200, r.text

    results: list[dict] = []
    lock = threading.Lock()
    killed: list[int] = []

    def phone(person: tuple[str, str]) -> None:
        idn, name = person
        t0 = time.perf_counter()
        outcome = "error"
        try:
            with httpx.Client(base_url=base, timeout=600, headers={"X-API-Key": keys["app"]}) as http:
                http.post("/v1/lookup", json={"id_number": idn, "name": name}).raise_for_status()
                r = http.post(
                    "/v1/sessions", json={"id_number": idn, "name": name, "channel": "phone", "consent": True}
                )
                r.raise_for_status()
                sid = r.json()["session_id"]
                for _attempt in range(3):  # a 503 (busy, or a worker gone) is retried, as the app does
                    res = http.post(
                        f"/v1/sessions/{sid}/response", files={"video": ("c.mp4", video, "video/mp4")}
                    )
                    if res.status_code != 503:
                        break
                    time.sleep(float(res.headers.get("Retry-After", "5")))
                outcome = (
                    res.json().get("outcome", f"http {res.status_code}")
                    if res.status_code == 200
                    else f"http {res.status_code}"
                )
        except httpx.HTTPError as exc:
            outcome = f"transport {exc.__class__.__name__}"
        with lock:
            results.append({"outcome": outcome, "seconds": time.perf_counter() - t0})
            if len(results) == args.phones // 3 and not killed:
                pids = worker_pids(victim.pid)
                if pids:
                    os.kill(pids[0], signal.SIGKILL)
                    killed.append(pids[0])

    cpu0 = _cpu_seconds(victim_group)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        list(pool.map(phone, people))
    wall = time.perf_counter() - t0
    cpu = _cpu_seconds(victim_group) - cpu0
    lat = sorted(r["seconds"] for r in results)
    outcomes: dict[str, int] = {}
    for r in results:
        outcomes[r["outcome"]] = outcomes.get(r["outcome"], 0) + 1
    done = outcomes.get("passed", 0) + outcomes.get("review", 0) + outcomes.get("failed", 0)
    return {
        "phones": args.phones,
        "concurrency": args.concurrency,
        "outcomes": outcomes,
        "killed_worker_pid": killed[0] if killed else None,
        "wall_s": round(wall, 1),
        "certifications_per_s": round(done / wall, 3),
        "latency_p50_s": round(statistics.median(lat), 2),
        "latency_p95_s": round(statistics.quantiles(lat, n=20)[-1], 2),
        "machine_cpu_s_per_certification": round(cpu / max(done, 1), 3),
    }


def _cpu_seconds(roots: list[int]) -> float:
    """CPU time (user + system) of the API processes: each host and its workers. Not the
    machine's: other jobs share this host. The killed worker's seconds are lost with it."""
    total = 0.0
    for pid in roots:
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                t = proc.cpu_times()
                total += t.user + t.system
        except psutil.NoSuchProcess:
            continue
    return total


if __name__ == "__main__":
    main()
