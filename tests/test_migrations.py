"""The Alembic migrations build exactly the schema the ORM declares, on SQLite and on a real
PostgreSQL server, and step down and up again: a model change without its migration fails here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from api.certification.storage.db import alembic_config, make_engine, migrate
from api.certification.storage.schema import Base
from tests import postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    reason = postgres.available()
    if reason:
        pytest.skip(f"PostgreSQL tests skipped: {reason}")
    with postgres.temporary_server() as url:
        yield url


def test_migrations_match_the_models_and_go_down_and_up(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate(engine)
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        cfg = alembic_config(database_url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0002")
        assert "payment_runs" not in inspect(engine).get_table_names()
        migrate(engine)
        assert "payment_runs" in inspect(engine).get_table_names()
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    finally:
        engine.dispose()
