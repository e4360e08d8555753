"""A throwaway PostgreSQL server on loopback for the storage and API tests.

Started from the Debian packages' binaries (``make test`` installs them when missing) in a
temporary directory, with trust authentication on 127.0.0.1 only, and stopped at the end.
As root, the server runs as the ``postgres`` system user (PostgreSQL refuses root).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

import pytest

from api.certification.storage.db import Database, migrate
from tests.ports import free_port


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def available() -> str | None:
    """None when a server can be started here, else the reason it cannot."""
    if _binary("initdb") is None or _binary("pg_ctl") is None:
        return "PostgreSQL binaries (initdb, pg_ctl) not found; `make test` installs them with apt"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser"
    return None


@contextmanager
def temporary_server() -> Iterator[str]:
    """Yield a SQLAlchemy URL of a fresh, empty database; stop and delete it afterwards."""
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    assert initdb and pg_ctl
    root = tempfile.mkdtemp(prefix="lifecert-pg-")
    data = os.path.join(root, "data")
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True, capture_output=True, text=True)  # noqa: E731
    try:
        run(initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale")
        run(
            pg_ctl,
            "-D",
            data,
            "-l",
            os.path.join(root, "log"),
            "-w",
            "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )
        run(
            _binary("createdb") or "createdb",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "lifecert",
        )
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/lifecert"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def migrated_database(kind: str, tmp_path: Path) -> Iterator[Database]:
    """A migrated database for a test parametrised over both engines: ``"sqlite"`` under
    ``tmp_path``, or ``"postgresql"`` on a fresh server (the test is skipped, with the
    reason, where none can start)."""
    server: AbstractContextManager[str]
    if kind == "sqlite":
        server = nullcontext(f"sqlite:///{tmp_path / 'test.db'}")
    elif reason := available():
        pytest.skip(f"PostgreSQL tests skipped: {reason}")
    else:
        server = temporary_server()
    with server as url:
        database = Database(url)
        migrate(database.engine)
        yield database
        database.engine.dispose()
