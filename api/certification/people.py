"""Finding people: by ID number and name (the frontline), by id (staff), by search."""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from api.certification import audit
from api.certification.errors import INVALID, NOT_FOUND, DomainError, Kind
from api.certification.rules import Assessment, assess
from api.certification.security import mask_id
from api.certification.storage.schema import Person

if TYPE_CHECKING:
    from api.certification.service import CertificationService

SEARCH_LIMIT = 100
log = logging.getLogger("lifecert.people")


def find_person(svc: CertificationService, s: Session, id_number: str, name: str) -> Person:
    """Both must match: an ID number alone does not open a person's record."""
    person = s.execute(select(Person).where(Person.id_hash == svc.id_hash(id_number))).scalar_one_or_none()
    if person is None or person.name.strip() != name.strip():
        raise DomainError(Kind.NOT_FOUND, NOT_FOUND)
    return person


def get_person(s: Session, person_id: int) -> Person:
    person = s.get(Person, person_id)
    if person is None:
        raise DomainError(Kind.NOT_FOUND, NOT_FOUND)
    return person


def search(svc: CertificationService, s: Session, query: str) -> list[Person]:
    """By part of the name, or by the full ID number (matched through its keyed hash)."""
    rows = s.execute(
        select(Person)
        .where(or_(Person.name.contains(query.strip()), Person.id_hash == svc.id_hash(query)))
        .order_by(Person.id)
        .limit(SEARCH_LIMIT)
    ).scalars()
    return list(rows)


INVALID_RECORD = "invalid_record"


def status_of(svc: CertificationService, person: Person, today: date | None = None) -> Assessment:
    """The status on ``today``. A record whose dates the rules cannot compute with (stored
    before imports checked them) shows as ``invalid_record`` for staff to correct, instead of
    failing the list or search it appears in for everyone."""
    try:
        return assess(svc.policy_for(person), svc.record_of(person), today or svc.today())
    except (ValueError, OverflowError):
        log.warning("person %s has dates the rules cannot use", person.id)
        return Assessment(INVALID_RECORD, None)


def masked_id(svc: CertificationService, person: Person) -> str:
    return mask_id(svc.cipher.decrypt(person.id_encrypted))


def update_phone(s: Session, person: Person, phone: str, actor: str) -> None:
    """Reminders go by SMS to the phone on record, so a wrong number must be fixable."""
    if not phone.isdigit() or not 7 <= len(phone) <= 15:
        raise DomainError(Kind.INVALID, INVALID, "phone must be 7-15 digits")
    person.phone = phone
    audit.append(s, actor, "phone_updated", person.id)
