"""Faults and abuse against the real server (issue 11), on SQLite and PostgreSQL, loopback only.

Starts the service with uvicorn on 127.0.0.1, then tries each item of the issue the way a
careless client, a hostile one or a failing disk would, and counts the answers: a clear 4xx
or 503 (what should happen), a 5xx, a request that hung past its deadline, and data lost
(a certification the client was told of but not recorded, a broken audit chain, rows
silently dropped). Then the latency of /healthz and /v1/lookup while two clips are judged
and a 100,000-row import runs. Every request loop is bounded; nothing leaves the machine.

    python benchmarks/faults.py ../shared/data [--rows 100000]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

import cv2
import httpx
import numpy as np
import uvicorn
from sqlalchemy import event, func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.certification import audit  # noqa: E402
from api.certification.id_numbers import check_char  # noqa: E402
from api.certification.settings import load_settings  # noqa: E402
from api.certification.storage.schema import AuditEntry, Certification  # noqa: E402
from api.demo import ensure_client  # noqa: E402
from api.http.app import create_app  # noqa: E402
from liveness.challenge import FixedWindowChallenges  # noqa: E402
from liveness.video import AUDIO_RATE, read_video, write_mp4  # noqa: E402
from matcher import FaceMatcher  # noqa: E402
from models import default_home  # noqa: E402
from tests import postgres  # noqa: E402

DEADLINE_S = 60.0


@dataclass
class Tally:
    tried: int = 0
    clear: int = 0  # the expected answer: a 2xx where the request is fine, else a clear 4xx or 503
    server_error: int = 0
    hung: int = 0
    lost: int = 0
    notes: list[str] = field(default_factory=list)


def id_number(i: int) -> str:
    """A distinct valid ID number for each i below 4 million."""
    region, rest = divmod(i, 336_000)
    month, day, serial = rest // 28_000 + 1, (rest // 1000) % 28 + 1, rest % 1000
    first17 = f"{320102 + region:06d}1950{month:02d}{day:02d}{serial:03d}"
    return first17 + check_char(first17)


class Run:
    def __init__(self, name: str, url: str | None, data: Path, matcher: FaceMatcher, rows: int) -> None:
        self.name, self.data, self.rows = name, data, rows
        self.home = Path(tempfile.mkdtemp(prefix=f"lifecert-faults-{name}-"))
        (self.home / "models").symlink_to(default_home() / "models")  # the worker processes load them
        os.environ["LIFECERT_HOME"] = str(self.home)
        settings = load_settings(database_url=url or f"sqlite:///{self.home / 'faults.db'}")
        # As `lifecert serve` runs: clips and imports in worker processes.
        self.app = create_app(replace(settings, rate_per_minute=100_000, worker_processes=True), matcher)
        self.service = self.app.state.service
        self.service.challenges = FixedWindowChallenges(window_s=3.0)
        self.keys = {
            r: ensure_client(self.service, f"faults-{r}", r) for r in ("kiosk", "app", "staff", "admin")
        }
        self.keys["staff2"] = ensure_client(self.service, "faults-staff2", "staff")
        port = 8900 + secrets.randbelow(400)
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        self.base = f"http://127.0.0.1:{port}"
        self.results: dict[str, Tally] = {}
        self.serial = 0

    def h(self, role: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[role] or ""}

    def request(
        self, tally: Tally, method: str, path: str, ok: Callable[[httpx.Response], bool], **kw
    ) -> httpx.Response | None:
        tally.tried += 1
        try:
            with httpx.Client(base_url=self.base, timeout=DEADLINE_S) as http:
                r = http.request(method, path, **kw)
        except httpx.TimeoutException:
            tally.hung += 1
            return None
        if r.status_code >= 500 and r.status_code != 503:
            tally.server_error += 1
        elif ok(r):
            tally.clear += 1
        else:
            tally.notes.append(f"{method} {path}: {r.status_code} {r.text[:120]}")
        return r

    def person(self, photo: bytes, name: str = "测试", start: str | None = None) -> tuple[str, int]:
        self.serial += 1
        idn = id_number(self.serial + secrets.randbelow(10**6) * 7)
        begun = start or (date.today() - timedelta(days=200)).isoformat()
        csv_text = f"id_number,name,category,benefit_start\n{idn},{name},retiree,{begun}\n"
        with httpx.Client(base_url=self.base, timeout=60, headers=self.h("staff")) as http:
            assert (
                http.post("/v1/persons/import", files={"file": ("p.csv", csv_text)}).json()["imported"] == 1
            )
            pid = http.post("/v1/persons/search", json={"q": idn}).json()[0]["person_id"]
            http.post(f"/v1/persons/{pid}/id-photo", files={"photo": ("id.jpg", photo)}).raise_for_status()
        return idn, pid

    def item(self, name: str, fn: Callable[[Tally], None]) -> None:
        tally = Tally()
        try:
            fn(tally)
        except Exception as exc:  # a broken item is reported, not hidden
            tally.notes.append(f"item failed: {exc!r}")
        self.results[name] = tally
        print(f"  {self.name}: {name}: {tally.clear}/{tally.tried} clear {tally.notes}", file=sys.stderr)

    # ---- the items -------------------------------------------------------------------------
    def concurrent_audit(self, t: Tally) -> None:
        body = {"id_number": id_number(999_999), "name": "无此人"}

        def one(_: int) -> None:
            self.request(
                t, "POST", "/v1/lookup", lambda r: r.status_code == 404, json=body, headers=self.h("kiosk")
            )

        with ThreadPoolExecutor(30) as pool:
            list(pool.map(one, range(30)))
        with self.service.db.transaction() as s:
            if audit.verify_chain(s) is not None:
                t.lost += 1
                t.notes.append("audit chain broken")

    def audio_bomb(self, t: Tally) -> None:
        clip = read_video(self.data / "videos/talking/liveportrait_driving_d0.mp4", with_audio=False)
        path = self.home / "bomb.mp4"
        write_mp4(
            path, clip.frames[: int(3 * clip.fps)], clip.fps, audio=np.zeros(1800 * AUDIO_RATE, np.float32)
        )
        idn, _ = self.person(cv2.imencode(".jpg", clip.frames[5])[1].tobytes(), "炸弹")
        sid = self._session(idn, "炸弹")
        t0 = time.perf_counter()
        self.request(
            t,
            "POST",
            f"/v1/sessions/{sid}/response",
            lambda r: r.status_code == 200,
            files={"video": ("bomb.mp4", path.read_bytes(), "video/mp4")},
            headers=self.h("kiosk"),
        )
        t.notes.append(f"30 min of audio behind 3 s: answered in {time.perf_counter() - t0:.1f} s")

    def impossible_dates(self, t: Tally) -> None:
        text = f"id_number,name,category,benefit_start\n{id_number(777_001)},远,retiree,9999-12-31\n"
        self.request(
            t,
            "POST",
            "/v1/persons/import",
            lambda r: r.status_code == 200 and r.json()["imported"] == 0 and bool(r.json()["errors"]),
            files={"file": ("p.csv", text)},
            headers=self.h("staff"),
        )
        for which in ("due-soon", "overdue"):
            self.request(
                t, "GET", f"/v1/lists/{which}", lambda r: r.status_code == 200, headers=self.h("staff")
            )

    def four_eyes(self, t: Tally) -> None:
        _, pid = self.person(self._photo("img24.jpg"), "卫")
        for fake in (
            b"%PDF-1.4 scanned form",
            b"\xff\xd8\xff" + b"x" * 5000,
            b"\x89PNG\r\n\x1a\n" + b"0" * 5000,
        ):
            self.request(
                t,
                "POST",
                f"/v1/persons/{pid}/remote-form",
                lambda r: r.status_code == 415,
                files={"scan": ("f", fake)},
                headers=self.h("staff"),
            )
        scan = cv2.imencode(".png", (np.random.default_rng(1).random((900, 640)) * 255).astype(np.uint8))[1]
        r = self.request(
            t,
            "POST",
            f"/v1/persons/{pid}/remote-form",
            lambda r: r.status_code == 200,
            files={"scan": ("f.png", scan.tobytes())},
            headers=self.h("staff"),
        )
        review = r.json()["review_id"] if r is not None and r.status_code == 200 else 0
        decision = {"approve": True}
        path = f"/v1/reviews/{review}/decision"
        self.request(t, "POST", path, lambda r: r.status_code == 403, json=decision, headers=self.h("staff"))
        self.request(
            t, "GET", f"/v1/reviews/{review}/scan", lambda r: r.status_code == 200, headers=self.h("staff2")
        )
        self.request(t, "POST", path, lambda r: r.status_code == 200, json=decision, headers=self.h("staff2"))

    def bodies_at_the_edge(self, t: Tally) -> None:
        def unauthenticated_giant(_: int) -> None:
            self.request(
                t,
                "POST",
                "/v1/sessions/x/response",
                lambda r: r.status_code == 401,
                content=b"\0" * (200 * 1024 * 1024),
                headers={"content-type": "application/octet-stream"},
            )

        with ThreadPoolExecutor(3) as pool:
            list(pool.map(unauthenticated_giant, range(3)))
        spooled = sum(p.stat().st_size for p in Path(tempfile.gettempdir()).glob("tmp*") if p.is_file())
        t.notes.append(f"temporary files after 3 x 200 MB without a key: {spooled / 1e6:.1f} MB")
        t.tried += 1  # a body that announces 1 MB and sends 7 bytes
        import socket

        port = int(self.base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S) as sock:
            key = self.keys["kiosk"] or ""
            sock.sendall(
                f"POST /v1/lookup HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\n"
                "Content-Type: application/json\r\n"
                'Content-Length: 60000\r\n\r\n{"id_nu'.encode()
            )
            t0 = time.perf_counter()
            answer = sock.recv(200).decode("latin-1")
            waited = time.perf_counter() - t0
        if " 408 " in answer.split("\r\n")[0]:
            t.clear += 1
        t.notes.append(f"stalled body answered {answer.split(chr(13))[0]!r} after {waited:.1f} s")

    def csv_imports(self, t: Tally) -> None:
        staff = self.h("staff")
        big = "id_number,name,category,benefit_start\n" + "".join(
            f"{id_number(i)},批量,retiree,2020-01-01\n" for i in range(1, 1_000_001)
        )
        self.request(
            t,
            "POST",
            "/v1/persons/import",
            lambda r: r.status_code == 413,
            files={"file": ("p.csv", big)},
            headers=staff,
        )
        long_field = (
            f'id_number,name,category,benefit_start\n{id_number(5)},"{"长" * 140_000}",retiree,2020-01-01\n'
        )
        self.request(
            t,
            "POST",
            "/v1/persons/import",
            lambda r: r.status_code == 422,
            files={"file": ("p.csv", long_field)},
            headers=staff,
        )
        idn = id_number(424_242)
        gbk = f"id_number,name,category,benefit_start\n{idn},欧阳修,retiree,2020-01-01\n".encode("gbk")
        self.request(
            t,
            "POST",
            "/v1/persons/import",
            lambda r: r.json()["imported"] == 1,
            files={"file": ("p.csv", gbk)},
            headers=staff,
        )
        self.request(
            t,
            "POST",
            "/v1/persons/search",
            lambda r: [p["name"] for p in r.json()] == ["欧阳修"],
            json={"q": idn},
            headers=staff,
        )
        wide = idn.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
        dup = f"id_number,name,category,benefit_start\n{wide},欧阳修,retiree,2020-01-01\n"
        self.request(
            t,
            "POST",
            "/v1/persons/import",
            lambda r: r.json()["imported"] == 0,
            files={"file": ("p.csv", dup)},
            headers=staff,
        )
        bad = f"id_number,name,category,benefit_start\n{idn[:17]}{'1' if idn[17] != '1' else '2'},错号,retiree,2020-01-01\n"  # noqa: E501
        self.request(
            t,
            "POST",
            "/v1/persons/import",
            lambda r: r.json()["imported"] == 0,
            files={"file": ("p.csv", bad)},
            headers=staff,
        )
        nul = f"id_number,name,category,benefit_start\n{id_number(424_243)},空\x00字,retiree,2020-01-01\n"
        self.request(
            t,
            "POST",
            "/v1/persons/import",
            lambda r: r.json()["imported"] == 0,
            files={"file": ("p.csv", nul)},
            headers=staff,
        )

    def csv_injection(self, t: Tally) -> None:
        rows = "".join(
            f'{id_number(600_000 + i)},"{name}",retiree,2015-01-01\n'
            for i, name in enumerate(("=cmd|' /C calc'!A0", "@SUM(1+1)", '+HYPERLINK(""http://x"")', "-2+3"))
        )
        self.request(
            t,
            "POST",
            "/v1/persons/import",
            lambda r: r.json()["imported"] == 4,
            files={"file": ("p.csv", "id_number,name,category,benefit_start\n" + rows)},
            headers=self.h("staff"),
        )
        self.request(
            t,
            "GET",
            "/v1/lists/overdue?format=csv",
            lambda r: (
                not any(c[:1] in ("=", "+", "-", "@") for row in csv.reader(io.StringIO(r.text)) for c in row)
            ),
            headers=self.h("staff"),
        )

    def uniform_errors(self, t: Tally) -> None:
        problem = lambda r: r.headers.get("content-type", "").startswith("application/problem+json")  # noqa: E731
        kiosk = self.h("kiosk")
        self.request(
            t,
            "POST",
            "/v1/lookup",
            problem,
            content=b"{",
            headers={**kiosk, "content-type": "application/json"},
        )
        self.request(
            t,
            "POST",
            "/v1/sessions/x/response",
            problem,
            content=b"--x\r\nbroken",
            headers={**kiosk, "content-type": "multipart/form-data; boundary=x"},
        )
        self.request(t, "GET", "/v1/nothing", problem, headers=kiosk)
        self.request(t, "DELETE", "/v1/lookup", problem, headers=kiosk)

    def disk_full(self, t: Tally) -> None:
        """The storage refuses every write (SQLite: a page limit at the current size; PostgreSQL:
        the database read-only); a lookup and a certification must answer 503 and lose nothing."""
        clip = (self.data / "videos/talking/liveportrait_driving_d0.mp4").read_bytes()
        frame = read_video(self.data / "videos/talking/liveportrait_driving_d0.mp4", with_audio=False).frames[
            5
        ]
        idn, pid = self.person(cv2.imencode(".jpg", frame)[1].tobytes(), "满盘")
        sid = self._session(idn, "满盘")
        engine = self.service.db.engine
        undo = self._refuse_writes(engine)
        try:
            self.request(
                t,
                "POST",
                "/v1/lookup",
                lambda r: r.status_code == 503,
                json={"id_number": idn, "name": "满盘"},
                headers=self.h("kiosk"),
            )
            self.request(
                t,
                "POST",
                f"/v1/sessions/{sid}/response",
                lambda r: r.status_code == 503,
                files={"video": ("c.mp4", clip, "video/mp4")},
                headers=self.h("kiosk"),
            )
        finally:
            undo()
        r = self.request(
            t,
            "POST",
            f"/v1/sessions/{sid}/response",
            lambda r: r.status_code == 200,
            files={"video": ("c.mp4", clip, "video/mp4")},
            headers=self.h("kiosk"),
        )
        told = r is not None and r.status_code == 200 and r.json()["outcome"] == "passed"
        with self.service.db.transaction() as s:
            recorded = s.execute(
                select(func.count(Certification.id)).where(Certification.person_id == pid)
            ).scalar()
        if told != (recorded == 1):
            t.lost += 1
            t.notes.append(f"told passed={told}, recorded={recorded}")

    def _refuse_writes(self, engine) -> Callable[[], None]:  # type: ignore[no-untyped-def]
        """SQLite: every new connection read-only (``query_only``: writes fail with SQLite's
        "attempt to write a readonly database", as a read-only file does). PostgreSQL: the
        database's transactions read-only (ERROR 25006)."""
        if engine.dialect.name == "sqlite":

            def read_only(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
                dbapi_conn.execute("PRAGMA query_only = ON")

            event.listen(engine, "connect", read_only)
            engine.dispose()

            def undo() -> None:
                event.remove(engine, "connect", read_only)
                engine.dispose()

            return undo
        admin = engine.execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            db = conn.exec_driver_sql("SELECT current_database()").scalar()
            conn.exec_driver_sql(f'ALTER DATABASE "{db}" SET default_transaction_read_only = on')
        engine.dispose()

        def undo_pg() -> None:
            with admin.connect() as conn:
                conn.exec_driver_sql("SET default_transaction_read_only = off")
                conn.exec_driver_sql(f'ALTER DATABASE "{db}" SET default_transaction_read_only = off')
            engine.dispose()

        return undo_pg

    def _photo(self, name: str) -> bytes:
        return (self.data / "faces/deepface" / name).read_bytes()

    def _session(self, idn: str, name: str) -> str:
        with httpx.Client(base_url=self.base, timeout=60, headers=self.h("kiosk")) as http:
            r = http.post(
                "/v1/sessions", json={"id_number": idn, "name": name, "channel": "kiosk", "consent": True}
            )
            r.raise_for_status()
            return r.json()["session_id"]

    # ---- latency under load ------------------------------------------------------------------
    def latency(self) -> dict[str, object]:
        clip = (self.data / "videos/talking/liveportrait_driving_d0.mp4").read_bytes()
        frame = read_video(self.data / "videos/talking/liveportrait_driving_d0.mp4", with_audio=False).frames[
            5
        ]
        idn, _ = self.person(cv2.imencode(".jpg", frame)[1].tobytes(), "延迟")
        big = "id_number,name,category,benefit_start\n" + "".join(
            f"{id_number(2_000_000 + i)},批量,retiree,2020-01-01\n" for i in range(self.rows)
        )
        stop = threading.Event()
        samples: dict[str, list[float]] = {"healthz": [], "lookup": []}

        def probe() -> None:
            with httpx.Client(base_url=self.base, timeout=DEADLINE_S, headers=self.h("app")) as http:
                while not stop.is_set():
                    for name, call in (
                        ("healthz", lambda: http.get("/healthz")),
                        ("lookup", lambda: http.post("/v1/lookup", json={"id_number": idn, "name": "延迟"})),
                    ):
                        t0 = time.perf_counter()
                        call()
                        samples[name].append((time.perf_counter() - t0) * 1000)
                    time.sleep(0.05)

        def clip_upload(_: int) -> None:
            sid = self._session(idn, "延迟")
            with httpx.Client(base_url=self.base, timeout=300, headers=self.h("kiosk")) as http:
                http.post(f"/v1/sessions/{sid}/response", files={"video": ("c.mp4", clip, "video/mp4")})

        def big_import() -> None:
            with httpx.Client(base_url=self.base, timeout=600, headers=self.h("staff")) as http:
                r = http.post("/v1/persons/import", files={"file": ("p.csv", big)})
                samples["import_s"] = [r.elapsed.total_seconds()]
                samples["imported"] = [float(r.json().get("imported", -1))]

        prober = threading.Thread(target=probe)
        prober.start()
        t0 = time.perf_counter()
        with ThreadPoolExecutor(3) as pool:
            jobs = [pool.submit(clip_upload, i) for i in range(2)] + [pool.submit(big_import)]
            for j in jobs:
                j.result()
        busy_s = time.perf_counter() - t0
        stop.set()
        prober.join()
        out: dict[str, object] = {"busy_s": round(busy_s, 1), "rows": self.rows}
        for name in ("healthz", "lookup"):
            values = sorted(samples[name])
            out[name] = {
                "n": len(values),
                "p50_ms": round(statistics.median(values), 1),
                "p99_ms": round(values[min(len(values) - 1, int(0.99 * len(values)))], 1),
                "max_ms": round(values[-1], 1),
            }
        out["import_s"] = samples.get("import_s", [None])[0]
        out["imported"] = samples.get("imported", [None])[0]
        return out

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        with self.service.db.transaction() as s:
            entries = s.execute(select(func.count(AuditEntry.id))).scalar()
            self.audit = {"entries": entries, "chain_intact": audit.verify_chain(s) is None}
        self.app.state.db.engine.dispose()


ITEMS = (
    ("1 audit chain, 30 parallel lookups", "concurrent_audit"),
    ("3 audio-track bomb", "audio_bomb"),
    ("4 impossible dates", "impossible_dates"),
    ("5 remote forms, four eyes", "four_eyes"),
    ("6 bodies before auth, stalled body", "bodies_at_the_edge"),
    ("7 CSV imports", "csv_imports"),
    ("8 formula injection", "csv_injection"),
    ("10 uniform errors", "uniform_errors"),
    ("11 disk full / read-only", "disk_full"),
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data", type=Path)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--json", type=Path, default=ROOT / "reports/faults.json")
    args = parser.parse_args()
    matcher = FaceMatcher()
    backends: list[tuple[str, str | None]] = [("sqlite", None)]
    report: dict[str, object] = {}
    reason = postgres.available()
    with postgres.temporary_server() if reason is None else _none() as pg_url:
        if pg_url:
            backends.append(("postgresql", pg_url))
        else:
            print(f"PostgreSQL skipped: {reason}", file=sys.stderr)
        for name, url in backends:
            run = Run(name, url, args.data, matcher, args.rows)
            try:
                for label, method in ITEMS:
                    run.item(label, getattr(run, method))
                report[name] = {"latency": run.latency()}
            finally:
                run.close()
            report[name]["items"] = {k: v.__dict__ for k, v in run.results.items()}  # type: ignore[index]
            report[name]["audit"] = run.audit  # type: ignore[index]
    print("| backend | item | tried | clear 4xx/503/2xx | 5xx | hung | lost data |")
    print("|---|---|---|---|---|---|---|")
    for name, r in report.items():
        for label, t in r["items"].items():  # type: ignore[index]
            print(
                f"| {name} | {label} | {t['tried']} | {t['clear']} | "
                f"{t['server_error']} | {t['hung']} | {t['lost']} |"
            )
    for name, r in report.items():
        print(f"\n{name} latency under load: {json.dumps(r['latency'])}")  # type: ignore[index]
        print(f"{name} audit: {json.dumps(r['audit'])}")  # type: ignore[index]
        for label, t in r["items"].items():  # type: ignore[index]
            for note in t["notes"]:
                print(f"  {name} / {label}: {note}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, default=str))


class _none:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


if __name__ == "__main__":
    main()
