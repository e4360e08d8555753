"""The certification rules engine: pure functions from (policy, person, date) to decisions.

Nothing here reads a clock or a database: handlers pass ``today`` and the person's dates,
so every rule is a table test. Month arithmetic is dateutil's ``relativedelta``, which
clamps to the month's last day (certified 31 January + 1 month -> 28/29 February).

Readings of RULES.md that are choices, stated once here:
- Rolling cycles: the first cycle starts the month after benefits start, so the first due
  date is the last day of the month N months after the start month (benefits from March
  2018 -> due by 31 March 2019). After a certification on day C, the next is due C + N
  months, to the day: certifying early restarts the cycle from that day.
- Windows: the first window that needs a certification is the one holding the month
  after benefits start. Each later window needs one certification; a certification in a
  later window restores payments, and the missed window stays missed (its months back-paid).
- Payment runs are monthly; a certification on day 1 .. cutoff-1 counts for that month's
  run (paid at month end), on the cutoff day or later for the next month's (paid on the
  20th). A month's run is suspended when the due date fell before that month's cutoff.
- 24-month rule: 24 or more months since the last certification (or since the first cycle
  started) means a face check alone cannot restore payments: staff review a proof.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date

from dateutil.relativedelta import relativedelta

from api.certification.rules.policy import CycleRule, Policy

Month = tuple[int, int]  # (year, month)


@dataclass(frozen=True)
class PersonRecord:
    """What the rules need to know about one benefit recipient."""

    category: str
    benefit_start: date
    certifications: tuple[date, ...] = ()
    deceased_on: date | None = None

    @property
    def last_certification(self) -> date | None:
        return max(self.certifications) if self.certifications else None


@dataclass(frozen=True)
class Assessment:
    status: str  # active | due_soon | suspended | needs_review | deceased
    due_date: date | None
    suspended_months: list[Month] = field(default_factory=list)
    months_since_certification: int = 0


@dataclass(frozen=True)
class Restoration:
    """What a certification on ``certified_on`` does to payments."""

    certified_on: date
    next_due: date
    payment_date: date
    back_paid_months: list[Month]
    needs_review: bool


def month_end(d: date) -> date:
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


def payment_date(certified_on: date, policy: Policy) -> date:
    """Day 1..cutoff-1 -> that month's end; cutoff or later -> the 20th of next month."""
    if certified_on.day < policy.payday_cutoff_day:
        return month_end(certified_on)
    return (certified_on + relativedelta(months=1)).replace(day=policy.late_payment_day)


def _window_start(d: date, months: int) -> date:
    return date(d.year, (d.month - 1) // months * months + 1, 1)


def _window_end(start: date, months: int) -> date:
    return start + relativedelta(months=months) - relativedelta(days=1)


def due_date(rule: CycleRule, benefit_start: date, certifications: tuple[date, ...]) -> date:
    """The last day on which a certification keeps payments running."""
    cycle_start = benefit_start.replace(day=1) + relativedelta(months=1)
    if rule.cycle == "rolling":
        last = max(certifications) if certifications else None
        if last is None:
            return month_end(benefit_start + relativedelta(months=rule.months))
        return last + relativedelta(months=rule.months)
    # Calendar windows: the first window not yet covered, counting from the window of the
    # latest certification (a missed window is history once a later one is certified).
    window = _window_start(max((cycle_start, *certifications)), rule.months)
    while any(window <= c <= _window_end(window, rule.months) for c in certifications):
        window += relativedelta(months=rule.months)
    return _window_end(window, rule.months)


def _months_between(a: date, b: date) -> int:
    rd = relativedelta(b, a)
    return rd.years * 12 + rd.months


def _suspended_months(policy: Policy, due: date, until: date) -> list[Month]:
    """Payment runs from the first one whose cutoff is after ``due`` up to ``until``'s month."""
    months: list[Month] = []
    m = due.replace(day=1)
    while m <= until.replace(day=1):
        if m.replace(day=policy.payday_cutoff_day - 1) > due:
            months.append((m.year, m.month))
        m += relativedelta(months=1)
    return months


def assess(policy: Policy, person: PersonRecord, today: date) -> Assessment:
    """Status on ``today``: deceased, needs_review, suspended, due_soon or active."""
    if person.deceased_on is not None and person.deceased_on <= today:
        return Assessment("deceased", None)
    rule = policy.rule_for(person.category)
    past = tuple(c for c in person.certifications if c <= today)
    due = due_date(rule, person.benefit_start, past)
    anchor = max(past) if past else person.benefit_start.replace(day=1) + relativedelta(months=1)
    gap = max(0, _months_between(anchor, today))
    if today > due:
        suspended = _suspended_months(policy, due, today)
        status = "needs_review" if gap >= policy.review_after_months else "suspended"
        return Assessment(status, due, suspended, gap)
    if (due - today).days <= policy.reminder_days:
        return Assessment("due_soon", due, [], gap)
    return Assessment("active", due, [], gap)


def certify(policy: Policy, person: PersonRecord, certified_on: date) -> Restoration:
    """The effect of a valid certification on ``certified_on``: next due date, payment date,
    months back-paid, and whether staff must review a proof first (24-month rule)."""
    before = assess(policy, person, certified_on)
    if before.status == "deceased":
        raise ValueError("a deceased person cannot be certified")
    pay = payment_date(certified_on, policy)
    # Months whose run was stopped and are now paid together with the next payment.
    pay_month = (pay.year, pay.month)
    back = [m for m in before.suspended_months if m < pay_month]
    after = PersonRecord(
        person.category, person.benefit_start, (*person.certifications, certified_on), person.deceased_on
    )
    next_due = due_date(policy.rule_for(person.category), after.benefit_start, after.certifications)
    return Restoration(certified_on, next_due, pay, back, before.status == "needs_review")


def run_day(policy: Policy, month: Month) -> date:
    """The day a month's payment run is decided: the last day a certification still counts
    for that month's pay (the day before the payday cut-off)."""
    return date(month[0], month[1], policy.payday_cutoff_day - 1)


def payment_in_run(policy: Policy, person: PersonRecord, month: Month) -> str:
    """What the payment run of ``month`` does for one person: ``paid``; withheld as
    ``suspended`` (back-paid on return) or ``needs_review`` (withheld until staff review a
    proof, the 24-month rule); or ``stopped`` (deceased)."""
    a = assess(policy, person, run_day(policy, month))
    if a.status == "deceased":
        return "stopped"
    if month in a.suspended_months:
        return a.status
    return "paid"
