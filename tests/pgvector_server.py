"""A throwaway PostgreSQL 16 with pgvector for the register index tests: ``pgserver`` (a dev
dependency: a pip wheel bundling PostgreSQL and pgvector's vector.so), so that CI needs no
system package for it. Debian's PostgreSQL (tests/postgres.py) has no pgvector: the tests use
that one to check the exact-search fallback."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


def available() -> str | None:
    """None when pgserver can be imported here, else why not."""
    try:
        import pgserver  # noqa: F401
    except ImportError as exc:
        return f"pgserver not installed ({exc}); `make test` installs the dev dependencies"
    return None


@contextmanager
def temporary_server() -> Iterator[str]:
    """Yield a SQLAlchemy URL of a fresh database on a pgvector-enabled server; stop it after."""
    import pgserver

    root = tempfile.mkdtemp(prefix="lifecert-pgvector-")
    server = pgserver.get_server(root, cleanup_mode="stop")
    try:
        server.psql("CREATE DATABASE lifecert;")
        yield f"postgresql+psycopg://postgres@/lifecert?host={root}"
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)
