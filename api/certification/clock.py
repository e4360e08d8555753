"""Time for the service: stored instants are UTC; certification dates are local calendar dates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(dt: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored instant is UTC."""
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def local_today(timezone: str) -> date:
    """A certification at 07:00 in Beijing is on that day, though it is still yesterday in UTC."""
    return datetime.now(ZoneInfo(timezone)).date()
