"""A certification session: consent, a fresh challenge bound to a single-use nonce, then the
claim that consumes the nonce exactly once when the response arrives."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from api.certification import audit
from api.certification.clock import aware, utcnow
from api.certification.errors import (
    CAPTURE_MISMATCH,
    CHANNEL_NOT_ALLOWED,
    CONSENT_REQUIRED,
    DECEASED,
    INVALID,
    NO_REFERENCE,
    SESSION_EXPIRED,
    SESSION_UNKNOWN,
    SESSION_USED,
    DomainError,
    Kind,
)
from api.certification.lockouts import check_lockout
from api.certification.people import find_person
from api.certification.proxies import CONSENT_VERSION, get_proxy, require_link
from api.certification.storage.schema import (
    WITHDRAWN,
    Attempt,
    ChallengeSession,
    Client,
    Consent,
    FaceReference,
    Person,
    Proxy,
    Review,
    matchable,
)
from liveness.challenge import Challenge
from matcher.templates import Reference

if TYPE_CHECKING:
    from api.certification.service import CertificationService

CHANNELS = ("kiosk", "phone", "counter", "home_visit", "remote", "data")
# The channels a face session may be opened on, by the opener's role. "remote" (a signed
# form) and "data" (data comparison) are never sessions: they come from staff reviews and
# imports, so no frontline key can record a certification as either.
ROLE_CHANNELS = {
    "kiosk": ("kiosk",),
    "app": ("phone",),
    "staff": ("counter", "home_visit", "kiosk", "phone"),
    "admin": ("counter", "home_visit", "kiosk", "phone"),
}
# How the response arrives: a recorded clip uploaded whole, or the live capture
# (api/certification/live.py). Kept in the stored challenge; each path claims only its own.
CAPTURES = ("upload", "live")


class Mode(StrEnum):
    SELF = "self"
    PROXY = "proxy"
    ASSISTED = "assisted"


def open_session(
    svc: CertificationService,
    s: Session,
    client: Client,
    *,
    id_number: str,
    name: str,
    channel: str,
    consent: bool,
    proxy_id: int | None,
    language: str = "zh",
    capture: str = "upload",
) -> tuple[ChallengeSession, Challenge]:
    """Who may open which session: each role its channels (counter and home visits are
    staff-assisted); a proxy must be the client's own and linked to the person."""
    if channel not in CHANNELS:
        raise DomainError(Kind.INVALID, INVALID, f"channel must be one of {CHANNELS}")
    allowed = ROLE_CHANNELS.get(client.role, ())
    if channel not in allowed:
        raise DomainError(
            Kind.FORBIDDEN, CHANNEL_NOT_ALLOWED, f"a {client.role} client opens: {', '.join(allowed)}"
        )
    person = find_person(svc, s, id_number, name)
    proxy = get_proxy(s, proxy_id, client) if proxy_id is not None else None
    mode = Mode.PROXY if proxy else (Mode.ASSISTED if client.role == "staff" else Mode.SELF)
    return start_session(
        svc,
        s,
        person,
        client,
        channel=channel,
        consent=consent,
        proxy=proxy,
        mode=mode,
        language=language,
        capture=capture,
    )


def start_session(
    svc: CertificationService,
    s: Session,
    person: Person,
    client: Client,
    *,
    channel: str,
    consent: bool,
    proxy: Proxy | None = None,
    mode: Mode = Mode.SELF,
    language: str = "zh",
    capture: str = "upload",
) -> tuple[ChallengeSession, Challenge]:
    if capture not in CAPTURES:
        raise DomainError(Kind.INVALID, INVALID, f"capture must be one of {CAPTURES}")
    if person.deceased_on is not None:
        s.add(
            Review(
                person_id=person.id, kind="deceased_attempt", created_at=utcnow(), detail={"channel": channel}
            )
        )
        audit.append(s, client.name, "attempt_refused_deceased", person.id, channel=channel)
        raise DomainError(Kind.CONFLICT, DECEASED, keep_work=True)
    if not consent:
        raise DomainError(Kind.INVALID, CONSENT_REQUIRED)
    if proxy is not None:
        require_link(s, proxy, person)
    if not any(r.source != WITHDRAWN for r in person.references):
        raise DomainError(Kind.CONFLICT, NO_REFERENCE)
    check_lockout(s, client, person)
    challenge = svc.challenges.issue(language=language)
    cs = ChallengeSession(
        id=str(uuid.uuid4()),
        nonce=challenge.nonce,
        person_id=person.id,
        proxy_id=proxy.id if proxy else None,
        client_id=client.id,
        channel=channel,
        mode=str(mode),
        challenge={**challenge.to_dict(), "capture": capture},
        created_at=challenge.issued_at,
        expires_at=challenge.expires_at,
    )
    s.add(cs)
    s.flush()
    s.add(Consent(person_id=person.id, session_id=cs.id, text_version=CONSENT_VERSION, accepted_at=utcnow()))
    audit.append(
        s, client.name, "session_started", person.id, session_id=cs.id, channel=channel, mode=str(mode)
    )
    return cs, challenge


def claim_session(
    svc: CertificationService, s: Session, session_id: str, client: Client, capture: str = "upload"
) -> tuple[ChallengeSession, list[Reference]]:
    """Consume the session's nonce (exactly once) and load the person's references. Each
    session is claimed only by the capture it was opened for: an upload session's digits were
    handed out in advance, so it must never be answered through the live path, which would
    pass it off as prompted live."""
    cs = s.get(ChallengeSession, session_id)
    if cs is None or cs.client_id != client.id:
        raise DomainError(Kind.NOT_FOUND, SESSION_UNKNOWN)
    if cs.challenge.get("capture", "upload") != capture:
        raise DomainError(Kind.CONFLICT, CAPTURE_MISMATCH)
    if aware(cs.expires_at) <= utcnow():
        raise DomainError(Kind.GONE, SESSION_EXPIRED)
    result = s.execute(
        update(ChallengeSession)
        .where(ChallengeSession.id == session_id, ChallengeSession.consumed_at.is_(None))
        .values(consumed_at=utcnow(), attempts=ChallengeSession.attempts + 1)
    )
    claimed = cast("CursorResult[Any]", result).rowcount  # an UPDATE's result counts its rows
    if claimed != 1:
        raise DomainError(Kind.CONFLICT, SESSION_USED)
    refs = s.execute(
        select(FaceReference).where(
            FaceReference.person_id == cs.person_id,
            FaceReference.preset == svc.matcher.preset.key,
            matchable(),
        )
    ).scalars()
    # Every reference of the person, newest first: the ID photo and each passed live capture
    # (which shrinks the decades between an old ID photo and today's face).
    return cs, [
        Reference(svc.cipher.open_template(r.embedding), r.source, aware(r.created_at).date(), str(r.id))
        for r in sorted(refs, key=lambda r: aware(r.created_at), reverse=True)
    ]


def release_claim(s: Session, session_id: str) -> None:
    """Undo a claim whose response was never recorded (the judgement or the write failed)."""
    if s.execute(select(Attempt.id).where(Attempt.session_id == session_id)).first():
        return
    s.execute(update(ChallengeSession).where(ChallengeSession.id == session_id).values(consumed_at=None))
