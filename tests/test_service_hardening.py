"""The service under faults and hostile input (issue 11): each test fails without its fix.

Runs on SQLite and on a real PostgreSQL server, like tests/test_api.py, whose helpers it uses.
"""

from __future__ import annotations

import asyncio
import os
import stat
import threading
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from api.certification import recording
from api.certification.clock import utcnow
from api.certification.storage.schema import ChallengeSession, FaceReference, Person
from api.http import edge
from models import ModelStore
from tests.test_api import CLIPS, client, clip, enrol, frame_of, h, new_id, photo, recent_start, start, submit

__all__ = ["client"]  # the fixture, shared with tests/test_api.py
pytestmark = pytest.mark.needs_data


def call_asgi(
    app: object, method: str, path: str, headers: dict[str, str], chunks: list[bytes | None]
) -> int:
    """One raw ASGI request; a ``None`` chunk means the client stalls. Returns the status."""
    sent: list[dict] = []
    queue = list(chunks)

    async def receive() -> dict:
        if not queue:
            return {"type": "http.disconnect"}
        chunk = queue.pop(0)
        if chunk is None:
            await asyncio.sleep(3600)
        if chunk == b"BOOM":
            raise AssertionError("the body was read")
        return {"type": "http.request", "body": chunk or b"", "more_body": bool(queue)}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
        "scheme": "http",
        "http_version": "1.1",
        "root_path": "",
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[operator]
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


def test_a_body_without_a_valid_key_is_refused_before_a_byte_is_read(client: TestClient) -> None:
    upload = "/v1/sessions/x/response"
    big = {"content-length": str(200 * 1024 * 1024), "content-type": "multipart/form-data; boundary=x"}
    assert call_asgi(client.app, "POST", upload, big, [b"BOOM"]) == 401
    assert call_asgi(client.app, "POST", upload, {**big, "x-api-key": "lc_forged"}, [b"BOOM"]) == 401
    # With a key, the announced size alone is refused, still unread.
    assert call_asgi(client.app, "POST", upload, {**big, **h(client, "kiosk")}, [b"BOOM"]) == 413


def test_a_body_that_stalls_is_cut_off(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(edge, "CHUNK_TIMEOUT_S", 0.2)
    headers = {"content-length": "50000", "content-type": "application/json", **h(client, "kiosk")}
    assert call_asgi(client.app, "POST", "/v1/lookup", headers, [b'{"id', None]) == 408


def test_malformed_json_is_a_problem_too(client: TestClient) -> None:
    r = client.post(
        "/v1/lookup", headers={**h(client, "kiosk"), "content-type": "application/json"}, content=b"{"
    )
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")


def test_imports_detect_gbk_normalise_id_numbers_and_check_them(client: TestClient) -> None:
    idn = new_id()
    fullwidth = idn.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    wrong_check = idn[:17] + ("0" if idn[17] != "0" else "1")
    text = (
        "id_number,name,category,benefit_start\n"
        f"{idn},欧阳,retiree,{recent_start()}\n"
        f"{fullwidth},欧阳,retiree,{recent_start()}\n"  # the same person, typed in fullwidth
        f"{wrong_check},司马,retiree,{recent_start()}\n"
        f"{new_id()},上官,retiree,9999-12-31\n"
        f"{new_id()},诸葛\x00,retiree,{recent_start()}\n"
    )
    r = client.post(
        "/v1/persons/import", headers=h(client, "staff"), files={"file": ("p.csv", text.encode("gbk"))}
    )
    body = r.json()
    assert r.status_code == 200 and body["imported"] == 1, body
    errors = {e["line"]: e["error"] for e in body["errors"]}
    assert errors[3] == "duplicate ID number"
    assert "check digit" in errors[4] and "benefit_start" in errors[5] and "control" in errors[6]
    found = client.post("/v1/persons/search", headers=h(client, "staff"), json={"q": "欧阳"}).json()
    assert [p["name"] for p in found] == ["欧阳"]  # decoded as GBK, not as replacement characters


def test_an_import_over_the_size_limit_is_refused_whole(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.http import uploads

    monkeypatch.setattr(uploads, "CSV_MAX_BYTES", 200)
    rows = "".join(f"{new_id()},某,retiree,{recent_start()}\n" for _ in range(10))
    files = {"file": ("p.csv", "id_number,name,category,benefit_start\n" + rows)}
    r = client.post("/v1/persons/import", headers=h(client, "staff"), files=files)
    assert r.status_code == 413 and r.json()["code"] == "upload_too_large"


def test_a_stored_record_with_impossible_dates_does_not_break_lists(client: TestClient) -> None:
    """Written before imports checked dates: staff see it flagged; the lists still work."""
    with client.service.db.transaction() as s:  # type: ignore[attr-defined]
        person = Person(
            id_hash=client.service.id_hash(new_id()),  # type: ignore[attr-defined]
            id_encrypted=client.service.cipher.encrypt(new_id()),  # type: ignore[attr-defined]
            name="远未来",
            category="retiree",
            policy="national-default",
            benefit_start=date(9999, 12, 31),
            created_at=utcnow(),
        )
        s.add(person)
    for which in ("overdue", "due-soon"):
        r = client.get(f"/v1/lists/{which}", headers=h(client, "staff"))
        assert r.status_code == 200
        assert any(row["name"] == "远未来" and row["status"] == "invalid_record" for row in r.json())
    assert (
        client.post("/v1/persons/search", headers=h(client, "staff"), json={"q": "远未来"}).status_code == 200
    )


def test_csv_exports_cannot_carry_spreadsheet_formulas(client: TestClient) -> None:
    text = (
        f'id_number,name,category,benefit_start\n{new_id()},"=HYPERLINK(""http://x"")",retiree,2015-01-01\n'
    )
    files = {"file": ("p.csv", text)}
    assert client.post("/v1/persons/import", headers=h(client, "staff"), files=files).json()["imported"] == 1
    exported = client.get("/v1/lists/overdue", headers=h(client, "staff"), params={"format": "csv"}).text
    assert "'=HYPERLINK" in exported and ",=HYPERLINK" not in exported


def test_face_templates_are_encrypted_at_rest(client: TestClient) -> None:
    _idn, pid = enrol(client, "密", photo("img22.jpg"))
    with client.service.db.transaction() as s:  # type: ignore[attr-defined]
        stored = s.execute(select(FaceReference.embedding).where(FaceReference.person_id == pid)).scalar_one()
    assert stored.startswith(b"gAAAAA")  # a Fernet token, not 512 floats
    template = client.service.cipher.open_template(stored)  # type: ignore[attr-defined]
    assert template.shape == (512,) and abs(float(template @ template) - 1.0) < 1e-3


def test_frontline_clients_never_see_the_match_score_staff_do(client: TestClient) -> None:
    client.service.challenges.window_s = CLIPS["d0"]  # type: ignore[attr-defined]
    idn, _ = enrol(client, "分数", frame_of("d0"))
    kiosk = submit(client, start(client, idn, "分数").json()["session_id"], clip("d0")).json()
    assert kiosk["outcome"] in ("passed", "review") and kiosk["match_score"] is None
    staff_sid = start(client, idn, "分数", role="staff", channel="counter").json()["session_id"]
    staff = submit(client, staff_sid, clip("d0"), role="staff").json()
    assert isinstance(staff["match_score"], float)


def test_junk_from_one_device_does_not_lock_the_person_out_elsewhere(client: TestClient) -> None:
    idn, _ = enrol(client, "锁", photo("img26.jpg"))
    unreadable = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 2000
    for _ in range(5):
        assert (
            submit(client, start(client, idn, "锁").json()["session_id"], unreadable).json()["outcome"]
            == "failed"
        )
    locked = start(client, idn, "锁")
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 25 * 60
    assert start(client, idn, "锁", role="app", channel="phone").status_code == 200  # the person's phone


def test_a_full_analysis_queue_answers_503_and_keeps_the_session(client: TestClient) -> None:
    idn, _ = enrol(client, "忙", photo("img26.jpg"))
    sid = start(client, idn, "忙").json()["session_id"]
    saved = client.service._admission  # type: ignore[attr-defined]
    client.service._admission = threading.BoundedSemaphore(1)  # type: ignore[attr-defined]
    client.service._admission.acquire()  # type: ignore[attr-defined]
    try:
        r = submit(client, sid, clip("d0"))
    finally:
        client.service._admission = saved  # type: ignore[attr-defined]
    assert r.status_code == 503 and r.json()["code"] == "service_busy" and r.headers["Retry-After"]
    with client.service.db.transaction() as s:  # type: ignore[attr-defined]
        assert s.get(ChallengeSession, sid).consumed_at is None  # type: ignore[union-attr]


def test_a_storage_fault_answers_503_and_the_session_stays_usable(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.service.challenges.window_s = CLIPS["d0"]  # type: ignore[attr-defined]
    idn, _ = enrol(client, "盘满", frame_of("d0"))
    sid = start(client, idn, "盘满").json()["session_id"]

    def disk_full(*_a: object, **_k: object) -> None:
        raise OperationalError("INSERT", {}, Exception("database or disk is full"))

    monkeypatch.setattr(recording, "record", disk_full)
    r = submit(client, sid, clip("d0"))
    assert r.status_code == 503 and r.json()["code"] == "storage_unavailable"
    monkeypatch.undo()
    retried = submit(client, sid, clip("d0"))
    assert retried.status_code == 200 and retried.json()["outcome"] in ("passed", "review")


def test_proxies_belong_to_the_client_that_registered_them(client: TestClient) -> None:
    idn, _ = enrol(client, "亲属", photo("img22.jpg"))
    body = {"id_number": new_id(), "name": "代办", "phone": "13700000009"}
    proxy = client.post("/v1/proxies", headers=h(client, "app"), json=body).json()["proxy_id"]
    link = {"id_number": idn, "name": "亲属", "relationship": "son", "consent": True}
    assert (
        client.post(f"/v1/proxies/{proxy}/persons", headers=h(client, "kiosk"), json=link).status_code == 404
    )
    assert client.post(f"/v1/proxies/{proxy}/persons", headers=h(client, "app"), json=link).status_code == 200
    bad = client.post(
        "/v1/proxies", headers=h(client, "app"), json={**body, "id_number": "123456789012345678"}
    )
    assert bad.status_code == 422


def test_frontline_keys_open_only_their_own_channels(client: TestClient) -> None:
    idn, _ = enrol(client, "渠道", photo("img22.jpg"))
    for role, channel in (("kiosk", "phone"), ("app", "kiosk"), ("kiosk", "counter")):
        r = start(client, idn, "渠道", role=role, channel=channel)
        assert r.status_code == 403 and r.json()["code"] == "channel_not_allowed", (role, channel)
    for never in ("data", "remote"):  # no session channel at all: not even in the schema
        assert start(client, idn, "渠道", role="staff", channel=never).status_code == 422


def test_the_kiosk_page_has_security_headers_and_the_docs_need_no_cdn(client: TestClient) -> None:
    page = client.get("/kiosk/")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "camera=(self)" in page.headers["permissions-policy"]
    docs = client.get("/docs").text
    assert "cdn." not in docs and "swagger-ui-bundle.js" in docs


def test_the_sqlite_database_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    from api.certification.storage.db import Database

    db = Database(f"sqlite:///{tmp_path / 'private.db'}")
    with db.transaction() as s:
        s.execute(select(1))
    db.engine.dispose()
    assert stat.S_IMODE(os.stat(tmp_path / "private.db").st_mode) == 0o600


def test_sessions_expire_cleanly_after_the_lockout_window() -> None:
    """The lockout rule itself: a burst locks for 30 minutes after its last failure, then not."""
    from api.certification.lockouts import LOCKOUT, locked_until

    now = utcnow()
    burst = [now - timedelta(seconds=10 * i) for i in range(5)]
    assert locked_until(burst, 5, now) == burst[0] + LOCKOUT
    assert locked_until(burst, 5, now + LOCKOUT + timedelta(seconds=1)) is None
    spread = [now - timedelta(minutes=2 * i) for i in range(5)]  # 5 failures over 8 minutes
    assert locked_until(spread, 5, now) is None


def test_worker_processes_judge_clips_and_run_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: ModelStore
) -> None:
    """`lifecert serve`'s mode: the same judgement and import, done in spawned worker processes."""
    from api.certification.settings import load_settings
    from api.demo import ensure_client
    from api.http.app import create_app
    from liveness.challenge import FixedWindowChallenges

    (tmp_path / "models").symlink_to(store.model_dir)  # the installed weights
    monkeypatch.setenv("LIFECERT_HOME", str(tmp_path))
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'w.db'}", worker_processes=True)
    app = create_app(replace(settings, max_parallel_analyses=1))
    app.state.service.challenges = FixedWindowChallenges(window_s=CLIPS["d0"])
    keys = {r: ensure_client(app.state.service, f"w-{r}", r) for r in ("kiosk", "staff")}
    with TestClient(app) as tc:
        tc.keys = keys  # type: ignore[attr-defined]
        idn, pid = enrol(tc, "进程", frame_of("d0"))  # the import ran in the worker
        body = submit(tc, start(tc, idn, "进程").json()["session_id"], clip("d0")).json()
        assert body["outcome"] == "passed", body
        history = tc.get(f"/v1/persons/{pid}", headers=h(tc, "staff")).json()
        assert len(history["certifications"]) == 1
    assert "analyzer" not in app.state.service.__dict__  # the liveness models never loaded here
    app.state.db.engine.dispose()


def test_a_domain_error_crosses_a_process_boundary_whole() -> None:
    """Raised in a worker process (an import refused for a broken CSV), it must arrive as
    itself: pickling replayed only its message and the worker pool broke for good."""
    import pickle

    from api.certification.errors import INVALID, DomainError, Kind

    original = DomainError(Kind.INVALID, INVALID, "line 3: not valid CSV", keep_work=True, retry_after_s=5)
    copy = pickle.loads(pickle.dumps(original))
    assert (copy.kind, copy.reason, copy.detail, copy.keep_work, copy.extra) == (
        Kind.INVALID,
        INVALID,
        "line 3: not valid CSV",
        True,
        {"retry_after_s": 5},
    )


def test_a_killed_worker_process_costs_one_503_not_the_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: ModelStore
) -> None:
    import signal

    from api.certification.errors import DomainError
    from api.certification.settings import load_settings
    from api.certification.storage.db import Database, migrate
    from api.certification.workers import WorkerPool

    (tmp_path / "models").symlink_to(store.model_dir)
    monkeypatch.setenv("LIFECERT_HOME", str(tmp_path))
    settings = replace(load_settings(database_url=f"sqlite:///{tmp_path / 'k.db'}"), max_parallel_analyses=1)
    migrate(Database(settings.database_url).engine)
    pool = WorkerPool(settings)
    try:
        with pytest.raises(ValueError):  # a call that reaches the worker and comes back
            pool.run_import("nothing", "", 1)
        for process in list(pool._pool._processes.values()):  # type: ignore[union-attr]
            os.kill(process.pid, signal.SIGKILL)
        with pytest.raises(DomainError) as refused:
            pool.run_import("nothing", "", 1)
        assert refused.value.reason.code == "service_busy"
        with pytest.raises(ValueError):  # a fresh pool answers again
            pool.run_import("nothing", "", 1)
    finally:
        pool.close()
