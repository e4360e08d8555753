"""Domain objects as the HTTP contract shows them."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.certification import people
from api.certification.recording import AttemptResult
from api.certification.service import CertificationService
from api.certification.storage.schema import Client, Person, Review
from api.http.schemas import OutcomeOut, PersonOut, ReviewOut


def person_view(service: CertificationService, person: Person) -> PersonOut:
    """A person with the masked ID number and the status computed now (never stored)."""
    status = people.status_of(service, person)
    return PersonOut(
        person_id=person.id,
        name=person.name,
        id_number_masked=people.masked_id(service, person),
        category=person.category,
        policy=person.policy,
        status=status.status,
        due_date=status.due_date,
    )


def review_view(service: CertificationService, s: Session, review: Review) -> ReviewOut:
    """A review with both persons it names, as the person views show them (masked ID
    numbers, never clear ones), so staff can tell the two records apart without a search."""
    out = ReviewOut.model_validate(review)
    person = s.get(Person, review.person_id)
    out.person = person_view(service, person) if person else None
    other_id = review.detail.get("other_person_id")
    other = s.get(Person, int(other_id)) if isinstance(other_id, int) else None
    out.other_person = person_view(service, other) if other else None
    return out


def outcome_view(result: AttemptResult, client: Client) -> OutcomeOut:
    """Kiosks and the app get pass/fail and the reasons, never the match score (GB/T
    38671-2020 6.1.6.6: a score helps an attacker tune a forgery); staff and the audit keep it."""
    out = OutcomeOut.model_validate(result)
    if client.role not in ("staff", "admin"):
        out.match_score = None
    return out
