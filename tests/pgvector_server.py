"""A throwaway PostgreSQL 16 with pgvector for the register index tests: ``pgserver`` (a dev
dependency: a pip wheel bundling PostgreSQL and pgvector's vector.so), so that CI needs no
system package for it. Debian's PostgreSQL (tests/postgres.py) has no pgvector: the tests use
that one to check the exact-search fallback."""

from __future__ import annotations

import atexit
import itertools
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


# One server for the whole test run (pgserver takes 15-20 s to start on a slow machine, and
# two modules need it); each caller gets a database of its own on it.
_shared: list[object] = []
_databases = itertools.count(1)


def _server() -> object:
    import pgserver

    if not _shared:
        root = tempfile.mkdtemp(prefix="lifecert-pgvector-")
        server = pgserver.get_server(root, cleanup_mode="stop")

        def stop() -> None:
            server.cleanup()
            shutil.rmtree(root, ignore_errors=True)

        atexit.register(stop)
        _shared.extend([root, server])
    return _shared[1]


@contextmanager
def temporary_server() -> Iterator[str]:
    """Yield a SQLAlchemy URL of a fresh database on a pgvector-enabled server; the server
    stops when the test run ends, the database is dropped after its caller."""
    server = _server()
    root = _shared[0]
    name = f"lifecert_{next(_databases)}"
    server.psql(f"CREATE DATABASE {name};")  # type: ignore[attr-defined]
    try:
        yield f"postgresql+psycopg://postgres@/{name}?host={root}"
    finally:
        server.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE);")  # type: ignore[attr-defined]
