"""Schemathesis against the service's own OpenAPI description, with each role's key (issue 11).

Starts the real service on loopback (SQLite, demo-free, an empty register), then runs
`schemathesis run --checks all` once per role (kiosk, app, staff, admin), bounded by
--max-examples per operation. Prints each run's summary line; exit 1 if any run failed.

    python benchmarks/api_fuzz.py [--max-examples 20]
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.certification.settings import load_settings  # noqa: E402
from api.demo import ensure_client  # noqa: E402
from api.http.app import create_app  # noqa: E402
from matcher import FaceMatcher  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-examples", type=int, default=20)
    args = parser.parse_args()
    matcher = FaceMatcher()
    home = Path(tempfile.mkdtemp(prefix="lifecert-fuzz-"))
    os.environ["LIFECERT_HOME"] = str(home)
    settings = replace(load_settings(database_url=f"sqlite:///{home / 'fuzz.db'}"), rate_per_minute=1_000_000)
    app = create_app(settings, matcher)
    roles = ("kiosk", "app", "staff", "admin")
    keys = {role: ensure_client(app.state.service, f"fuzz-{role}", role) for role in roles}
    port = 9300 + secrets.randbelow(400)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    schemathesis = str(Path(sys.executable).with_name("schemathesis"))
    failed = 0
    for role, key in keys.items():
        run = subprocess.run(
            [
                schemathesis,
                "--config-file",
                str(ROOT / "benchmarks" / "schemathesis.toml"),
                "run",
                f"http://127.0.0.1:{port}/openapi.json",
                "--checks",
                "all",
                "-H",
                f"X-API-Key: {key}",
                "--max-examples",
                str(args.max_examples),
                "--request-timeout",
                "60",
                "--report",
                "junit",
                "--report-dir",
                str(ROOT / "reports" / f"fuzz-{role}"),
            ],
            capture_output=True,
            text=True,
        )
        lines = run.stdout.splitlines()
        summary = [line for line in lines if any(w in line for w in ("passed", "failed", "error"))]
        print(f"{role}: exit {run.returncode}; {summary[-1] if summary else run.stdout[-300:]}")
        log = ROOT / "reports" / f"fuzz-{role}.log"
        log.unlink(missing_ok=True)  # a log left from an earlier failing run would mislead
        if run.returncode != 0:
            failed += 1
            log.write_text(run.stdout + run.stderr)
    server.should_exit = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
