"""Engine, sessions and migrations. The same code runs on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    """hide_parameters: a failed statement's error message would otherwise carry its bound
    values (names, ID-number hashes, phone numbers) into the logs."""
    if url.startswith("sqlite"):
        _create_owner_only(make_url(url).database)
        engine = create_engine(
            url, hide_parameters=True, connect_args={"check_same_thread": False, "timeout": 30}
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def _create_owner_only(path: str | None) -> None:
    """The database file (and so its -wal and -shm files, which SQLite creates with the same
    mode) is created readable by its owner only: it holds biometric templates."""
    if not path or path == ":memory:" or os.path.exists(path):
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "api.certification.storage:migrations")
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest revision (idempotent)."""
    cfg = alembic_config(str(engine.url.render_as_string(hide_password=False)))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Database:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed on success, rolled back on any error (nothing half-written).

        An exception with a true ``keep_work`` attribute (a refusal that must leave its audit
        trace) is raised after the work is committed."""
        with self._sessions() as session:
            session.begin()
            try:
                yield session
            except BaseException as exc:
                if getattr(exc, "keep_work", False):
                    session.commit()
                else:
                    session.rollback()
                raise
            session.commit()
