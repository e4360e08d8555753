"""Demo data for the embedded install: a few persons whose ID photos come from ../shared/data.

Only ``lifecert serve --demo`` calls this. The product never ships those photos: they are
read from the shared test folder at start-up, embedded, and not copied anywhere.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from api.certification import enrolment, recording
from api.certification.clock import utcnow
from api.certification.security import hash_api_key, new_api_key
from api.certification.service import CertificationService
from api.certification.storage.schema import Client, Person

DEMO_PEOPLE = (
    # id_number, name, category, benefit_start, phone, photo under faces/deepface
    ("110101195001010017", "张建国", "retiree", "2015-03-01", "13800000001", "img1.jpg"),
    ("110101194805050028", "李秀英", "resident_pension", "2016-07-01", "13800000002", "img3.jpg"),
    ("11010119521212003X", "王志强", "work_injury", "2019-01-01", "13800000003", "img8.jpg"),
    ("110101194503030048", "赵桂兰", "enterprise_survivor", "2020-05-01", "13800000004", "img13.jpg"),
)
# Days since each demo person last certified at the counter: due soon, active, suspended
# (back pay on return), and more than 24 months (staff review of a proof).
DEMO_LAST_CERTIFIED_DAYS_AGO = (350, 90, 430, 800)


def ensure_client(service: CertificationService, name: str, role: str) -> str | None:
    """Create a client if missing; returns its new key (shown once), None if it existed."""
    with service.db.transaction() as s:
        if s.execute(select(Client).where(Client.name == name)).scalar_one_or_none():
            return None
        key = new_api_key()
        s.add(Client(name=name, role=role, key_hash=hash_api_key(key), created_at=utcnow()))
        return key


def seed_demo(service: CertificationService, data_dir: Path) -> dict[str, str]:
    keys_file = service.settings.home / "demo-keys.json"
    keys = json.loads(keys_file.read_text()) if keys_file.exists() else {}
    for name, role in (
        ("demo-kiosk", "kiosk"),
        ("demo-app", "app"),
        ("demo-staff", "staff"),
        ("demo-admin", "admin"),
    ):
        key = ensure_client(service, name, role)
        if key:
            keys[name] = key
    keys_file.write_text(json.dumps(keys, indent=2))
    keys_file.chmod(0o600)
    with service.db.transaction() as s:
        missing = [
            p
            for p in DEMO_PEOPLE
            if not s.execute(select(Person.id).where(Person.id_hash == service.id_hash(p[0]))).first()
        ]
        if missing:
            rows = "\n".join(f"{i},{n},{c},{b},{ph}" for i, n, c, b, ph, _ in missing)
            enrolment.import_persons(
                service, s, "id_number,name,category,benefit_start,phone\n" + rows, "demo"
            )
    with service.db.transaction() as s:
        staff = s.execute(select(Client).where(Client.name == "demo-staff")).scalar_one()
    for (id_number, *_rest, photo), days in zip(DEMO_PEOPLE, DEMO_LAST_CERTIFIED_DAYS_AGO, strict=True):
        with service.db.transaction() as s:
            person = s.execute(
                select(Person).where(Person.id_hash == service.id_hash(id_number))
            ).scalar_one()
            if not person.references and (data_dir / "faces/deepface" / photo).is_file():
                enrolment.enrol_photo(
                    service, s, person, (data_dir / "faces/deepface" / photo).read_bytes(), "demo"
                )
            if not person.certifications:
                recording.certify_person(
                    service,
                    s,
                    person,
                    service.today() - timedelta(days=days),
                    channel="counter",
                    method="staff_assisted",
                    attempt=None,
                    proxy_id=None,
                    staff=staff,
                    actor=staff.name,
                    evidence={"demo": True},
                )
    return keys
