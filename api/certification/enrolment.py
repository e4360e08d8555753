"""Putting people and their reference photos on the register."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from api.certification import audit, csv_files, duplicates, id_numbers, register_index
from api.certification.clock import utcnow
from api.certification.errors import DomainError, Kind
from api.certification.rules import CATEGORIES
from api.certification.storage.schema import Client, FaceReference, Person, Review
from matcher import MatcherError, Role, decode_image

if TYPE_CHECKING:
    from api.certification.service import CertificationService

PERSON_COLUMNS = ("id_number", "name", "category", "benefit_start")
MAX_NAME_CHARS = 50
EARLIEST_DATE = date(1950, 1, 1)


@dataclass
class ImportReport:
    """What an import did: rows written, and each rejected row by line with the reason."""

    imported: int
    errors: list[dict[str, object]] = field(default_factory=list)


def import_persons(svc: CertificationService, s: Session, text: str, actor: str) -> ImportReport:
    """Validate every row; import all good rows in this one transaction; report every bad row
    by line. ID numbers already on the register, or twice in the file, are bad rows."""
    report = ImportReport(0)
    candidates: list[tuple[int, str, dict[str, str]]] = []
    seen: set[str] = set()
    for line, row in csv_files.rows(text, PERSON_COLUMNS):
        problem = row_problem(svc, row)
        id_hash = svc.id_hash(row.get("id_number") or "")
        if problem is None and id_hash in seen:
            problem = "duplicate ID number"
        if problem is not None:
            report.errors.append({"line": line, "error": problem})
            continue
        seen.add(id_hash)
        candidates.append((line, id_hash, row))
    on_register = _registered(s, [h for _, h, _ in candidates])
    good = []
    for line, id_hash, row in candidates:
        if id_hash in on_register:
            report.errors.append({"line": line, "error": "duplicate ID number"})
            continue
        good.append(_person_row(svc, id_hash, row))
    # Everything above only reads. The write comes last and in bulk (executemany, no unit of
    # work per object), because on SQLite it holds the one write lock that every other
    # request's audit entry waits for: 100,000 rows in about a second instead of about nine.
    if good:
        s.execute(insert(Person), good)
    report.imported = len(good)
    report.errors.sort(key=lambda e: int(str(e["line"])))
    audit.append(s, actor, "persons_imported", count=len(good), rejected=len(report.errors))
    return report


def _registered(s: Session, hashes: list[str], chunk: int = 500) -> set[str]:
    """Which of these ID hashes are on the register already: one query per chunk, not per row."""
    found: set[str] = set()
    for i in range(0, len(hashes), chunk):
        found |= set(
            s.execute(select(Person.id_hash).where(Person.id_hash.in_(hashes[i : i + chunk]))).scalars()
        )
    return found


def _person_row(svc: CertificationService, id_hash: str, row: dict[str, str]) -> dict[str, object]:
    return {
        "id_hash": id_hash,
        "id_encrypted": svc.cipher.encrypt(row["id_number"]),
        "name": row["name"].strip(),
        "phone": (row.get("phone") or "").strip(),
        "category": row["category"].strip(),
        "policy": (row.get("policy") or svc.settings.policy).strip(),
        "benefit_start": date.fromisoformat(row["benefit_start"].strip()),
        "created_at": utcnow(),
    }


def row_problem(svc: CertificationService, row: dict[str, str]) -> str | None:
    """Why a register row cannot be imported, or None."""
    problem = id_numbers.problem(row.get("id_number") or "")
    if problem is not None:
        return problem
    problem = csv_files.text_problem((row.get("name") or "").strip(), "name", MAX_NAME_CHARS)
    if problem is not None:
        return problem
    if (row.get("category") or "").strip() not in CATEGORIES:
        return f"category must be one of {', '.join(CATEGORIES)}"
    policy = (row.get("policy") or svc.settings.policy).strip()
    if policy not in svc.policies:
        return f"unknown policy {policy!r}"
    problem = plausible_date(row.get("benefit_start") or "", "benefit_start", svc.today())
    if problem is not None:
        return problem
    phone = (row.get("phone") or "").strip()
    if phone and (not phone.isdigit() or not 7 <= len(phone) <= 15):
        return "phone must be 7-15 digits"
    return None


def plausible_date(text: str, field: str, today: date) -> str | None:
    """A YYYY-MM-DD date between 1950 and a year from today: pension records begin after
    1950, and a date far in the future (9999-12-31) is a placeholder that breaks the rules'
    date arithmetic for everyone listed with it."""
    try:
        value = date.fromisoformat(text.strip())
    except ValueError:
        return f"{field} must be YYYY-MM-DD"
    if not EARLIEST_DATE <= value <= today + timedelta(days=366):
        return f"{field} must be between {EARLIEST_DATE.isoformat()} and a year from today"
    return None


@dataclass(frozen=True)
class EnrolledPhoto:
    """The reference an ID photo became, and the duplicate-reference review it opened, if
    the face is already on another person's record."""

    reference: FaceReference
    duplicate_review: Review | None


def enrol_photo(
    svc: CertificationService,
    s: Session,
    person: Person,
    image: bytes,
    actor: str,
    staff: Client | None = None,
) -> EnrolledPhoto:
    """Quality-gated ID photo -> reference embedding, checked against the register for the
    same face on another record (``duplicates.flag``; ``staff``, who enrolled it, may not
    decide that review). The image itself is not kept."""
    try:
        face = svc.matcher.analyse(
            decode_image(image, max_bytes=svc.settings.max_image_bytes), Role.REFERENCE
        )
    except MatcherError as exc:
        raise DomainError(Kind.INVALID, exc.reason, exc.detail) from exc
    if not face.quality.passed:
        raise DomainError(
            Kind.INVALID, face.quality.reasons[0], ", ".join(r.code for r in face.quality.reasons)
        )
    assert face.embedding is not None  # analyse(embed=True) always embeds
    ref = FaceReference(
        person_id=person.id,
        embedding=svc.cipher.seal_template(face.embedding),
        preset=svc.matcher.preset.key,
        source="id_photo",
        quality=face.quality.as_dict(),
        created_at=utcnow(),
    )
    s.add(ref)
    s.flush()
    register_index.added(svc, s, ref, face.embedding)  # issue 13: keep the register index in step
    audit.append(s, actor, "reference_enrolled", person.id, source="id_photo")
    return EnrolledPhoto(ref, duplicates.flag(svc, s, person, ref, face.embedding, actor, staff))
