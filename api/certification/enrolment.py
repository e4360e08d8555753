"""Putting people and their reference photos on the register."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.certification import audit
from api.certification.clock import utcnow
from api.certification.errors import INVALID, DomainError, Kind
from api.certification.rules import CATEGORIES
from api.certification.storage.schema import FaceReference, Person
from matcher import MatcherError, Role, decode_image

if TYPE_CHECKING:
    from api.certification.service import CertificationService

PERSON_COLUMNS = ("id_number", "name", "category", "benefit_start")


@dataclass
class ImportReport:
    """What an import did: rows written, and each rejected row by line with the reason."""

    imported: int
    errors: list[dict[str, object]] = field(default_factory=list)


def import_persons(svc: CertificationService, s: Session, text: str, actor: str) -> ImportReport:
    """Validate every row; import all good rows in this one transaction; report bad rows."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not set(PERSON_COLUMNS) <= set(reader.fieldnames):
        raise DomainError(Kind.INVALID, INVALID, f"CSV needs columns {sorted(PERSON_COLUMNS)}")
    report = ImportReport(0)
    seen: set[str] = set()
    good: list[Person] = []
    for line, row in enumerate(reader, start=2):
        problem = row_problem(svc, row)
        id_hash = svc.id_hash(row.get("id_number") or "")
        if problem is None and (
            id_hash in seen or s.execute(select(Person.id).where(Person.id_hash == id_hash)).first()
        ):
            problem = "duplicate ID number"
        if problem is not None:
            report.errors.append({"line": line, "error": problem})
            continue
        seen.add(id_hash)
        good.append(
            Person(
                id_hash=id_hash,
                id_encrypted=svc.cipher.encrypt(row["id_number"]),
                name=row["name"].strip(),
                phone=(row.get("phone") or "").strip(),
                category=row["category"].strip(),
                policy=(row.get("policy") or svc.settings.policy).strip(),
                benefit_start=date.fromisoformat(row["benefit_start"].strip()),
                created_at=utcnow(),
            )
        )
    s.add_all(good)
    s.flush()
    report.imported = len(good)
    audit.append(s, actor, "persons_imported", count=len(good), rejected=len(report.errors))
    return report


def row_problem(svc: CertificationService, row: dict[str, str]) -> str | None:
    """Why a register row cannot be imported, or None."""
    idn = (row.get("id_number") or "").strip()
    if not (15 <= len(idn) <= 18) or not idn[:-1].isdigit():
        return "id_number must be 15-18 characters, digits (last may be X)"
    if not (row.get("name") or "").strip():
        return "name is empty"
    if (row.get("category") or "").strip() not in CATEGORIES:
        return f"category must be one of {', '.join(CATEGORIES)}"
    policy = (row.get("policy") or svc.settings.policy).strip()
    if policy not in svc.policies:
        return f"unknown policy {policy!r}"
    try:
        date.fromisoformat((row.get("benefit_start") or "").strip())
    except ValueError:
        return "benefit_start must be YYYY-MM-DD"
    phone = (row.get("phone") or "").strip()
    if phone and (not phone.isdigit() or not 7 <= len(phone) <= 15):
        return "phone must be 7-15 digits"
    return None


def enrol_photo(
    svc: CertificationService, s: Session, person: Person, image: bytes, actor: str
) -> FaceReference:
    """Quality-gated ID photo -> reference embedding. The image itself is not kept."""
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
        embedding=face.embedding.astype(np.float32).tobytes(),
        preset=svc.matcher.preset.key,
        source="id_photo",
        quality=face.quality.as_dict(),
        created_at=utcnow(),
    )
    s.add(ref)
    s.flush()
    audit.append(s, actor, "reference_enrolled", person.id, source="id_photo")
    return ref
