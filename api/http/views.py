"""Domain objects as the HTTP contract shows them."""

from __future__ import annotations

from api.certification import people
from api.certification.service import CertificationService
from api.certification.storage.schema import Person
from api.http.schemas import PersonOut


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
