"""The append-only audit log, verified on every read (admins only)."""

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from api.certification import audit
from api.certification.storage.schema import AuditEntry
from api.http.deps import Admin, Service
from api.http.schemas import AuditEntryOut, AuditLog

router = APIRouter(tags=["staff"])


@router.get("/v1/audit")
def audit_log(
    service: Service,
    client: Admin,
    person_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> AuditLog:
    with service.db.transaction() as s:
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if person_id is not None:
            query = query.where(AuditEntry.person_id == person_id)
        entries = s.execute(query).scalars().all()
        broken = audit.verify_chain(s)
        return AuditLog(
            chain_intact=broken is None,
            first_broken_entry=broken,
            entries=[AuditEntryOut.model_validate(e) for e in entries],
        )
