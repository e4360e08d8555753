"""Records that arrive from other systems as CSV (数据比对): deaths, and trusted records of a
person seen alive, which count as a certification where the person's policy allows it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.certification import audit, csv_files
from api.certification.clock import utcnow
from api.certification.enrolment import ImportReport, plausible_date
from api.certification.recording import certify_person
from api.certification.storage.schema import Client, PaymentEvent, Person

if TYPE_CHECKING:
    from api.certification.service import CertificationService


def dated_person_rows(
    svc: CertificationService, s: Session, text: str, date_field: str, report: ImportReport
) -> Iterator[tuple[int, Person, date, dict[str, str]]]:
    """Rows of ``id_number,<date_field>[,source]`` resolved to persons; bad rows go to ``report``."""
    for line, row in csv_files.rows(text, ("id_number", date_field)):
        bad_date = plausible_date(row.get(date_field) or "", date_field, svc.today())
        if bad_date is not None:
            report.errors.append({"line": line, "error": bad_date})
            continue
        when = date.fromisoformat(row[date_field].strip())
        person = s.execute(
            select(Person).where(Person.id_hash == svc.id_hash(row.get("id_number") or ""))
        ).scalar_one_or_none()
        problem = None
        if person is None:
            problem = "no such person"
        elif person.deceased_on is not None:
            problem = "person is already recorded as deceased"
        elif when > svc.today():
            problem = f"{date_field} is in the future"
        if problem is not None or person is None:
            report.errors.append({"line": line, "error": problem})
            continue
        yield line, person, when, row


def import_deaths(svc: CertificationService, s: Session, text: str, actor: str) -> ImportReport:
    """Death records: payments stop; later attempts are refused and flagged."""
    report = ImportReport(0)
    for _line, person, died, row in dated_person_rows(svc, s, text, "died_on", report):
        person.deceased_on = died
        s.add(PaymentEvent(person_id=person.id, kind="stopped_death", created_at=utcnow()))
        audit.append(s, actor, "death_recorded", person.id, source=(row.get("source") or "")[:50])
        report.imported += 1
    return report


def import_alive_records(svc: CertificationService, s: Session, text: str, staff: Client) -> ImportReport:
    """A trusted record of the person alive counts as a certification on its date."""
    report = ImportReport(0)
    for line, person, seen, row in dated_person_rows(svc, s, text, "seen_on", report):
        if not svc.policy_for(person).allow_data_comparison:
            report.errors.append(
                {"line": line, "error": f"policy {person.policy} does not accept data comparison"}
            )
            continue
        certify_person(
            svc,
            s,
            person,
            seen,
            channel="data",
            method="data_comparison",
            attempt=None,
            proxy_id=None,
            staff=staff,
            actor=staff.name,
            evidence={"source": (row.get("source") or "")[:50]},
        )
        report.imported += 1
    return report
