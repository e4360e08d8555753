"""Request budgets per client: in this process, in Redis, or counted in the database.

``LIFECERT_RATE_LIMIT_STORE`` says where the counts live:

- ``memory`` (one API process): the `limits` library's in-memory moving window.
- ``redis://host:port/db`` (or ``rediss://`` for TLS): the same moving window in Redis, through
  `limits`, shared by every worker and host. Redis is then part of the shared state: when it
  cannot be reached a request is answered 503 (retry in a few seconds), never let through
  uncounted.
- ``database`` (the default of ``lifecert serve --workers N``): counted per key and minute in
  the service's own database, incremented with one atomic upsert (INSERT … ON CONFLICT DO
  UPDATE … RETURNING, which SQLite and PostgreSQL both execute atomically), so N workers on M
  hosts grant ``per_minute`` requests between them, not N × M times that. No extra server, at
  the cost of one small write per request; `limits` has no SQL storage, hence this one.
  A request is let through while this minute's count plus the previous minute's, weighted by
  the share of the last 60 s that lies in it, stays within the budget (the sliding-window
  counter). A plain fixed window has an edge: a client that spent its budget in a minute's
  last seconds got a whole new one at the next minute's start, twice ``per_minute`` within
  seconds (tests/test_workers.py saw 66 of 150 pass a budget of 60 on a run that crossed the
  edge). Weighted, a client that spent its budget gets back a sixtieth of it per second, no
  burst. The weighting assumes the previous minute's requests were spread evenly: a client
  that crowds both minutes' requests at their ends still passes up to twice the budget in
  one 60 s, but 60 s apart, not at once. Redis's moving window is exact.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from limits import RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from api.certification.errors import BUSY, DomainError, Kind
from api.certification.storage.db import Database
from api.certification.storage.schema import RateWindow

log = logging.getLogger("lifecert.rate_limits")
REDIS_SCHEMES = ("redis://", "rediss://")
STORE_RETRY_S = 5


class RateLimiter(Protocol):
    def allow(self, client: str) -> bool: ...


class LibraryRateLimiter:
    """At most ``per_minute`` requests per client in any 60 s (a moving window), in the
    `limits` storage ``storage`` (in-memory or Redis), under the key prefix ``scope``."""

    def __init__(self, storage: MemoryStorage | RedisStorage, per_minute: int, scope: str) -> None:
        self._strategy = MovingWindowRateLimiter(storage)
        self._item = RateLimitItemPerMinute(per_minute, namespace="lifecert")
        self.scope = scope

    def allow(self, client: str) -> bool:
        try:
            return self._strategy.hit(self._item, self.scope, client)
        except StorageError as exc:
            log.error("rate limit store unreachable: %s", exc.storage_error.__class__.__name__)
            raise DomainError(Kind.UNAVAILABLE, BUSY, retry_after_s=STORE_RETRY_S) from exc


def library_storage(store: str) -> MemoryStorage | RedisStorage:
    """The `limits` storage for ``memory`` or a Redis URL; a Redis that does not answer now
    is refused here, so a misconfigured service stops at its start, not on its first request."""
    if store == "memory":
        return MemoryStorage()
    storage = storage_from_string(store, wrap_exceptions=True)
    assert isinstance(storage, RedisStorage)
    if not storage.check():
        raise ValueError(f"LIFECERT_RATE_LIMIT_STORE: no Redis answers at {redacted(store)}")
    return storage


def store_kind(store: str) -> str:
    """memory, database or redis: what /healthz tells (never the URL, which can hold a password)."""
    return "redis" if store.startswith(REDIS_SCHEMES) else store


def redacted(url: str) -> str:
    """A store URL fit for logs: whatever precedes '@' (a password) is left out."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.split('@')[-1]}"


class DatabaseRateLimiter:
    """``per_minute`` requests per client, counted in the database (see the module's text);
    ``clock`` is there for the tests, which need to stand at a minute's edge."""

    def __init__(
        self, db: Database, per_minute: int, scope: str, clock: Callable[[], float] = time.time
    ) -> None:
        self.db = db
        self.per_minute = per_minute
        self.scope = scope
        self.clock = clock

    def allow(self, client: str) -> bool:
        minute = self.clock() / 60  # in minutes, with the fraction of the current one
        window = int(minute)
        key = f"{self.scope}:{client}"[:200]
        dialect = postgresql if self.db.engine.dialect.name == "postgresql" else sqlite
        upsert = dialect.insert(RateWindow).values(key=key, window=window, count=1)
        upsert = upsert.on_conflict_do_update(
            index_elements=["key", "window"], set_={"count": RateWindow.count + 1}
        ).returning(RateWindow.count)
        with self.db.transaction() as s:
            count = s.execute(upsert).scalar_one()
            if count == 1:  # the key's first request this minute: forget all but the last minute
                s.execute(delete(RateWindow).where(RateWindow.key == key, RateWindow.window < window - 1))
            previous = s.execute(
                select(RateWindow.count).where(RateWindow.key == key, RateWindow.window == window - 1)
            ).scalar_one_or_none()
        return count + (previous or 0) * (1 - (minute - window)) <= self.per_minute


def limiters(store: str, db: Database, budgets: dict[str, int]) -> dict[str, RateLimiter]:
    """One limiter per budget name, all in the store ``store`` names."""
    if store == "database":
        return {name: DatabaseRateLimiter(db, n, name) for name, n in budgets.items()}
    if store != "memory" and not store.startswith(REDIS_SCHEMES):
        raise ValueError(
            f"LIFECERT_RATE_LIMIT_STORE must be memory, database or a redis:// URL, not {redacted(store)!r}"
        )
    storage = library_storage(store)
    return {name: LibraryRateLimiter(storage, n, name) for name, n in budgets.items()}
