"""The certification rules of ../shared/domain/RULES.md as table tests, plus invariants."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given, settings
from hypothesis import strategies as st

from api.certification.rules import (
    CATEGORIES,
    PersonRecord,
    Policy,
    PolicyError,
    assess,
    certify,
    load_policies,
    payment_date,
    payment_in_run,
    run_day,
)
from api.certification.rules.engine import due_date

POLICIES = load_policies()
NATIONAL = POLICIES["national-default"]
ARXAN = POLICIES["arxan-2023"]


def test_both_policies_ship_and_cover_every_category() -> None:
    assert {"national-default", "arxan-2023"} <= set(POLICIES)
    for policy in (NATIONAL, ARXAN):
        assert set(policy.rules) == set(CATEGORIES)


# RULES.md: "benefits from March 2018 -> due March 2019; certified early in February 2019
# -> next due February 2020".
def test_rolling_example_from_the_sources() -> None:
    person = PersonRecord("retiree", date(2018, 3, 1))
    first = assess(NATIONAL, person, date(2018, 12, 1))
    assert first.due_date == date(2019, 3, 31) and first.status == "active"
    restored = certify(NATIONAL, person, date(2019, 2, 12))
    assert restored.next_due == date(2020, 2, 12)


@pytest.mark.parametrize(
    ("certified", "due"),
    [
        (date(2020, 2, 29), date(2021, 2, 28)),  # leap day -> last day of February
        (date(2019, 1, 31), date(2020, 1, 31)),
        (date(2023, 12, 31), date(2024, 12, 31)),
    ],
)
def test_rolling_due_date_clamps_to_month_end(certified: date, due: date) -> None:
    rule = NATIONAL.rule_for("retiree")
    assert due_date(rule, date(2015, 6, 1), (certified,)) == due


# RULES.md: half-year windows - none in January-June -> suspended in July; none in
# July-December -> suspended the next January.
@pytest.mark.parametrize("category", ["resident_pension", "work_injury", "work_injury_dependent"])
def test_half_year_windows(category: str) -> None:
    person = PersonRecord(category, date(2020, 11, 10), (date(2022, 9, 1),))
    assert assess(ARXAN, person, date(2023, 3, 1)).due_date == date(2023, 6, 30)
    july = assess(ARXAN, person, date(2023, 7, 5))
    assert july.status == "suspended" and july.suspended_months == [(2023, 7)]
    certified_in_spring = PersonRecord(category, person.benefit_start, (date(2023, 4, 2),))
    assert assess(ARXAN, certified_in_spring, date(2023, 12, 1)).due_date == date(2023, 12, 31)
    january = assess(ARXAN, certified_in_spring, date(2024, 1, 3))
    assert january.status == "suspended" and january.suspended_months == [(2024, 1)]


def test_quarter_windows_for_supported_relatives() -> None:
    person = PersonRecord("supported_relative", date(2021, 1, 5), (date(2023, 2, 10),))
    assert assess(ARXAN, person, date(2023, 3, 1)).due_date == date(2023, 6, 30)
    late = assess(ARXAN, person, date(2023, 7, 1))
    assert late.status == "suspended" and late.suspended_months == [(2023, 7)]


def test_monthly_window_for_enterprise_survivors() -> None:
    person = PersonRecord("enterprise_survivor", date(2022, 1, 1), (date(2023, 5, 30),))
    assert assess(ARXAN, person, date(2023, 6, 10)).due_date == date(2023, 6, 30)
    july = assess(ARXAN, person, date(2023, 7, 1))
    assert july.status == "suspended" and july.suspended_months == [(2023, 7)]


def test_national_policy_rolls_for_survivors_too() -> None:
    person = PersonRecord("enterprise_survivor", date(2022, 1, 1), (date(2023, 5, 30),))
    assert assess(NATIONAL, person, date(2023, 7, 1)).due_date == date(2024, 5, 30)


# RULES.md (Weifang): certified on day 1-27 -> paid at that month's end; on or after the
# 28th -> paid on the 20th of the next month, with any back pay.
@pytest.mark.parametrize(
    ("certified", "paid"),
    [
        (date(2024, 5, 1), date(2024, 5, 31)),
        (date(2024, 4, 27), date(2024, 4, 30)),
        (date(2024, 2, 27), date(2024, 2, 29)),
        (date(2023, 2, 27), date(2023, 2, 28)),
        (date(2024, 4, 28), date(2024, 5, 20)),
        (date(2024, 12, 31), date(2025, 1, 20)),
    ],
)
def test_payment_date(certified: date, paid: date) -> None:
    assert payment_date(certified, NATIONAL) == paid


def test_suspension_and_back_pay_on_return() -> None:
    person = PersonRecord("retiree", date(2010, 1, 1), (date(2023, 2, 10),))
    overdue = assess(NATIONAL, person, date(2024, 5, 3))
    assert overdue.status == "suspended"
    assert overdue.suspended_months == [(2024, 2), (2024, 3), (2024, 4), (2024, 5)]
    early_in_month = certify(NATIONAL, person, date(2024, 5, 3))
    assert early_in_month.payment_date == date(2024, 5, 31)
    assert early_in_month.back_paid_months == [(2024, 2), (2024, 3), (2024, 4)]
    after_cutoff = certify(NATIONAL, person, date(2024, 5, 29))
    assert after_cutoff.payment_date == date(2024, 6, 20)
    assert after_cutoff.back_paid_months == [(2024, 2), (2024, 3), (2024, 4), (2024, 5)]


def test_payment_runs_withhold_the_months_that_are_back_paid() -> None:
    # The RULES.md retiree above: due 2024-02-10; each run is decided on the 27th.
    person = PersonRecord("retiree", date(2010, 1, 1), (date(2023, 2, 10),))
    runs = {m: payment_in_run(NATIONAL, person, (2024, m)) for m in (1, 2, 3, 4)}
    assert runs == {1: "paid", 2: "suspended", 3: "suspended", 4: "suspended"}
    assert run_day(NATIONAL, (2024, 2)) == date(2024, 2, 27)
    back = certify(NATIONAL, person, date(2024, 5, 3)).back_paid_months
    assert back == [(2024, m) for m, decision in runs.items() if decision != "paid"]
    returned = PersonRecord("retiree", date(2010, 1, 1), (date(2023, 2, 10), date(2024, 5, 3)))
    assert payment_in_run(NATIONAL, returned, (2024, 5)) == "paid"
    late = PersonRecord("retiree", date(2010, 1, 1), (date(2021, 3, 10),))
    assert payment_in_run(NATIONAL, late, (2023, 4)) == "needs_review"  # the 24-month rule
    dead = PersonRecord("retiree", date(2010, 1, 1), (date(2023, 1, 1),), deceased_on=date(2023, 6, 1))
    assert payment_in_run(NATIONAL, dead, (2023, 6)) == "stopped"


def test_due_at_month_end_is_paid_that_month() -> None:
    person = PersonRecord("retiree", date(2018, 3, 1))
    april = assess(NATIONAL, person, date(2019, 4, 2))
    assert april.due_date == date(2019, 3, 31) and april.suspended_months == [(2019, 4)]


def test_due_soon_inside_the_reminder_window() -> None:
    person = PersonRecord("retiree", date(2010, 1, 1), (date(2023, 6, 15),))
    assert assess(NATIONAL, person, date(2024, 5, 15)).status == "active"
    assert assess(NATIONAL, person, date(2024, 5, 16)).status == "due_soon"
    assert assess(NATIONAL, person, date(2024, 6, 15)).status == "due_soon"
    assert assess(NATIONAL, person, date(2024, 6, 16)).status == "suspended"


# RULES.md: 24 consecutive months without certification -> staff review of a proof.
def test_twenty_four_month_rule() -> None:
    person = PersonRecord("retiree", date(2010, 1, 1), (date(2021, 3, 10),))
    assert assess(NATIONAL, person, date(2023, 3, 9)).status == "suspended"
    assert assess(NATIONAL, person, date(2023, 3, 10)).status == "needs_review"
    assert certify(NATIONAL, person, date(2023, 4, 1)).needs_review
    assert not certify(NATIONAL, person, date(2023, 3, 1)).needs_review


def test_deceased_person_is_never_certified() -> None:
    person = PersonRecord("retiree", date(2010, 1, 1), (date(2023, 1, 1),), deceased_on=date(2023, 6, 1))
    assert assess(NATIONAL, person, date(2023, 6, 2)).status == "deceased"
    with pytest.raises(ValueError, match="deceased"):
        certify(NATIONAL, person, date(2023, 7, 1))


def test_operator_adds_a_policy_without_code(tmp_path: Path) -> None:
    (tmp_path / "quarterly.toml").write_text(
        'key = "test-quarterly"\n[categories.retiree]\ncycle = "window"\nmonths = 3\n', encoding="utf-8"
    )
    policies = load_policies(tmp_path)
    person = PersonRecord("retiree", date(2020, 1, 1), (date(2024, 1, 5),))
    assert assess(policies["test-quarterly"], person, date(2024, 2, 1)).due_date == date(2024, 6, 30)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('key = "x"\n[categories.pensioner]\ncycle = "rolling"\nmonths = 12\n', "unknown category"),
        ('key = "x"\n[categories.retiree]\ncycle = "weekly"\nmonths = 1\n', "cycle must be"),
        ('key = "x"\n[categories.retiree]\ncycle = "window"\nmonths = 5\n', "months is invalid"),
        ("key = [", "not valid TOML"),
    ],
)
def test_bad_policy_files_are_refused(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "bad.toml").write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match=message):
        load_policies(tmp_path)


days = st.dates(min_value=date(2015, 1, 1), max_value=date(2035, 12, 31))


# A person under a policy, their certifications so far, and the day of a new certification.
@st.composite
def certifying(draw: st.DrawFn) -> tuple[Policy, PersonRecord, date]:
    policy = POLICIES[draw(st.sampled_from(sorted(POLICIES)))]
    start = draw(st.dates(min_value=date(2010, 1, 1), max_value=date(2014, 12, 31)))
    certs = tuple(sorted(draw(st.lists(days, max_size=4))))
    person = PersonRecord(draw(st.sampled_from(CATEGORIES)), start, certs)
    when = (certs[-1] if certs else start) + timedelta(days=draw(st.integers(min_value=0, max_value=900)))
    return policy, person, when


@settings(max_examples=300, deadline=None)
@given(certifying())
def test_certifying_restores_and_never_pulls_the_due_date_earlier(
    case: tuple[Policy, PersonRecord, date],
) -> None:
    p, person, when = case
    category, start, certs = person.category, person.benefit_start, person.certifications
    before = assess(p, person, when)
    result = certify(p, person, when)
    # The next due date is exactly what the policy allows, never earlier.
    rule = p.rule_for(category)
    if rule.cycle == "rolling":
        assert result.next_due == when + relativedelta(months=rule.months)
    else:
        window_end = date(when.year, (when.month - 1) // rule.months * rule.months + 1, 1) + relativedelta(
            months=rule.months, days=-1
        )
        assert result.next_due >= window_end
    # Once the first cycle has begun (the month after benefits start), certifying never
    # pulls the due date earlier. (Hypothesis found the one exception: a certification in
    # the very month benefits start restarts the rolling cycle from that day, as the rule says.)
    if before.due_date is not None and when >= start.replace(day=1) + relativedelta(months=1):
        assert result.next_due >= before.due_date
    # A valid certification restores: on that day the person is no longer suspended.
    after = assess(p, PersonRecord(category, start, (*certs, when)), when)
    assert after.status in ("active", "due_soon")
    # Payment follows the certification within the next month, and back pay precedes it.
    assert when <= result.payment_date <= when + timedelta(days=54)
    assert all(m < (result.payment_date.year, result.payment_date.month) for m in result.back_paid_months)


@settings(max_examples=300, deadline=None)
@given(certifying())
def test_every_month_a_run_withholds_is_back_paid_on_return(case: tuple[Policy, PersonRecord, date]) -> None:
    # Payment runs and back pay must agree: since the last certification, a month whose run
    # (decided before the new certification) withheld pay is exactly a month paid back.
    p, person, when = case
    certs, start = person.certifications, person.benefit_start
    back = certify(p, person, when).back_paid_months
    month = ((certs[-1] if certs else start).replace(day=1)) + relativedelta(months=1)
    while run_day(p, (month.year, month.month)) < when:
        withheld = payment_in_run(p, person, (month.year, month.month)) != "paid"
        assert withheld == ((month.year, month.month) in back), (month, back)
        month += relativedelta(months=1)
