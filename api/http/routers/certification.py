"""The frontline flow (kiosks, the phone app): look up, start a session, upload the clip."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool

from api.certification import audit, judging, people, preview, recording, sessions
from api.certification.service import CertificationService
from api.certification.storage.schema import ChallengeSession, Client
from api.http.deps import Frontline, PreviewCaller, Service
from api.http.schemas import Advice, LookupIn, OutcomeOut, PersonOut, SessionIn, SessionOut, WhoAmI
from api.http.uploads import read_video_upload
from api.http.views import outcome_view, person_view

router = APIRouter(tags=["certification"])
log = logging.getLogger("lifecert.api")


@router.get("/v1/whoami")
def whoami(client: Frontline) -> WhoAmI:
    """The calling client's name and role (the kiosk page adapts its channel to it)."""
    return WhoAmI(name=client.name, role=client.role)


@router.post("/v1/preview")
async def preview_frame(
    service: Service, client: PreviewCaller, frame: Annotated[UploadFile, File()]
) -> Advice:
    """Live advice while the person lines up: one camera frame in, one short message out.

    Advice only (nothing is stored or logged); the real checks run on the uploaded clip.
    """
    # One byte over the limit is enough for the decoder to give its own advice.
    data = await frame.read(preview.PREVIEW_MAX_BYTES + 1)
    return Advice(**await run_in_threadpool(preview.advice, service, data))


@router.post("/v1/lookup")
def lookup(body: LookupIn, service: Service, client: Frontline) -> PersonOut:
    """Find a person by ID number and name (both must match)."""
    with service.db.transaction() as s:
        person = people.find_person(service, s, body.id_number, body.name)
        audit.append(s, client.name, "lookup", person.id)
        return person_view(service, person)


@router.post("/v1/sessions")
def start_session(body: SessionIn, service: Service, client: Frontline) -> SessionOut:
    """Consent, then a fresh challenge (blink + digits) bound to a single-use nonce; for a
    live capture only the session and where to stream (the prompts come over the socket)."""
    with service.db.transaction() as s:
        cs, challenge = sessions.open_session(
            service,
            s,
            client,
            id_number=body.id_number,
            name=body.name,
            channel=body.channel,
            consent=body.consent,
            proxy_id=body.proxy_id,
            language=body.language,
            capture=body.capture,
        )
        if body.capture == "live":
            # Nothing of the challenge leaves before the live capture prompts it.
            return SessionOut(
                session_id=cs.id,
                blinks=0,
                digits="",
                prompts=[],
                expires_at=challenge.expires_at.isoformat(),
                language=challenge.language,
                capture="live",
                live_path=f"/v1/sessions/{cs.id}/live",
            )
        return SessionOut(
            session_id=cs.id,
            blinks=challenge.blinks,
            digits=challenge.digits,
            prompts=[p.__dict__ for p in challenge.prompts],
            expires_at=challenge.expires_at.isoformat(),
            language=challenge.language,
            turns=list(challenge.turns),
        )


@router.post("/v1/sessions/{session_id}/response")
async def submit_response(
    session_id: str, service: Service, client: Frontline, video: Annotated[UploadFile, File()]
) -> OutcomeOut:
    """Upload the recorded clip; liveness + face match; on a pass, the certification."""
    data = await read_video_upload(video, service.settings.max_video_bytes)
    with service.admitted():
        cs, refs = await run_in_threadpool(_claim, service, session_id, client)
        try:
            judged = await run_in_threadpool(service.judge, cs, data, refs)
            result = await run_in_threadpool(_record, service, cs, judged, client)
        except Exception:
            # Nothing was recorded (a storage fault, an analysis crash): the session stays
            # usable, so the person retries the same challenge instead of starting over.
            await run_in_threadpool(_release, service, cs.id)
            raise
    return outcome_view(result, client)


def _claim(
    service: CertificationService, session_id: str, client: Client, capture: str = "upload"
) -> tuple[ChallengeSession, list]:
    with service.db.transaction() as s:
        return sessions.claim_session(service, s, session_id, client, capture=capture)


def _record(
    service: CertificationService, cs: ChallengeSession, judged: judging.Judgement, client: Client
) -> recording.AttemptResult:
    with service.db.transaction() as s:
        staff = client if client.role == "staff" else None
        return recording.record(service, s, cs, judged, client.name, staff=staff)


def _release(service: CertificationService, session_id: str) -> None:
    try:
        with service.db.transaction() as s:
            sessions.release_claim(s, session_id)
    except DBAPIError:
        log.error("session %s could not be released: the storage is still failing", session_id)
