"""Staff lists: who is due soon (SMS reminders), who is overdue (suspended or in review)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from api.certification.errors import INVALID, DomainError, Kind
from api.certification.payments import EVERYONE
from api.certification.people import INVALID_RECORD, status_of
from api.certification.rules import Assessment
from api.certification.storage.schema import Person

if TYPE_CHECKING:
    from api.certification.service import CertificationService


class StatusList(StrEnum):
    DUE_SOON = "due-soon"
    OVERDUE = "overdue"


LIST_STATUSES = {
    StatusList.DUE_SOON: {"due_soon"},
    StatusList.OVERDUE: {"suspended", "needs_review"},
}


def status_list(name: str) -> StatusList:
    try:
        return StatusList(name)
    except ValueError as exc:
        raise DomainError(Kind.NOT_FOUND, INVALID, "lists: due-soon, overdue") from exc


def people_with_status(
    svc: CertificationService, s: Session, today: date, which: StatusList
) -> list[tuple[Person, Assessment]]:
    wanted = LIST_STATUSES[which] | {INVALID_RECORD}
    out = []
    for person in s.execute(EVERYONE).scalars():
        assessment = status_of(svc, person, today)
        if assessment.status in wanted:
            out.append((person, assessment))
    return out
