"""Cases staff decide: possible impersonation, the 24-month proof, remote forms (协助认证表),
attempts for a person recorded as deceased."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.certification import audit
from api.certification.clock import utcnow
from api.certification.errors import DECEASED, INVALID, DomainError, Kind
from api.certification.outcome import ReviewKind
from api.certification.recording import certify_person
from api.certification.storage.schema import Attempt, Certification, Client, Person, Review

if TYPE_CHECKING:
    from api.certification.service import CertificationService


def open_reviews(s: Session) -> list[Review]:
    return list(s.execute(select(Review).where(Review.status == "open").order_by(Review.id)).scalars())


def get_review(s: Session, review_id: int) -> Review:
    review = s.get(Review, review_id)
    if review is None:
        raise DomainError(Kind.NOT_FOUND, INVALID, "unknown review")
    return review


def remote_form(s: Session, person: Person, staff: Client, scan: bytes, note: str) -> Review:
    """A 协助认证表 signed by an agency elsewhere: recorded for a second staff decision."""
    if person.deceased_on is not None:
        raise DomainError(Kind.CONFLICT, DECEASED)
    review = Review(
        person_id=person.id,
        kind=str(ReviewKind.REMOTE_FORM),
        created_at=utcnow(),
        detail={"note": note[:500], "scan_bytes": len(scan), "scan_sha256": hashlib.sha256(scan).hexdigest()},
    )
    s.add(review)
    s.flush()
    audit.append(s, staff.name, "remote_form_received", person.id, review=review.id)
    return review


def decide_review(
    svc: CertificationService,
    s: Session,
    review: Review,
    staff: Client,
    approve: bool,
    note: str,
    today: date | None = None,
) -> Certification | None:
    """Record the decision; an approval certifies, except for the deceased."""
    if review.status != "open":
        raise DomainError(Kind.CONFLICT, INVALID, "review already decided")
    review.status = "approved" if approve else "rejected"
    review.decided_by, review.decided_at = staff.id, utcnow()
    audit.append(s, staff.name, "review_decided", review.person_id, review=review.id, approved=approve)
    person = s.get(Person, review.person_id)
    assert person is not None  # reviews reference persons by foreign key
    if not approve or review.kind == ReviewKind.DECEASED_ATTEMPT or person.deceased_on is not None:
        return None
    attempt = s.get(Attempt, review.attempt_id) if review.attempt_id else None
    if review.kind == ReviewKind.REMOTE_FORM:
        channel, method = "remote", "form"
    else:
        channel, method = (attempt.channel if attempt else "counter"), "face"
    return certify_person(
        svc,
        s,
        person,
        today or svc.today(),
        channel=channel,
        method=method,
        attempt=attempt,
        proxy_id=None,
        staff=staff,
        actor=staff.name,
        evidence={"review": review.id, "note": note[:500]},
    )
