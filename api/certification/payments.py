"""Monthly payment runs: decided once, after the cut-off, recording whose pay is withheld."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from api.certification import audit
from api.certification.clock import utcnow
from api.certification.errors import INVALID, RUN_DONE, RUN_NOT_DUE, DomainError, Kind
from api.certification.rules import month_end, payment_in_run, run_day
from api.certification.storage.schema import PaymentEvent, PaymentRun, Person

if TYPE_CHECKING:
    from api.certification.service import CertificationService

# Every person with their certification dates loaded in one query, not one per person.
EVERYONE = select(Person).options(selectinload(Person.certifications)).order_by(Person.id)

# How a payment run records a withheld month: suspended (back-paid on return) or held until
# staff review a proof (the 24-month rule).
WITHHELD = {"suspended": "suspended", "needs_review": "held_for_review"}


def parse_month(month: str) -> date:
    try:
        year, number = (int(part) for part in month.split("-"))
        if len(month) != 7:
            raise ValueError(month)
        return date(year, number, 1)
    except ValueError as exc:
        raise DomainError(Kind.INVALID, INVALID, "month must be YYYY-MM") from exc


def payment_run(svc: CertificationService, s: Session, month: str, actor: str) -> PaymentRun:
    """Decide one month's run for everyone and record, as payment events, whose pay it
    withholds. Once per month (the payment system acts on it); refused before the month's
    cut-off, because a certification up to then still counts for that month."""
    first = parse_month(month)
    key = (first.year, first.month)
    decided_on = max(run_day(p, key) for p in svc.policies.values())
    if decided_on > svc.today():
        raise DomainError(Kind.CONFLICT, RUN_NOT_DUE, f"decided from {decided_on.isoformat()}")
    if s.execute(select(PaymentRun).where(PaymentRun.month == month)).scalar_one_or_none():
        raise DomainError(Kind.CONFLICT, RUN_DONE)
    run = PaymentRun(month=month, decided_on=decided_on, counts={}, actor=actor, created_at=utcnow())
    s.add(run)
    try:
        s.flush()
    except IntegrityError as exc:  # the same month run at the same moment elsewhere
        raise DomainError(Kind.CONFLICT, RUN_DONE) from exc
    counts = {"paid": 0, "suspended": 0, "needs_review": 0, "stopped": 0, "invalid_record": 0}
    for person in s.execute(EVERYONE).scalars():
        policy = svc.policy_for(person)
        if person.benefit_start > run_day(policy, key):
            continue  # benefits not begun: not in this run
        try:
            decision = payment_in_run(policy, svc.record_of(person), key)
        except (ValueError, OverflowError):  # dates the rules cannot use: staff see it listed
            counts["invalid_record"] += 1
            continue
        counts[decision] += 1
        if decision in WITHHELD:
            s.add(
                PaymentEvent(
                    person_id=person.id,
                    kind=WITHHELD[decision],
                    payment_date=month_end(first),
                    run_id=run.id,
                    created_at=utcnow(),
                )
            )
    counts["back_paid"] = s.execute(
        select(func.count(PaymentEvent.id)).where(
            PaymentEvent.kind == "restored",
            PaymentEvent.payment_date >= first,
            PaymentEvent.payment_date <= month_end(first),
        )
    ).scalar_one()
    run.counts = counts
    audit.append(s, actor, "payment_run", None, month=month, **counts)
    return run


def withheld_in_run(s: Session, month: str) -> tuple[PaymentRun, list[tuple[Person, str]]]:
    """A recorded run and the persons whose pay it withheld, with the kind of hold."""
    run = s.execute(select(PaymentRun).where(PaymentRun.month == month)).scalar_one_or_none()
    if run is None:
        raise DomainError(Kind.NOT_FOUND, INVALID, f"no payment run recorded for {month}")
    rows = s.execute(
        select(Person, PaymentEvent.kind)
        .join(PaymentEvent, PaymentEvent.person_id == Person.id)
        .where(PaymentEvent.run_id == run.id)
        .order_by(Person.id)
    ).all()
    return run, [(person, kind) for person, kind in rows]
