"""Several API processes (`lifecert serve --workers 2`) on one database: the budgets and
single-use guarantees hold across them, because they live in the database, not a process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from api.cli import app
from models import ModelStore
from models.onnx_layout import CHOICES_FILE
from tests import redis_server
from tests.conftest import DATA, random_id_number
from tests.ports import free_port

pytestmark = pytest.mark.needs_data
LIFECERT = str(Path(sys.executable).with_name("lifecert"))


@contextmanager
def _serving_two_workers(
    home: Path, store: ModelStore, **env_extra: str
) -> Iterator[tuple[str, dict[str, str]]]:
    """`lifecert serve --workers 2` on a fresh home, with a key per role."""
    env = {**os.environ, "LIFECERT_HOME": str(home), **env_extra}
    (home / "models").symlink_to(store.model_dir)  # the installed weights, not a copy
    # The ONNX layouts this machine already measured (models/onnx_layout.py): every worker of
    # a fresh home would otherwise measure them again while the test waits.
    if (store.home / CHOICES_FILE).exists():
        shutil.copy(store.home / CHOICES_FILE, home / CHOICES_FILE)
    keys = {}
    cli = CliRunner(env={"LIFECERT_HOME": str(home)})  # in this process: no interpreter start per key
    for role in ("kiosk", "staff", "app"):
        out = cli.invoke(app, ["clients", "add", f"w-{role}", "--role", role])
        assert out.exit_code == 0, out.output
        keys[role] = out.stdout.strip()
    port = free_port()
    server = subprocess.Popen(
        [LIFECERT, "serve", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield base, keys
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def two_workers(
    tmp_path_factory: pytest.TempPathFactory, store: ModelStore
) -> Iterator[tuple[str, dict[str, str]]]:
    with _serving_two_workers(tmp_path_factory.mktemp("workers"), store) as served:
        yield served


def _lookups_let_through(base: str, key: str, n: int, *, one_minute: bool = False) -> list[int]:
    """``n`` lookups on 8 connections. ``one_minute``: all inside one clock minute, for the
    database's budget, a fixed one-minute window (api/certification/rate_limits.py): a run
    that crossed a minute's edge would meet two budgets, so near the edge it waits."""
    body = {"id_number": random_id_number(), "name": "无此人"}
    if one_minute and time.time() % 60 > 40:
        time.sleep(60.5 - time.time() % 60)
    minute = int(time.time() // 60)

    def one(_: int) -> int:
        return httpx.post(base + "/v1/lookup", json=body, headers={"X-API-Key": key}, timeout=30).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(one, range(n)))
    assert not one_minute or int(time.time() // 60) == minute, "over 20 s: the lookups met two budgets"
    return codes


def test_the_rate_limit_holds_across_two_workers(two_workers: tuple[str, dict[str, str]]) -> None:
    """150 requests against a budget of 60 a minute: 60 are let through, whichever worker
    answers (two in-process buckets let 141 of 150 through)."""
    base, keys = two_workers
    codes = _lookups_let_through(base, keys["kiosk"], 150, one_minute=True)
    assert codes.count(404) == 60 and codes.count(429) == 90


def test_the_rate_limit_holds_across_two_workers_counting_in_redis(
    tmp_path_factory: pytest.TempPathFactory, store: ModelStore
) -> None:
    """The same, with the budgets in Redis (LIFECERT_RATE_LIMIT_STORE=redis://...) instead of
    the database; /healthz names the store."""
    reason = redis_server.available()
    if reason:
        pytest.skip(f"Redis tests skipped: {reason}")
    with (
        redis_server.temporary_server() as redis,
        _serving_two_workers(
            tmp_path_factory.mktemp("workers-redis"), store, LIFECERT_RATE_LIMIT_STORE=redis.url
        ) as (base, keys),
    ):
        assert httpx.get(base + "/healthz", timeout=5).json()["rate_limits"] == "redis"
        codes = _lookups_let_through(base, keys["kiosk"], 150)
    assert codes.count(404) == 60 and codes.count(429) == 90


def test_a_session_is_used_once_across_two_workers(two_workers: tuple[str, dict[str, str]]) -> None:
    base, keys = two_workers
    staff = {"X-API-Key": keys["staff"]}
    idn = random_id_number()
    with httpx.Client(base_url=base, timeout=60) as http:
        text = f"id_number,name,category,benefit_start\n{idn},并发,retiree,2025-01-01\n"
        assert (
            http.post("/v1/persons/import", headers=staff, files={"file": ("p.csv", text)}).json()["imported"]
            == 1
        )
        pid = http.post("/v1/persons/search", headers=staff, json={"q": idn}).json()[0]["person_id"]
        photo = (DATA / "faces/deepface/img1.jpg").read_bytes()
        assert (
            http.post(
                f"/v1/persons/{pid}/id-photo", headers=staff, files={"photo": ("p.jpg", photo)}
            ).status_code
            == 200
        )
        session = http.post(
            "/v1/sessions",
            headers=staff,
            json={"id_number": idn, "name": "并发", "channel": "counter", "consent": True},
        ).json()["session_id"]
    unreadable = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 2000

    def upload(_: int) -> int:
        files = {"video": ("c.mp4", unreadable, "video/mp4")}
        return httpx.post(
            f"{base}/v1/sessions/{session}/response", headers=staff, files=files, timeout=60
        ).status_code

    with ThreadPoolExecutor(6) as pool:
        codes = sorted(pool.map(upload, range(6)))
    assert codes == [200, 409, 409, 409, 409, 409]


def test_a_lockout_holds_across_two_workers(two_workers: tuple[str, dict[str, str]]) -> None:
    """Five failed attempts in a row, answered by whichever worker: the sixth session is
    refused for 30 minutes, because the failures are counted in the database."""
    base, keys = two_workers
    staff, app = {"X-API-Key": keys["staff"]}, {"X-API-Key": keys["app"]}
    idn = random_id_number()
    unreadable = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 2000
    body = {"id_number": idn, "name": "锁定", "channel": "phone", "consent": True}
    # A new connection for every request, so the kernel hands them to either worker.
    fresh = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=base, timeout=60, limits=fresh) as http:
        text = f"id_number,name,category,benefit_start\n{idn},锁定,retiree,2025-01-01\n"
        http.post("/v1/persons/import", headers=staff, files={"file": ("p.csv", text)}).raise_for_status()
        pid = http.post("/v1/persons/search", headers=staff, json={"q": idn}).json()[0]["person_id"]
        photo = (DATA / "faces/deepface/img1.jpg").read_bytes()
        http.post(
            f"/v1/persons/{pid}/id-photo", headers=staff, files={"photo": ("p.jpg", photo)}
        ).raise_for_status()
        for _ in range(5):
            session = http.post("/v1/sessions", headers=app, json=body)
            assert session.status_code == 200, session.text
            files = {"video": ("c.mp4", unreadable, "video/mp4")}
            answer = http.post(
                f"/v1/sessions/{session.json()['session_id']}/response", headers=app, files=files
            )
            assert answer.status_code == 200 and answer.json()["outcome"] == "failed", answer.text
        locked = http.post("/v1/sessions", headers=app, json=body)
    assert locked.status_code == 429 and locked.json()["code"] == "too_many_attempts", locked.text
    assert int(locked.headers["Retry-After"]) > 25 * 60
