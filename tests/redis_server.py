"""A throwaway Redis server on loopback for the rate-limit tests.

Debian's ``redis-server`` (``make test`` installs it when missing), started on a free port in
a temporary directory with persistence off, and stopped at the end.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from tests.ports import free_port


def available() -> str | None:
    """None when a server can be started here, else the reason it cannot."""
    if shutil.which("redis-server") is None:
        return "redis-server not found; `make test` installs it with apt"
    return None


class Server:
    def __init__(self, port: int, process: subprocess.Popen[bytes]) -> None:
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process = process

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@contextmanager
def temporary_server() -> Iterator[Server]:
    root = tempfile.mkdtemp(prefix="lifecert-redis-")
    port = free_port()
    options = ["--port", str(port), "--bind", "127.0.0.1", "--dir", root, "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(
        ["redis-server", *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Server(port, process)
    try:
        client = redis.Redis.from_url(server.url)
        for _ in range(100):
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
