"""Failed-attempt lockouts (GB/T 38671-2020 6.1.6.8): a burst of failures locks the burst's
source for a while, not the pensioner for a day.

Counted from the attempts table, so every API process sees the same counts. Two scopes:
- one client for one person: ``PERSON_BURST`` failures within ``WINDOW`` lock that client
  out of that person for ``LOCKOUT``. Another device (the person's own phone, the counter)
  still can, so one frontline key submitting junk clips cannot lock a pensioner out.
- one kiosk for anyone: ``CLIENT_BURST`` failures within ``WINDOW`` lock the device out. Not
  the app backend: its one key serves every phone, and a burst there is many people's.
Staff clients are exempt: staff-assisted checks at the counter are how a locked-out person
is served.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.certification.clock import aware, utcnow
from api.certification.errors import TOO_MANY_ATTEMPTS, DomainError, Kind
from api.certification.storage.schema import Attempt, ChallengeSession, Client, Person

WINDOW = timedelta(minutes=3)
LOCKOUT = timedelta(minutes=30)
PERSON_BURST = 5
CLIENT_BURST = 20


def locked_until(failures: list[datetime], burst: int, now: datetime) -> datetime | None:
    """``failures`` newest first. Locked when some ``burst`` consecutive failures fall within
    ``WINDOW`` and the last of them is less than ``LOCKOUT`` ago."""
    recent = [aware(t) for t in failures if aware(t) > now - LOCKOUT - WINDOW]
    for i in range(len(recent) - burst + 1):
        newest, oldest = recent[i], recent[i + burst - 1]
        if newest - oldest <= WINDOW and newest + LOCKOUT > now:
            return newest + LOCKOUT
    return None


def _failures(s: Session, client: Client, person: Person | None, since: datetime) -> list[datetime]:
    query = (
        select(Attempt.created_at)
        .join(ChallengeSession, ChallengeSession.id == Attempt.session_id)
        .where(
            ChallengeSession.client_id == client.id, Attempt.outcome == "failed", Attempt.created_at >= since
        )
        .order_by(Attempt.created_at.desc())
    )
    if person is not None:
        query = query.where(Attempt.person_id == person.id)
    return list(s.execute(query).scalars())


def check_lockout(s: Session, client: Client, person: Person) -> None:
    """Raise too_many_attempts (with the minutes to wait) when ``client`` is locked out."""
    if client.role in ("staff", "admin"):
        return
    now = utcnow()
    since = now - LOCKOUT - WINDOW
    until = max(
        (
            t
            for t in (
                locked_until(_failures(s, client, person, since), PERSON_BURST, now),
                locked_until(_failures(s, client, None, since), CLIENT_BURST, now)
                if client.role == "kiosk"
                else None,
            )
            if t is not None
        ),
        default=None,
    )
    if until is not None:
        wait_s = int((until - now).total_seconds()) + 1
        raise DomainError(
            Kind.RATE_LIMITED,
            TOO_MANY_ATTEMPTS,
            f"try again in {wait_s // 60 + 1} minutes",
            retry_after_s=wait_s,
        )
