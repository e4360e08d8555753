"""The append-only, hash-chained audit log.

Each entry's hash is SHA-256 over the previous entry's hash and this entry's canonical
JSON, so deleting or editing any entry breaks every later hash (``verify_chain`` finds
where). Entries hold ids and codes, never ID numbers, names or images. Each append first
updates the one-row chain head (``audit_chain_head``), which serialises appends on SQLite
and PostgreSQL alike, then reads the previous hash from it under that lock: concurrent
writers queue instead of forking the chain.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.certification.storage.schema import AuditChainHead, AuditEntry

GENESIS = "0" * 64


def _digest(prev: str, at: datetime, actor: str, action: str, person_id: int | None, detail: dict) -> str:
    body = json.dumps(
        {"at": at.isoformat(), "actor": actor, "action": action, "person": person_id, "detail": detail},
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256((prev + body).encode()).hexdigest()


def append(
    session: Session, actor: str, action: str, person_id: int | None = None, **detail: object
) -> AuditEntry:
    # The UPDATE comes first: it takes the lock before anything is read.
    session.execute(
        update(AuditChainHead).where(AuditChainHead.id == 1).values(entries=AuditChainHead.entries + 1)
    )
    prev = session.execute(select(AuditChainHead.last_hash).where(AuditChainHead.id == 1)).scalar_one()
    at = datetime.now(UTC).replace(microsecond=0)
    entry = AuditEntry(
        at=at,
        actor=actor,
        action=action,
        person_id=person_id,
        detail=detail,
        prev_hash=prev,
        hash=_digest(prev, at, actor, action, person_id, detail),
    )
    session.add(entry)
    session.flush()
    session.execute(update(AuditChainHead).where(AuditChainHead.id == 1).values(last_hash=entry.hash))
    return entry


def verify_chain(session: Session) -> int | None:
    """None if the chain is intact, else the id of the first entry that does not verify."""
    prev = GENESIS
    for entry in session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars():
        at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=UTC)
        if entry.prev_hash != prev or entry.hash != _digest(
            prev, at, entry.actor, entry.action, entry.person_id, entry.detail
        ):
            return entry.id
        prev = entry.hash
    return None
