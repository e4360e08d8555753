"""Rate limits that hold across API processes and hosts: counted in the database.

A fixed one-minute window per key, incremented with one atomic upsert (INSERT … ON CONFLICT
DO UPDATE … RETURNING, which SQLite and PostgreSQL both execute atomically), so N workers on M
hosts grant ``per_minute`` requests between them, not N × M times that. The cost is one small
write per request; one process alone uses the in-memory token bucket instead
(``security.MemoryRateLimiter``).
"""

from __future__ import annotations

import time

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from api.certification.storage.db import Database
from api.certification.storage.schema import RateWindow


class DatabaseRateLimiter:
    def __init__(self, db: Database, per_minute: int, scope: str) -> None:
        self.db = db
        self.per_minute = per_minute
        self.scope = scope

    def allow(self, client: str) -> bool:
        window = int(time.time() // 60)
        key = f"{self.scope}:{client}"[:200]
        dialect = postgresql if self.db.engine.dialect.name == "postgresql" else sqlite
        upsert = dialect.insert(RateWindow).values(key=key, window=window, count=1)
        upsert = upsert.on_conflict_do_update(
            index_elements=["key", "window"], set_={"count": RateWindow.count + 1}
        ).returning(RateWindow.count)
        with self.db.transaction() as s:
            count = s.execute(upsert).scalar_one()
            if count == 1:  # the key's first request this minute: forget its older minutes
                s.execute(delete(RateWindow).where(RateWindow.key == key, RateWindow.window < window))
        return count <= self.per_minute
