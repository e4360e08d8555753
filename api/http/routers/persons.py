"""Staff work on one person: search, history, ID photo, remote forms, phone number."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from starlette.concurrency import run_in_threadpool

from api.certification import audit, enrolment, people, reviews
from api.http.deps import Service, Staff
from api.http.schemas import (
    CertificationOut,
    Enrolled,
    PersonHistory,
    PersonOut,
    PhoneIn,
    ReferenceOut,
    ReviewCreated,
    RowId,
    SearchIn,
    Updated,
)
from api.http.uploads import read_limited
from api.http.views import person_view

router = APIRouter(tags=["staff"])


@router.post("/v1/persons/search")
def search(body: SearchIn, service: Service, client: Staff) -> list[PersonOut]:
    """By name, or by full ID number. A POST body, not a query string: URLs end up in
    access logs, and ID numbers must never be logged."""
    with service.db.transaction() as s:
        rows = people.search(service, s, body.q)
        audit.append(s, client.name, "search", results=len(rows))
        return [person_view(service, p) for p in rows]


@router.get("/v1/persons/{person_id:int}")
def person_history(person_id: RowId, service: Service, client: Staff) -> PersonHistory:
    with service.db.transaction() as s:
        person = people.get_person(s, person_id)
        audit.append(s, client.name, "person_viewed", person.id)
        return PersonHistory(
            person=person_view(service, person),
            phone=person.phone,
            certifications=[CertificationOut.model_validate(c) for c in person.certifications],
            references=[ReferenceOut.model_validate(r) for r in person.references],
        )


@router.post("/v1/persons/{person_id:int}/id-photo")
async def enrol_photo(
    person_id: RowId, service: Service, client: Staff, photo: Annotated[UploadFile, File()]
) -> Enrolled:
    data = await photo.read(service.settings.max_image_bytes + 1)

    def enrol() -> Enrolled:  # decoding and the face models: off the event loop
        with service.db.transaction() as s:
            person = people.get_person(s, person_id)
            done = enrolment.enrol_photo(service, s, person, data, client.name, staff=client)
            review = done.duplicate_review
            return Enrolled(
                reference_id=done.reference.id,
                quality=done.reference.quality,
                duplicate_review_id=review.id if review else None,
            )

    return await run_in_threadpool(enrol)


@router.post("/v1/persons/{person_id:int}/remote-form")
async def remote_form(
    person_id: RowId,
    service: Service,
    client: Staff,
    scan: Annotated[UploadFile, File()],
    note: Annotated[str, Form()] = "",
) -> ReviewCreated:
    data = await read_limited(scan, service.settings.max_image_bytes)

    def receive() -> ReviewCreated:
        with service.db.transaction() as s:
            person = people.get_person(s, person_id)
            return ReviewCreated(review_id=reviews.remote_form(service, s, person, client, data, note).id)

    return await run_in_threadpool(receive)


@router.patch("/v1/persons/{person_id:int}/phone")
def fix_phone(person_id: RowId, body: PhoneIn, service: Service, client: Staff) -> Updated:
    """Reminders go by SMS to the phone on record, so a wrong number must be fixable."""
    with service.db.transaction() as s:
        people.update_phone(s, people.get_person(s, person_id), body.phone, client.name)
        return Updated(updated=True)
