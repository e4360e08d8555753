"""Request budgets in Redis (issue 13): shared by every process that counts there, refused at
start when Redis does not answer, and a clear 503 (never an uncounted request) when it goes
away later. The in-process store and the database store are tested over HTTP in
tests/test_api.py and tests/test_workers.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.certification import rate_limits
from api.certification.settings import load_settings
from api.certification.storage.db import Database
from api.certification.storage.schema import RateWindow
from api.demo import ensure_client
from api.http.app import create_app
from matcher import FaceMatcher
from tests import postgres, redis_server
from tests.conftest import random_id_number
from tests.ports import free_port


@pytest.fixture
def redis() -> Iterator[redis_server.Server]:
    reason = redis_server.available()
    if reason:
        pytest.skip(f"Redis tests skipped: {reason}")
    with redis_server.temporary_server() as server:
        yield server


def test_two_processes_counting_in_one_redis_share_one_budget(
    redis: redis_server.Server, tmp_path: Path
) -> None:
    """Each API process builds its own limiters and connection; the counts are Redis's, so
    two of them let 5 of 12 requests through against a budget of 5, not 10."""
    db = Database(f"sqlite:///{tmp_path / 'unused.db'}")
    first, second = (rate_limits.limiters(redis.url, db, {"default": 5})["default"] for _ in range(2))
    allowed = [(first if i % 2 else second).allow("kiosk-7") for i in range(12)]
    assert allowed.count(True) == 5 and allowed[:5] == [True] * 5
    assert first.allow("kiosk-8"), "another client has a budget of its own"


def test_an_unreachable_redis_stops_the_service_at_its_start(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'unused.db'}")
    nobody = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    with pytest.raises(ValueError, match="no Redis answers") as raised:
        rate_limits.limiters(nobody, db, {"default": 5})
    assert "s3cret" not in str(raised.value)
    with pytest.raises(ValueError, match="memory, database or a redis:// URL"):
        rate_limits.limiters("memcached://127.0.0.1:11211", db, {"default": 5})


def test_the_service_counts_in_redis_and_answers_503_when_it_is_gone(
    redis: redis_server.Server, tmp_path: Path, matcher: FaceMatcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIFECERT_HOME", str(tmp_path))
    settings = replace(
        load_settings(database_url=f"sqlite:///{tmp_path / 'r.db'}"),
        rate_per_minute=3,
        rate_limit_store=redis.url,
    )
    app = create_app(settings, matcher)
    kiosk = ensure_client(app.state.service, "kiosk-r", "kiosk")
    body = {"id_number": random_id_number(), "name": "x"}
    with TestClient(app) as tc:
        assert tc.get("/healthz").json()["rate_limits"] == "redis"
        codes = [tc.post("/v1/lookup", headers={"X-API-Key": kiosk}, json=body).status_code for _ in range(4)]
        assert codes == [404, 404, 404, 429]
        redis.stop()
        gone = tc.post("/v1/lookup", headers={"X-API-Key": "other-kiosk"}, json=body)  # refused at the edge
        assert gone.status_code == 503 and gone.json()["code"] == "service_busy"
        assert gone.headers["Retry-After"] == str(rate_limits.STORE_RETRY_S)
        other = ensure_client(app.state.service, "kiosk-s", "kiosk")
        gone = tc.post("/v1/lookup", headers={"X-API-Key": other}, json=body)  # a valid key's budget
        assert gone.status_code == 503 and gone.json()["code"] == "service_busy"
        assert tc.get("/healthz").status_code == 200, "health needs no budget"
    app.state.db.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with postgres.migrated_database(request.param, tmp_path) as db:
        yield db


def test_the_database_budget_gives_no_second_budget_at_a_minutes_edge(database: Database) -> None:
    """A budget of 60 spent in a minute's last second: one second into the next minute a fixed
    window would grant 60 more; the sliding-window counter grants none (60 x 59/60 of the
    minute before still counts), and half a minute on, half the budget."""
    now = [60 * 29_000_000 + 59.0]  # the last second of a minute
    limiter = rate_limits.DatabaseRateLimiter(database, 60, "edge", clock=lambda: now[0])
    assert [limiter.allow("k") for _ in range(61)].count(True) == 60
    now[0] += 2.0  # one second into the next minute
    assert not any(limiter.allow("k") for _ in range(60))
    other = rate_limits.DatabaseRateLimiter(database, 60, "half", clock=lambda: now[0] - 2.0)
    assert [other.allow("k") for _ in range(60)].count(True) == 60  # spent at :59 too
    other.clock = lambda: now[0] + 29.0  # half a minute into the next
    assert [other.allow("k") for _ in range(60)].count(True) == 30
    # Only this minute and the one before are kept per key.
    with database.transaction() as s:
        windows = s.scalars(select(RateWindow.window).where(RateWindow.key == "half:k")).all()
    assert sorted(windows) == [int(now[0] // 60) - 1, int(now[0] // 60)]
