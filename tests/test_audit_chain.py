"""The audit chain stays one chain under concurrent writers, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from api.certification import audit
from api.certification.storage.db import Database
from api.certification.storage.schema import AuditEntry
from tests import postgres

WRITERS = 12  # within the connection pool (5 + 10 overflow), so all can be mid-transaction at once


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with postgres.migrated_database(request.param, tmp_path) as database:
        yield database


def test_concurrent_appends_never_fork_the_chain(db: Database) -> None:
    """Twelve writers at once, each reading before it writes (as a lookup does): the old
    read-the-last-entry append forked here (UNIQUE(hash) errors, chain_intact false)."""
    start, errors = threading.Barrier(WRITERS), []

    def writer(i: int) -> None:
        try:
            with db.transaction() as s:
                s.execute(select(func.count(AuditEntry.id))).scalar_one()  # a read first
                start.wait(timeout=10)
                audit.append(s, f"client-{i}", "lookup", i)
        except Exception as exc:  # collected: an assertion in a thread would be lost
            errors.append(repr(exc))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    with db.transaction() as s:
        assert s.execute(select(func.count(AuditEntry.id))).scalar_one() == WRITERS
        assert audit.verify_chain(s) is None
