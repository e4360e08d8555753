"""Writing down what happened: the attempt, and on a pass the certification with its next due
date, payment date and back pay (``rules.certify``), the payment event and the audit entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy.orm import Session

from api.certification import audit, duplicates, register_index
from api.certification.clock import utcnow
from api.certification.errors import FACE_MISMATCH, NEEDS_STAFF_REVIEW
from api.certification.judging import Judgement
from api.certification.outcome import Decision, OutcomeKind, ReviewKind, decide_outcome
from api.certification.rules import assess, certify
from api.certification.screening import other_person_match
from api.certification.storage.schema import (
    Attempt,
    Certification,
    ChallengeSession,
    Client,
    FaceReference,
    PaymentEvent,
    Person,
    Review,
)

if TYPE_CHECKING:
    from api.certification.service import CertificationService


@dataclass
class AttemptResult:
    """The result of one uploaded response, as the kiosk or phone shows it."""

    outcome: str
    attempt_id: int
    reasons: list[dict[str, str]]
    match_score: float | None
    next_due: date | None = None
    payment_date: date | None = None
    back_paid_months: list[list[int]] = field(default_factory=list)
    certification_id: int | None = None
    analysis_ms: float | None = None


def record(
    svc: CertificationService,
    s: Session,
    cs: ChallengeSession,
    judged: Judgement,
    actor: str,
    today: date | None = None,
    staff: Client | None = None,
) -> AttemptResult:
    """Write the attempt and, on a pass, the certification with due and payment dates."""
    person = s.get(Person, cs.person_id)
    assert person is not None  # sessions reference persons by foreign key
    today = today or svc.today()
    before = assess(svc.policy_for(person), svc.record_of(person), today)
    look_alike = _screen(svc, s, person, judged, cs.proxy_id)
    decision = decide_outcome(
        live=judged.live,
        score=judged.score,
        threshold=svc.matcher.threshold,
        look_alike=look_alike is not None,
        needs_review=before.status == "needs_review",
        presentation_doubt=judged.referred,
    )
    calibration = svc.matcher.calibration.source
    attempt = _attempt(
        s, cs, person, judged, decision, actor, threshold=svc.matcher.threshold, calibration=calibration
    )
    result = AttemptResult(str(decision.outcome), attempt.id, list(attempt.reasons), judged.score)
    result.analysis_ms = judged.analysis_ms
    if decision.review is not None:
        detail = look_alike or _review_detail(decision, judged, before.months_since_certification)
        s.add(
            Review(
                person_id=person.id,
                kind=str(decision.review),
                attempt_id=attempt.id,
                created_at=utcnow(),
                detail=detail,
            )
        )
        result.reasons.append(NEEDS_STAFF_REVIEW.as_dict())
    elif decision.outcome is OutcomeKind.PASSED:
        assert judged.embedding is not None
        cert = certify_person(
            svc,
            s,
            person,
            today,
            channel=cs.channel,
            method="face",
            attempt=attempt,
            proxy_id=cs.proxy_id,
            staff=staff,
            actor=actor,
        )
        keep_live_capture(svc, s, person, judged.embedding, attempt)
        result.next_due, result.payment_date = cert.next_due, cert.payment_date
        result.back_paid_months = cert.back_paid_months
        result.certification_id = cert.id
    return result


def _review_detail(decision: Decision, judged: Judgement, months: int) -> dict[str, object]:
    """What staff are shown besides the attempt: the doubting checks' evidence, or the months
    since the last certification (the 24-month rule)."""
    if decision.review is ReviewKind.POSSIBLE_PRESENTATION_ATTACK and judged.liveness is not None:
        doubting = [c for c in judged.liveness.checks if c.refers_to_staff and not c.passed]
        return {
            "checks": {c.name: c.evidence for c in doubting},
            "reasons": [r.code for r in judged.liveness.referrals],
        }
    return {"months_since_certification": months}


def _screen(
    svc: CertificationService, s: Session, person: Person, judged: Judgement, proxy_id: int | None
) -> dict[str, object] | None:
    """Only a live face that matched its own references is screened against everyone else;
    while a duplicate-reference review naming the person is open, it goes to staff anyway."""
    if not judged.live or judged.score is None or judged.score < svc.matcher.threshold:
        return None
    assert judged.embedding is not None  # a live result always carries its best frame
    held = duplicates.standing(s, person.id)
    finding = other_person_match(
        svc, s, person, judged.embedding, judged.score, proxy_id, cleared=held.cleared
    )
    return duplicates.held_finding(finding, held, person.id, judged.score)


def _attempt(
    s: Session,
    cs: ChallengeSession,
    person: Person,
    judged: Judgement,
    decision: Decision,
    actor: str,
    *,
    threshold: float,
    calibration: str,
) -> Attempt:
    """The attempt with its evidence: every check, the reference used and its age, and the
    threshold and calibration the decision was taken under (so a later recalibration can be
    audited against it)."""
    reasons: list[dict[str, str]] = []
    if judged.error is not None:
        reasons.append(judged.error.as_dict())
    elif judged.liveness is not None:
        reasons += [r.as_dict() for r in judged.liveness.reasons]
    if decision.face_mismatch:
        reasons.append(FACE_MISMATCH.as_dict())
    if decision.review is ReviewKind.POSSIBLE_PRESENTATION_ATTACK and judged.liveness is not None:
        reasons += [r.as_dict() for r in judged.liveness.referrals]  # what staff will check
    liveness = judged.liveness
    evidence = {
        "checks": [c.as_dict() for c in liveness.checks] if liveness else [],
        "best_frame": liveness.best_frame if liveness else None,
        "reference": judged.reference,
        "threshold": threshold,
        "calibration": calibration,
    }
    attempt = Attempt(
        session_id=cs.id,
        person_id=person.id,
        channel=cs.channel,
        outcome=str(decision.outcome),
        liveness_passed=judged.live,
        match_score=judged.score,
        reasons=reasons,
        evidence=evidence,
        created_at=utcnow(),
    )
    s.add(attempt)
    s.flush()
    score = None if judged.score is None else round(judged.score, 4)
    audit.append(
        s,
        actor,
        "attempt_recorded",
        person.id,
        attempt=attempt.id,
        outcome=str(decision.outcome),
        score=score,
    )
    return attempt


def keep_live_capture(
    svc: CertificationService, s: Session, person: Person, embedding: np.ndarray, attempt: Attempt
) -> None:
    """The passed live capture becomes a reference, so the age gap to the ID photo shrinks.
    No enrolment de-duplication here (``duplicates.flag``): this face was just screened
    against the register by the same search, and passed only because nothing was found and
    no duplicate-reference review naming the person is open."""
    ref = FaceReference(
        person_id=person.id,
        embedding=svc.cipher.seal_template(embedding),
        preset=svc.matcher.preset.key,
        source="live_capture",
        attempt_id=attempt.id,
        created_at=utcnow(),
    )
    s.add(ref)
    register_index.added(svc, s, ref, embedding)  # issue 13: keep the register index in step


def certify_person(
    svc: CertificationService,
    s: Session,
    person: Person,
    today: date,
    *,
    channel: str,
    method: str,
    attempt: Attempt | None,
    proxy_id: int | None,
    staff: Client | None,
    actor: str,
    evidence: dict[str, object] | None = None,
) -> Certification:
    """The certification on ``today`` with what the rules make of it (due date, back pay)."""
    effect = certify(svc.policy_for(person), svc.record_of(person), today)
    back_paid = [list(m) for m in effect.back_paid_months]
    cert = Certification(
        person_id=person.id,
        certified_on=today,
        channel=channel,
        method=method,
        proxy_id=proxy_id,
        staff_client_id=staff.id if staff else None,
        attempt_id=attempt.id if attempt else None,
        next_due=effect.next_due,
        payment_date=effect.payment_date,
        back_paid_months=back_paid,
        evidence=evidence or {},
        created_at=utcnow(),
    )
    s.add(cert)
    if back_paid:
        s.add(
            PaymentEvent(
                person_id=person.id,
                kind="restored",
                payment_date=effect.payment_date,
                back_paid_months=back_paid,
                created_at=utcnow(),
            )
        )
    s.flush()
    s.refresh(person)
    audit.append(
        s,
        actor,
        "certified",
        person.id,
        certification=cert.id,
        channel=channel,
        method=method,
        next_due=effect.next_due.isoformat(),
    )
    return cert
