"""Cases staff decide: possible impersonation, the 24-month proof, remote forms (协助认证表),
attempts for a person recorded as deceased."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.certification import audit, duplicates
from api.certification.clock import utcnow
from api.certification.errors import BAD_UPLOAD, DECEASED, FOUR_EYES, INVALID, DomainError, Kind
from api.certification.outcome import ReviewKind
from api.certification.recording import certify_person
from api.certification.scans import media_type_of, scan_problem
from api.certification.storage.schema import Attempt, Certification, Client, Person, Review, ReviewDocument

if TYPE_CHECKING:
    from api.certification.service import CertificationService


def open_reviews(s: Session) -> list[Review]:
    return list(s.execute(select(Review).where(Review.status == "open").order_by(Review.id)).scalars())


def get_review(s: Session, review_id: int) -> Review:
    review = s.get(Review, review_id)
    if review is None:
        raise DomainError(Kind.NOT_FOUND, INVALID, "unknown review")
    return review


def remote_form(
    svc: CertificationService, s: Session, person: Person, staff: Client, scan: bytes, note: str
) -> Review:
    """A 协助认证表 signed by an agency elsewhere: the scan is checked and kept (encrypted),
    and the review waits for a decision by another staff member (four eyes)."""
    if person.deceased_on is not None:
        raise DomainError(Kind.CONFLICT, DECEASED)
    problem = scan_problem(scan)
    if problem is not None:
        raise DomainError(Kind.UNSUPPORTED, BAD_UPLOAD, problem)
    digest = hashlib.sha256(scan).hexdigest()
    review = Review(
        person_id=person.id,
        kind=str(ReviewKind.REMOTE_FORM),
        created_at=utcnow(),
        created_by=staff.id,
        detail={"note": note[:500], "scan_bytes": len(scan), "scan_sha256": digest},
    )
    s.add(review)
    s.flush()
    s.add(
        ReviewDocument(
            review_id=review.id,
            media_type=media_type_of(scan) or "",
            sha256=digest,
            sealed=svc.cipher.seal(scan),
            created_at=utcnow(),
        )
    )
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
    withdraw: duplicates.Withdraw | None = None,
) -> Certification | None:
    """Record the decision; an approval certifies, except for the deceased and for a
    duplicate-reference review, whose decision is about the two records, not a certification
    (``duplicates.decided``: approve = different people, reject = a photo withdrawn: the one
    enrolled, or with ``withdraw="other"`` the other record's)."""
    if review.status != "open":
        raise DomainError(Kind.CONFLICT, INVALID, "review already decided")
    if review.created_by is not None and review.created_by == staff.id:
        raise DomainError(Kind.FORBIDDEN, FOUR_EYES)
    if withdraw is not None and (approve or review.kind != ReviewKind.DUPLICATE_REFERENCE):
        raise DomainError(
            Kind.INVALID, INVALID, "withdraw applies to rejecting a duplicate_reference review only"
        )
    review.status = "approved" if approve else "rejected"
    review.decided_by, review.decided_at = staff.id, utcnow()
    audit.append(s, staff.name, "review_decided", review.person_id, review=review.id, approved=approve)
    if review.kind == ReviewKind.DUPLICATE_REFERENCE:
        duplicates.decided(s, review, staff.name, note, withdraw or "enrolled")
        return None
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


def review_scan(svc: CertificationService, s: Session, review: Review, staff: Client) -> tuple[str, bytes]:
    """(media type, bytes) of the review's scan, for the reviewer to read; audited."""
    document = s.execute(
        select(ReviewDocument).where(ReviewDocument.review_id == review.id)
    ).scalar_one_or_none()
    if document is None:
        raise DomainError(Kind.NOT_FOUND, INVALID, "this review has no scan")
    audit.append(s, staff.name, "review_scan_viewed", review.person_id, review=review.id)
    return document.media_type, svc.cipher.unseal(document.sealed)
