"""De-duplication of ID photos at enrolment (issue 13): one face on two pension records.

The fraud: a person collecting twice, or a relative's face enrolled on a dead person's record
so that the relative can certify for them. Certification-time screening (``screening``) only
sees it when a live face happens to score above the register threshold against the other
record; an ID photo is a cleaner image, so the enrolment is where one search settles it.

- ``flag``: after the quality gate, one search of the register index (the screening's index
  and its size-aware threshold, ``screening.register_limit``) for other persons' references,
  re-scored exactly from their sealed templates, and the person's household (the other living
  persons on the same phone number, ``screening.household_of``) at the 1:1 threshold. A match
  at or above its threshold opens a ``duplicate_reference`` review naming both persons, the
  score, the scope and both references; audited. The reference is stored all the same:
  refusing it would let one bad record block a real person, and the new photo may be the
  genuine one.
- While such a review is open, the certifications of BOTH persons that would pass go to staff
  instead (``held_finding``, a possible-impersonation review): which record carries the wrong
  face is what staff must find out, and the fraud is exactly someone certifying on it.
- Decisions (``decided``, from ``reviews.decide_review``; another staff member than the one
  who enrolled the photo, four eyes) certify nobody:
  - approve = staff checked the documents and these are different people (twins, look-alike
    relatives): the pair is *cleared*, and neither the screening nor a later enrolment flags
    the two against each other again (against anyone else, as before);
  - reject = the same face on two records, and the documents say which photo is wrong:
    by default the photo this enrolment added (``withdraw="enrolled"``), or the other record's
    photo it matched (``withdraw="other"``: the older record carried the wrong face, e.g. a
    relative's face enrolled on a dead person's record). That photo is withdrawn
    (``source = withdrawn``: kept, so the append-only index stays in step, never matched
    again); both records stay; the person whose photo went certifies on the references left,
    and with none left sessions answer ``no_reference_photo`` until staff enrol a new photo
    (checked again).

Two enrolments of one face at the same moment: each search sees only what is committed, so
without an order between them each would miss the other. ``flag`` runs one check at a time
across every process (``_one_check_at_a_time``): the later enrolment searches after the
earlier one has committed its photo, and flags it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session

from api.certification import audit, register_index, register_risk
from api.certification.clock import utcnow
from api.certification.outcome import ReviewKind
from api.certification.screening import best_of, household_of, register_limit
from api.certification.storage.schema import WITHDRAWN, Client, FaceReference, Person, Review

if TYPE_CHECKING:
    from api.certification.service import CertificationService

SCOPE = "duplicate_reference"
# Which photo a rejected duplicate-reference review withdraws.
Withdraw = Literal["enrolled", "other"]
# The advisory-lock key of the enrolment check (any fixed 64-bit number; "lifecert" in ASCII).
_CHECK_LOCK = 0x6C69666563657274


@dataclass(frozen=True)
class Standing:
    """A person's duplicate-reference reviews: the open ones (either side) and the persons
    staff cleared as someone else."""

    open: tuple[Review, ...]
    cleared: frozenset[int]


def _other(review: Review, person_id: int) -> int:
    """The other person a duplicate-reference review names, seen from ``person_id``."""
    other = int(review.detail["other_person_id"])
    return other if review.person_id == person_id else int(review.person_id)


def standing(s: Session, person_id: int) -> Standing:
    """Open and approved duplicate-reference reviews naming ``person_id`` on either side."""
    rows = s.execute(
        select(Review)
        .where(
            Review.kind == str(ReviewKind.DUPLICATE_REFERENCE),
            Review.status.in_(("open", "approved")),
            or_(
                Review.person_id == person_id,
                Review.detail["other_person_id"].as_integer() == person_id,
            ),
        )
        .order_by(Review.id)
    ).scalars()
    reviews = list(rows)
    return Standing(
        open=tuple(r for r in reviews if r.status == "open"),
        cleared=frozenset(_other(r, person_id) for r in reviews if r.status == "approved"),
    )


def flag(
    svc: CertificationService,
    s: Session,
    person: Person,
    ref: FaceReference,
    embedding: np.ndarray,
    actor: str,
    staff: Client | None = None,
) -> Review | None:
    """The duplicate-reference review for the ID photo ``ref`` just enrolled, or None."""
    _one_check_at_a_time(s)
    index = register_index.index_for(svc)
    limit = register_limit(svc, s, index)
    cleared = standing(s, person.id).cleared
    found = [
        h
        for h in index.search(s, embedding, register_risk.DEFAULT_K, exclude_person=person.id)
        if h.score >= limit.threshold and h.person_id not in cleared
    ]
    # The household (screening.household_of) at the 1:1 threshold: the relative whose own face
    # goes onto a parent's record is likely registered under the same phone, and the register
    # threshold (0.90 at scale on the East-Asian curve) lets most same-face pairs through.
    household = household_of(s, person) - cleared - {h.person_id for h in found}
    near = [h for h in best_of(svc, s, household, embedding) if h.score >= svc.matcher.threshold]
    found = sorted([*found, *near], key=lambda h: -h.score)
    if not found:
        return None
    best = found[0]
    in_household = best in near
    scope = "same_household" if in_household else "register"
    threshold = svc.matcher.threshold if in_household else limit.threshold
    review = Review(
        person_id=person.id,
        kind=str(ReviewKind.DUPLICATE_REFERENCE),
        created_at=utcnow(),
        created_by=staff.id if staff else None,
        detail={
            "reference_id": ref.id,
            "other_person_id": best.person_id,
            "other_reference_id": best.reference_id,
            "other_score": round(best.score, 4),
            "scope": scope,
            "threshold": round(threshold, 4),
            "register_expected_false_flags": round(limit.expected_false_reviews, 6),
            "candidates": [
                {"person_id": h.person_id, "reference_id": h.reference_id, "score": round(h.score, 4)}
                for h in found
            ],
        },
    )
    s.add(review)
    s.flush()
    audit.append(
        s,
        actor,
        "duplicate_reference_flagged",
        person.id,
        review=review.id,
        reference=ref.id,
        other_person=best.person_id,
        other_reference=best.reference_id,
        score=round(best.score, 4),
    )
    return review


def _one_check_at_a_time(s: Session) -> None:
    """Hold the enrolment check's lock until ``s`` commits. PostgreSQL: a transaction-level
    advisory lock (released by commit or rollback, never left behind by a killed worker).
    SQLite: the reference ``s`` has just written already holds the database's one write lock
    until commit, so nothing more is needed."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHECK_LOCK})


def held_finding(
    finding: dict[str, object] | None, held: Standing, person_id: int, own_score: float
) -> dict[str, object] | None:
    """The screening's ``finding`` for a would-pass certification, marked with the open
    duplicate-reference review naming the person; while one is open, a certification the
    screening found nothing against gets a finding all the same (to staff, not passed)."""
    if not held.open:
        return finding
    review = held.open[0]
    base = finding or {
        "other_person_id": _other(review, person_id),
        "other_score": review.detail.get("other_score"),
        "own_score": round(own_score, 4),
        "scope": SCOPE,
        "threshold": review.detail.get("threshold"),
    }
    return {**base, "duplicate_review_id": review.id}


def decided(s: Session, review: Review, actor: str, note: str, withdraw: Withdraw) -> None:
    """What a decided duplicate-reference review does (see the module doc): the staff note
    kept with it (no certification carries it); nothing more on approval (the pair counts as
    cleared from now on); on a rejection the photo ``withdraw`` names is withdrawn."""
    review.detail = {**review.detail, "decision_note": note[:500]}
    if review.status != "rejected":
        return
    review.detail = {**review.detail, "withdrawn": withdraw}
    key = "reference_id" if withdraw == "enrolled" else "other_reference_id"
    ref = s.get(FaceReference, int(review.detail[key]))
    if ref is None or ref.source == WITHDRAWN:
        return
    ref.source = WITHDRAWN
    audit.append(s, actor, "reference_withdrawn", ref.person_id, reference=ref.id, review=review.id)
