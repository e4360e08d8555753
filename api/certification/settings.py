"""Service settings from the environment, with safe defaults for the embedded install.

Secrets (the key that hashes ID numbers for lookup and the key that encrypts the stored
copy) are generated on first start into ``$LIFECERT_HOME/secrets.json`` with owner-only
permissions, unless given in the environment (production: from the secret store).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from api.certification import register_risk
from models import default_home

# A live face that scores this high against someone else on the register goes to review.
# Measured by `make bench-impostors` (BENCHMARKS.md): FMR 1.6e-6 per comparison on LFW, so a
# register of 10,000 people sends ~1.5 % of certifications to review for a look-alike. Raise
# it (LIFECERT_REGISTER_MATCH_THRESHOLD) for a larger register: 0.58 is FMR 1e-6 there.
REGISTER_MATCH_THRESHOLD = 0.55


LIVE_CAPTURES_PER_CORE = 2


def live_captures_per_worker(workers: int, cores: int | None = None) -> int:
    """A host's live-capture places shared out between its API workers (at least one each):
    N workers each taking the whole host's share would promise N times the cores there are."""
    return max(1, LIVE_CAPTURES_PER_CORE * (cores or os.cpu_count() or 1) // max(1, workers))


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    id_hash_key: bytes
    encryption_key: bytes
    policy: str = "national-default"
    preset: str | None = None
    max_video_bytes: int = 40 * 1024 * 1024
    max_image_bytes: int = 8 * 1024 * 1024
    rate_per_minute: int = 60
    max_parallel_analyses: int = max(1, os.cpu_count() or 1)
    analysis_queue: int = 4  # uploads waiting for an analysis slot before new ones get 503
    # Live captures streaming at once in this process. Each measures 25 frames a second as
    # they arrive, about half a core (benchmarks/load_live.py: on 2 cores 4 held >= 22
    # frames/s; at 5 the service fell below the checks' 20/s and failed genuine captures as
    # discontinuous). Past it a live capture is refused at its start, and the page records
    # and uploads instead. `lifecert serve --workers N` divides it between the workers.
    live_captures: int = live_captures_per_worker(1)
    session_ttl_s: int = 120
    register_match_threshold: float = REGISTER_MATCH_THRESHOLD
    # Whose impostor tail sizes the register-wide threshold (api/certification/register_risk.py):
    # "east-asian" (the users; the shipped 1:1 calibration's population) or "lfw".
    register_curve: str = register_risk.DEFAULT_CURVE
    # "memory": one process; "database": counted in the database, shared by every worker
    # and host (`lifecert serve --workers N` sets it); a redis:// URL: counted in that Redis,
    # shared likewise without a database write per request (api/certification/rate_limits.py).
    rate_limit_store: str = "memory"
    # Judge clips and run imports in worker processes (api/certification/workers.py).
    worker_processes: bool = False
    # "classic" (blink + digits) or "random" (timed random actions with head turns: chance
    # acceptance 0.48 %, but not yet measured on elderly people's real turns; BENCHMARKS.md).
    challenges: str = "classic"
    # Certification dates, the 28th cut-off and due dates are local calendar dates.
    timezone: str = "Asia/Shanghai"
    demo: bool = False


def _load_or_create_secrets(home: Path) -> dict[str, str]:
    path = home / "secrets.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    home.mkdir(parents=True, exist_ok=True)
    data = {
        "id_hash_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "encryption_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    return data


def load_settings(**overrides: object) -> Settings:
    home = Path(os.environ.get("LIFECERT_HOME") or default_home())
    stored = _load_or_create_secrets(home)
    id_key = os.environ.get("LIFECERT_ID_HASH_KEY") or stored["id_hash_key"]
    enc_key = os.environ.get("LIFECERT_ENCRYPTION_KEY") or stored["encryption_key"]
    values: dict[str, object] = {
        "home": home,
        "database_url": os.environ.get("LIFECERT_DATABASE_URL") or f"sqlite:///{home / 'lifecert.db'}",
        "id_hash_key": base64.urlsafe_b64decode(id_key),
        "encryption_key": enc_key.encode(),
        "policy": os.environ.get("LIFECERT_POLICY", "national-default"),
        "preset": os.environ.get("LIFECERT_PRESET") or None,
        "timezone": os.environ.get("LIFECERT_TIMEZONE", "Asia/Shanghai"),
        "rate_limit_store": os.environ.get("LIFECERT_RATE_LIMIT_STORE", "memory"),
        "worker_processes": os.environ.get("LIFECERT_WORKER_PROCESSES", "0") == "1",
        "challenges": os.environ.get("LIFECERT_CHALLENGES", "classic"),
    }
    rate = os.environ.get("LIFECERT_RATE_PER_MINUTE")
    if rate:
        # Per client: the phone app's backend is one client for every phone, so a province
        # sets this to its peak certifications a minute times the calls each one makes.
        if not rate.isdigit() or int(rate) < 1:
            raise ValueError(f"LIFECERT_RATE_PER_MINUTE must be a positive whole number, not {rate!r}")
        values["rate_per_minute"] = int(rate)
    live = os.environ.get("LIFECERT_LIVE_CAPTURES")
    if live:
        if not live.isdigit():
            raise ValueError(
                f"LIFECERT_LIVE_CAPTURES must be a whole number (0: no live capture), not {live!r}"
            )
        values["live_captures"] = int(live)
    curve = os.environ.get("LIFECERT_REGISTER_CURVE")
    if curve:
        if curve not in register_risk.CURVES:
            raise ValueError(
                f"LIFECERT_REGISTER_CURVE must be one of {', '.join(register_risk.CURVES)}, not {curve!r}"
            )
        values["register_curve"] = curve
    threshold = os.environ.get("LIFECERT_REGISTER_MATCH_THRESHOLD")
    if threshold:
        values["register_match_threshold"] = _score("LIFECERT_REGISTER_MATCH_THRESHOLD", threshold)
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def _score(name: str, text: str) -> float:
    """A matcher score threshold from the environment: a cosine in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 1:
        raise ValueError(f"{name} must be a score between 0 and 1, not {text!r}")
    return value
