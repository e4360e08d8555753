"""The HTTP service: kiosks, the phone app backend and staff talk to this.

Every endpoint except /healthz needs an API key (header ``X-API-Key``); roles gate what a
key may do; each client is rate-limited; uploads are checked by their bytes, size and
duration; errors are RFC 9457 ``application/problem+json`` with a stable code and a
Chinese and English message. ID numbers and images never reach the logs.
"""

import csv
import io
import logging
from collections.abc import Callable
from datetime import date
from importlib import resources
from typing import Annotated

from fastapi import Depends, FastAPI, File, Form, Path, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from sqlalchemy import or_, select

from api import audit
from api import errors as E
from api.kiosk_audio import PHRASES, VOICES, audio_dir, read_index
from api.rules import assess, load_policies
from api.security import RateLimiter, hash_api_key, mask_id
from api.service import CertificationService, Outcome
from api.settings import Settings
from api.storage.db import Database, migrate
from api.storage.schema import AuditEntry, Client, Person, Proxy, Review
from matcher import FaceMatcher
from models import ModelStore

log = logging.getLogger("lifecert.api")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)

VIDEO_MAGIC = (
    (b"ftyp", 4),  # MP4 / MOV / 3GP
    (b"\x1a\x45\xdf\xa3", 0),  # WebM / Matroska
    (b"\x00\x00\x01\xba", 0),  # MPEG program stream (GRID .mpg)
    (b"\x00\x00\x01\xb3", 0),  # MPEG video
    (b"moov", 4),
)


def sniff_video(head: bytes) -> bool:
    return any(head[offset : offset + len(magic)] == magic for magic, offset in VIDEO_MAGIC)


class LookupIn(BaseModel):
    id_number: str = Field(min_length=15, max_length=18, description="身份证号 (never logged)")
    name: str = Field(min_length=1, max_length=50)


class PersonOut(BaseModel):
    person_id: int
    name: str
    id_number_masked: str
    category: str
    policy: str
    status: str
    due_date: date | None


class ProxyIn(BaseModel):
    id_number: str = Field(min_length=15, max_length=18)
    name: str = Field(min_length=1, max_length=50)
    phone: str = Field(min_length=7, max_length=15, pattern=r"^\d+$")


class ProxyLinkIn(LookupIn):
    relationship: str = Field(min_length=1, max_length=30)
    consent: bool


class SessionIn(LookupIn):
    channel: str = Field(description="kiosk | phone | counter | home_visit")
    consent: bool = Field(description="the person agreed to the personal-information rules")
    proxy_id: int | None = None


class SessionOut(BaseModel):
    session_id: str
    blinks: int
    digits: str
    prompts: list[dict[str, object]]
    expires_at: str
    language: str


class SearchIn(BaseModel):
    q: str = Field(min_length=1, max_length=50, description="name, or full ID number")


class PhoneIn(BaseModel):
    phone: str = Field(min_length=7, max_length=15, pattern=r"^\d+$")


class DecisionIn(BaseModel):
    approve: bool
    note: str = Field(default="", max_length=500)


class PaymentRunIn(BaseModel):
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")


def create_app(settings: Settings, matcher: FaceMatcher | None = None) -> FastAPI:
    db = Database(settings.database_url)
    migrate(db.engine)
    policies = load_policies(settings.home / "policies")
    if settings.policy not in policies:
        raise ValueError(f"unknown default policy {settings.policy!r}")
    matcher = matcher or FaceMatcher(ModelStore(), settings.preset)
    service = CertificationService(settings, db, policies, matcher)
    limiter = RateLimiter(settings.rate_per_minute)
    app = FastAPI(
        title="lifecert",
        version="0.1.0",
        description="Proof-of-life certification: face match + liveness, certification records and rules.",
    )
    app.state.service = service
    app.state.db = db

    @app.exception_handler(E.ServiceError)
    async def _service_error(_req: Request, exc: E.ServiceError) -> JSONResponse:
        return _problem(exc.status, exc.reason.code, exc.reason.en, exc.reason.zh, exc.detail, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [".".join(str(p) for p in e["loc"][1:]) for e in exc.errors()]
        return _problem(
            422, E.INVALID.code, E.INVALID.en, E.INVALID.zh, f"invalid fields: {', '.join(fields)}"
        )

    def caller(*roles: str, limiter: RateLimiter = limiter) -> Callable[..., Client]:
        def dependency(key: Annotated[str | None, Depends(api_key_header)]) -> Client:
            if not key:
                raise E.ServiceError(401, E.UNAUTHENTICATED)
            with db.transaction() as s:
                client = s.execute(
                    select(Client).where(Client.key_hash == hash_api_key(key), Client.active.is_(True))
                ).scalar_one_or_none()
            if client is None:
                raise E.ServiceError(401, E.UNAUTHENTICATED)
            if client.role not in roles and client.role != "admin":
                raise E.ServiceError(403, E.FORBIDDEN)
            if not limiter.allow(client.name):
                raise E.ServiceError(429, E.RATE_LIMITED)
            return client

        return dependency

    frontline = caller("kiosk", "app", "staff")
    staff_only = caller("staff")
    # Live camera advice polls about once a second: its own, more generous budget.
    preview_limiter = RateLimiter(max(settings.rate_per_minute, 120))
    preview_caller = caller("kiosk", "app", "staff", limiter=preview_limiter)

    def person_out(person: Person) -> PersonOut:
        a = assess(service.policy_for(person), service.record_of(person), service.today())
        return PersonOut(
            person_id=person.id,
            name=person.name,
            id_number_masked=mask_id(service.cipher.decrypt(person.id_encrypted)),
            category=person.category,
            policy=person.policy,
            status=a.status,
            due_date=a.due_date,
        )

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/whoami", tags=["certification"])
    def whoami(client: Annotated[Client, Depends(frontline)]) -> dict[str, str]:
        """The calling client's name and role (the kiosk page adapts its channel to it)."""
        return {"name": client.name, "role": client.role}

    @app.post("/v1/preview", tags=["certification"])
    async def preview(
        client: Annotated[Client, Depends(preview_caller)], frame: Annotated[UploadFile, File()]
    ) -> dict[str, object]:
        """Live advice while the person lines up: one camera frame in, one short message out.

        Advice only (nothing is stored or logged); the real checks run on the uploaded clip.
        """
        data = await frame.read(2 * 1024 * 1024 + 1)
        return service.preview(data)

    @app.post("/v1/lookup", tags=["certification"], response_model=PersonOut)
    def lookup(body: LookupIn, client: Annotated[Client, Depends(frontline)]) -> PersonOut:
        """Find a person by ID number and name (both must match)."""
        with db.transaction() as s:
            person = service.find_person(s, body.id_number, body.name)
            audit.append(s, client.name, "lookup", person.id)
            return person_out(person)

    @app.post("/v1/proxies", tags=["proxy"])
    def register_proxy(
        body: ProxyIn, client: Annotated[Client, Depends(caller("app", "kiosk"))]
    ) -> dict[str, int]:
        """A relative or friend registers once to certify others (代他人认证)."""
        with db.transaction() as s:
            proxy = service.register_proxy(s, body.id_number, body.name, body.phone, client.name)
            return {"proxy_id": proxy.id}

    @app.post("/v1/proxies/{proxy_id}/persons", tags=["proxy"])
    def link_proxy(
        proxy_id: int, body: ProxyLinkIn, client: Annotated[Client, Depends(caller("app", "kiosk"))]
    ) -> dict:  # type: ignore[type-arg]
        if not body.consent:
            raise E.ServiceError(422, E.CONSENT_REQUIRED)
        with db.transaction() as s:
            proxy = s.get(Proxy, proxy_id)
            if proxy is None:
                raise E.ServiceError(404, E.INVALID, "unknown proxy")
            person = service.find_person(s, body.id_number, body.name)
            service.link_proxy(s, proxy, person, body.relationship, client.name)
            return {"linked": True, "person": person_out(person).model_dump(mode="json")}

    @app.post("/v1/sessions", tags=["certification"], response_model=SessionOut)
    def start_session(body: SessionIn, client: Annotated[Client, Depends(frontline)]) -> SessionOut:
        """Consent, then a fresh challenge (blink + digits) bound to a single-use nonce."""
        if body.channel in ("counter", "home_visit") and client.role not in ("staff", "admin"):
            raise E.ServiceError(403, E.FORBIDDEN, "counter and home-visit certifications are staff-assisted")
        with db.transaction() as s:
            person = service.find_person(s, body.id_number, body.name)
            proxy = s.get(Proxy, body.proxy_id) if body.proxy_id is not None else None
            if body.proxy_id is not None and proxy is None:
                raise E.ServiceError(404, E.INVALID, "unknown proxy")
            mode = "proxy" if proxy else ("assisted" if client.role == "staff" else "self")
            try:
                cs, ch = service.start_session(
                    s, person, client, channel=body.channel, consent=body.consent, proxy=proxy, mode=mode
                )
            except E.ServiceError as exc:
                if exc.reason is E.DECEASED:  # keep the flag and the audit entry, then refuse
                    s.commit()
                raise
            return SessionOut(
                session_id=cs.id,
                blinks=ch.blinks,
                digits=ch.digits,
                prompts=[p.__dict__ for p in ch.prompts],
                expires_at=ch.expires_at.isoformat(),
                language=ch.language,
            )

    @app.post("/v1/sessions/{session_id}/response", tags=["certification"])
    async def submit_response(
        session_id: str, client: Annotated[Client, Depends(frontline)], video: Annotated[UploadFile, File()]
    ) -> Outcome:
        """Upload the recorded clip; liveness + face match; on a pass, the certification."""
        data = await video.read(settings.max_video_bytes + 1)
        if len(data) > settings.max_video_bytes:
            raise E.ServiceError(413, E.UPLOAD_TOO_LARGE, f"limit {settings.max_video_bytes} bytes")
        if not sniff_video(data[:16]):
            raise E.ServiceError(415, E.BAD_UPLOAD, "expected MP4, MOV, WebM or MPEG video")
        with db.transaction() as s:
            cs, refs = service.claim_session(s, session_id, client)
        judged = service.judge(cs, data, refs)
        with db.transaction() as s:
            staff = client if client.role == "staff" else None
            return service.record(s, cs, judged, client.name, staff=staff)

    @app.post("/v1/persons/search", tags=["staff"], response_model=list[PersonOut])
    def search(body: SearchIn, client: Annotated[Client, Depends(staff_only)]) -> list[PersonOut]:
        """By name, or by full ID number. A POST body, not a query string: URLs end up in
        access logs, and ID numbers must never be logged."""
        q = body.q
        with db.transaction() as s:
            rows = (
                s.execute(
                    select(Person)
                    .where(or_(Person.name.contains(q.strip()), Person.id_hash == service.id_hash(q)))
                    .order_by(Person.id)
                    .limit(100)
                )
                .scalars()
                .all()
            )
            audit.append(s, client.name, "search", results=len(rows))
            return [person_out(p) for p in rows]

    @app.get("/v1/persons/{person_id}", tags=["staff"])
    def person_history(person_id: int, client: Annotated[Client, Depends(staff_only)]) -> dict:  # type: ignore[type-arg]
        with db.transaction() as s:
            person = s.get(Person, person_id)
            if person is None:
                raise E.ServiceError(404, E.NOT_FOUND)
            audit.append(s, client.name, "person_viewed", person.id)
            return {
                "person": person_out(person).model_dump(mode="json"),
                "phone": person.phone,
                "certifications": [
                    {
                        "id": c.id,
                        "certified_on": c.certified_on,
                        "channel": c.channel,
                        "method": c.method,
                        "proxy_id": c.proxy_id,
                        "next_due": c.next_due,
                        "payment_date": c.payment_date,
                        "back_paid_months": c.back_paid_months,
                    }
                    for c in person.certifications
                ],
                "references": [
                    {"id": r.id, "source": r.source, "created_at": r.created_at} for r in person.references
                ],
            }

    @app.post("/v1/persons/import", tags=["staff"])
    async def import_persons(
        client: Annotated[Client, Depends(staff_only)], file: Annotated[UploadFile, File()]
    ) -> dict:  # type: ignore[type-arg]
        """CSV: id_number,name,category,benefit_start[,phone,policy]. Good rows are imported
        together; bad rows are reported by line and nothing of them is written."""
        text = (await file.read(5 * 1024 * 1024)).decode("utf-8-sig", errors="replace")
        with db.transaction() as s:
            report = service.import_persons(s, text, client.name)
            return {"imported": report.imported, "errors": report.errors}

    @app.post("/v1/persons/{person_id}/id-photo", tags=["staff"])
    async def enrol_photo(
        person_id: int, client: Annotated[Client, Depends(staff_only)], photo: Annotated[UploadFile, File()]
    ) -> dict:  # type: ignore[type-arg]
        data = await photo.read(settings.max_image_bytes + 1)
        with db.transaction() as s:
            person = s.get(Person, person_id)
            if person is None:
                raise E.ServiceError(404, E.NOT_FOUND)
            ref = service.enrol_photo(s, person, data, client.name)
            return {"reference_id": ref.id, "quality": ref.quality}

    @app.post("/v1/persons/{person_id}/remote-form", tags=["staff"])
    async def remote_form(
        person_id: int,
        client: Annotated[Client, Depends(staff_only)],
        scan: Annotated[UploadFile, File()],
        note: Annotated[str, Form()] = "",
    ) -> dict:  # type: ignore[type-arg]
        data = await scan.read(settings.max_image_bytes + 1)
        if len(data) > settings.max_image_bytes or not (
            data[:4] == b"%PDF" or data[:3] == b"\xff\xd8\xff" or data[:8] == b"\x89PNG\r\n\x1a\n"
        ):
            raise E.ServiceError(415, E.BAD_UPLOAD, "expected a PDF, JPEG or PNG scan")
        with db.transaction() as s:
            person = s.get(Person, person_id)
            if person is None:
                raise E.ServiceError(404, E.NOT_FOUND)
            return {"review_id": service.remote_form(s, person, client, data, note).id}

    @app.get("/v1/reviews", tags=["staff"])
    def reviews(client: Annotated[Client, Depends(staff_only)]) -> list[dict]:  # type: ignore[type-arg]
        with db.transaction() as s:
            rows = (
                s.execute(select(Review).where(Review.status == "open").order_by(Review.id)).scalars().all()
            )
            return [
                {
                    "id": r.id,
                    "person_id": r.person_id,
                    "kind": r.kind,
                    "attempt_id": r.attempt_id,
                    "detail": r.detail,
                    "created_at": r.created_at,
                }
                for r in rows
            ]

    @app.post("/v1/reviews/{review_id}/decision", tags=["staff"])
    def decide(review_id: int, body: DecisionIn, client: Annotated[Client, Depends(staff_only)]) -> dict:  # type: ignore[type-arg]
        with db.transaction() as s:
            review = s.get(Review, review_id)
            if review is None:
                raise E.ServiceError(404, E.INVALID, "unknown review")
            cert = service.decide_review(s, review, client, body.approve, body.note)
            return {
                "status": review.status,
                "certification_id": cert.id if cert else None,
                "next_due": cert.next_due if cert else None,
            }

    @app.post("/v1/deaths/import", tags=["staff"])
    async def deaths(
        client: Annotated[Client, Depends(staff_only)], file: Annotated[UploadFile, File()]
    ) -> dict:  # type: ignore[type-arg]
        text = (await file.read(5 * 1024 * 1024)).decode("utf-8-sig", errors="replace")
        with db.transaction() as s:
            report = service.import_deaths(s, text, client.name)
            return {"recorded": report.imported, "errors": report.errors}

    @app.post("/v1/alive-records/import", tags=["staff"])
    async def alive_records(
        client: Annotated[Client, Depends(staff_only)], file: Annotated[UploadFile, File()]
    ) -> dict:  # type: ignore[type-arg]
        """Data comparison (数据比对): CSV id_number,seen_on[,source]; counts where the policy allows."""
        text = (await file.read(5 * 1024 * 1024)).decode("utf-8-sig", errors="replace")
        with db.transaction() as s:
            report = service.import_alive_records(s, text, client)
            return {"certified": report.imported, "errors": report.errors}

    @app.patch("/v1/persons/{person_id}/phone", tags=["staff"])
    def fix_phone(person_id: int, body: PhoneIn, client: Annotated[Client, Depends(staff_only)]) -> dict:  # type: ignore[type-arg]
        """Reminders go by SMS to the phone on record, so a wrong number must be fixable."""
        with db.transaction() as s:
            person = s.get(Person, person_id)
            if person is None:
                raise E.ServiceError(404, E.NOT_FOUND)
            service.update_phone(s, person, body.phone, client)
            return {"updated": True}

    @app.get("/v1/lists/{which}", tags=["staff"])
    def status_list(
        which: str,
        client: Annotated[Client, Depends(staff_only)],
        format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
        on: date | None = None,
    ):  # type: ignore[no-untyped-def]
        """due-soon (for SMS reminders, with phone), overdue (suspended or needing review)."""
        wanted = {"due-soon": {"due_soon"}, "overdue": {"suspended", "needs_review"}}.get(which)
        if wanted is None:
            raise E.ServiceError(404, E.INVALID, "lists: due-soon, overdue")
        with db.transaction() as s:
            rows = [
                {
                    "person_id": p.id,
                    "name": p.name,
                    "phone": p.phone,
                    "category": p.category,
                    "status": a.status,
                    "due_date": a.due_date,
                    "suspended_months": len(a.suspended_months),
                }  # type: ignore[attr-defined]
                for p, a in service.people_with_status(s, on or service.today(), wanted)
            ]
            audit.append(s, client.name, "list_exported", list=which, rows=len(rows), format=format)
        if format == "csv":
            buf = io.StringIO()
            writer = csv.DictWriter(
                buf,
                fieldnames=[
                    "person_id",
                    "name",
                    "phone",
                    "category",
                    "status",
                    "due_date",
                    "suspended_months",
                ],
            )
            writer.writeheader()
            writer.writerows(rows)
            return PlainTextResponse(buf.getvalue(), media_type="text/csv; charset=utf-8")
        return rows

    @app.post("/v1/payment-runs", tags=["staff"])
    def payment_run(body: PaymentRunIn, client: Annotated[Client, Depends(caller("admin"))]) -> dict:  # type: ignore[type-arg]
        """Decide a month's payment run, once, after its cut-off day: everyone overdue then has
        that month withheld (recorded as a payment event; back-paid when they certify again)."""
        with db.transaction() as s:
            run = service.payment_run(s, body.month, client.name)
            return {"month": run.month, "decided_on": run.decided_on, "counts": run.counts}

    @app.get("/v1/payment-runs/{month}", tags=["staff"])
    def payment_run_withheld(
        month: Annotated[str, Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")],
        client: Annotated[Client, Depends(caller("staff", "admin"))],
        format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    ):  # type: ignore[no-untyped-def]
        """Whose pay a recorded run withheld: suspended, or held for staff review."""
        with db.transaction() as s:
            run, withheld = service.withheld_in_run(s, month)
            rows = [
                {"person_id": p.id, "name": p.name, "category": p.category, "withheld": kind}
                for p, kind in withheld
            ]
            audit.append(s, client.name, "list_exported", list=f"payment-run {month}", rows=len(rows))
        if format == "csv":
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=["person_id", "name", "category", "withheld"])
            writer.writeheader()
            writer.writerows(rows)
            return PlainTextResponse(buf.getvalue(), media_type="text/csv; charset=utf-8")
        return {"month": run.month, "decided_on": run.decided_on, "counts": run.counts, "withheld": rows}

    @app.get("/v1/audit", tags=["staff"])
    def audit_log(
        client: Annotated[Client, Depends(caller("admin"))],
        person_id: int | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> dict:  # type: ignore[type-arg]
        with db.transaction() as s:
            q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
            if person_id is not None:
                q = q.where(AuditEntry.person_id == person_id)
            entries = s.execute(q).scalars().all()
            broken = audit.verify_chain(s)
            return {
                "chain_intact": broken is None,
                "first_broken_entry": broken,
                "entries": [
                    {
                        "id": e.id,
                        "at": e.at,
                        "actor": e.actor,
                        "action": e.action,
                        "person_id": e.person_id,
                        "detail": e.detail,
                    }
                    for e in entries
                ],
            }

    spoken = audio_dir(settings.home)

    @app.get("/kiosk/audio/index.json", include_in_schema=False)
    def kiosk_audio_index() -> dict[str, list[str]]:
        """The spoken prompts this install has, per language (empty when never built)."""
        return {lang: sorted(keys) for lang, keys in read_index(spoken).items()}

    @app.get("/kiosk/audio/{lang}/{key}.mp3", include_in_schema=False)
    def kiosk_audio(lang: str, key: str) -> FileResponse:
        path = spoken / lang / f"{key}.mp3"
        if lang not in VOICES or key not in PHRASES or not path.is_file():
            raise E.ServiceError(404, E.NO_SUCH_PROMPT)
        return FileResponse(path, media_type="audio/mpeg", headers={"Cache-Control": "max-age=86400"})

    web = resources.files("api").joinpath("web")
    app.mount("/kiosk", StaticFiles(directory=str(web), html=True), name="kiosk")
    return app


def _problem(status: int, code: str, en: str, zh: str, detail: str = "", **extra: object) -> JSONResponse:
    body = {
        "type": f"https://lifecert.invalid/problems/{code}",
        "title": en,
        "status": status,
        "code": code,
        "message_zh": zh,
        "message_en": en,
        **({"detail": detail} if detail else {}),
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type="application/problem+json")
