"""The live capture's WebSocket, ``/v1/sessions/{id}/live``: the messages of the protocol.

Client → server: first a text message ``{"type": "hello", "key": API_KEY}`` (a browser
cannot set headers on a WebSocket, and a key in the URL would land in proxy logs); then
binary messages, one byte of kind (1: a JPEG frame, 2: 16 kHz mono int16 PCM), four bytes of
the client's own milliseconds since its first frame (unsigned, little-endian), the payload;
``{"type": "stop"}`` cancels. Server → client: ``ready``; ``measured`` after every frame
(how many were measured: the page keeps only a few in flight); ``advice`` while lining up;
``prompt`` (``action``; ``digits`` only here); ``ok`` when the action was seen; ``missed``
(then a new ``prompt``, or ``final``); ``judging``; then ``verdict`` (the upload's outcome
body) or ``error`` (``problem``: the HTTP problem body), and the socket closes (an error with
4000 + its HTTP status).

The state machine and the judgement are ``api.certification.live``; this module stamps each
message with the service's clock when it arrives (a reader task, so frames waiting behind a
slow measurement keep their arrival time), runs the measuring off the event loop, and keeps
the session consistent: nothing is recorded unless a verdict is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from api.certification import audit, sessions
from api.certification.errors import (
    BUSY,
    INVALID,
    UNAUTHENTICATED,
    DomainError,
    Kind,
)
from api.certification.live import LiveCapture, judge
from api.certification.service import ADMISSION_RETRY_S, CertificationService
from api.certification.storage.schema import ChallengeSession, Client
from api.http.deps import admit
from api.http.problems import INTERNAL, STATUS, problem_body
from api.http.routers.certification import _claim, _record
from api.http.views import outcome_view
from liveness.challenge import Challenge
from matcher.errors import Reason

router = APIRouter(tags=["certification"])
log = logging.getLogger("lifecert.api")

FRAME, AUDIO = 1, 2
HEADER_BYTES = 5
HELLO_TIMEOUT_S = 5.0
STALL_S = 5.0  # no frame for this long: the camera or the connection is gone
BACKLOG = 60  # messages received but not yet measured (~2 s of frames); more: overloaded
FRONTLINE = ("kiosk", "app", "staff")  # as the HTTP session routes (admins always)
STALLED = Reason("live_stalled", "The camera stopped sending: start again.", "摄像头画面中断，请重新开始。")
CANCELLED = Reason("live_cancelled", "The capture was cancelled.", "已取消采集。")


@dataclass(frozen=True)
class Arrival:
    """One message as it arrived: its kind, the service's clock then, and the client's time."""

    kind: int
    received_s: float
    client_s: float | None
    payload: bytes


class Ended(Exception):
    """The client went away or cancelled: nothing to answer."""


@router.websocket("/v1/sessions/{session_id}/live")
async def live_capture(websocket: WebSocket, session_id: str) -> None:
    service: CertificationService = websocket.app.state.service
    await websocket.accept()
    try:
        client = await _hello(websocket, service)
        with service.live_admitted():
            await _capture(websocket, service, session_id, client)
    except DomainError as exc:
        await _refuse(websocket, STATUS[exc.kind], exc.reason, exc.detail, **exc.extra)
    except (Ended, WebSocketDisconnect):
        return
    except Exception as exc:  # the class only: exception text can carry request data
        log.error("live capture failed: %s", exc.__class__.__name__)
        await _refuse(websocket, 500, INTERNAL)


async def _hello(websocket: WebSocket, service: CertificationService) -> Client:
    """The first message carries the key; the same roles and budgets as the HTTP routes."""
    try:
        message = await asyncio.wait_for(websocket.receive_text(), HELLO_TIMEOUT_S)
        hello = json.loads(message)
    except (TimeoutError, KeyError, ValueError) as exc:
        raise DomainError(Kind.UNAUTHENTICATED, UNAUTHENTICATED, "send hello with the key first") from exc
    key = hello.get("key") if isinstance(hello, dict) and hello.get("type") == "hello" else None
    address = websocket.client.host if websocket.client else "unknown"
    return await run_in_threadpool(
        admit,
        service,
        websocket.app.state.limiters,
        key if isinstance(key, str) else None,
        address,
        FRONTLINE,
    )


async def _capture(
    websocket: WebSocket, service: CertificationService, session_id: str, client: Client
) -> None:
    cs, refs = await run_in_threadpool(_claim, service, session_id, client, "live")
    capture = LiveCapture(
        Challenge.from_dict(cs.challenge), service.live.tracker(service.matcher), service.live
    )
    try:
        limits = service.live.limits
        await websocket.send_json(
            {
                "type": "ready",
                "max_frame_bytes": limits.max_frame_bytes,
                "max_audio_bytes": limits.max_audio_bytes,
                "max_capture_s": limits.max_capture_s,
            }
        )
        await _stream(websocket, service, capture)
        await websocket.send_json({"type": "judging"})
        judged = await run_in_threadpool(judge, service, capture, refs)
        result = await run_in_threadpool(_record, service, cs, judged, client)
    except BaseException:
        # Shielded: a cancelled task (the client gone, the server stopping) must still leave
        # the session as documented before it ends.
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_abandon, service, cs, client, capture.revealed)
        raise
    await websocket.send_json({"type": "verdict", **outcome_view(result, client).model_dump(mode="json")})
    await websocket.close(1000)


async def _stream(websocket: WebSocket, service: CertificationService, capture: LiveCapture) -> None:
    """Feed the capture until it is finished; a reader task stamps messages on arrival."""
    queue: asyncio.Queue[Arrival | BaseException] = asyncio.Queue(maxsize=BACKLOG)
    reader = asyncio.create_task(_read(websocket, service, queue))
    try:
        while not capture.finished:
            try:
                item = await asyncio.wait_for(queue.get(), STALL_S)
            except TimeoutError as exc:
                raise DomainError(Kind.INVALID, STALLED, f"no frame for {STALL_S:.0f} s") from exc
            if isinstance(item, BaseException):
                raise item
            if item.kind == AUDIO:
                capture.audio(item.payload, item.received_s, item.client_s)
                continue
            for event in await run_in_threadpool(capture.frame, item.payload, item.received_s, item.client_s):
                await websocket.send_json(event)
            service.live_load.measured(capture, service.live.clock() - item.received_s)
            if not capture.finished:
                # Every frame is answered, so the page keeps only a few in flight (back-pressure).
                await websocket.send_json({"type": "measured", "frames": len(capture.measures)})
    finally:
        service.live_load.ended(capture)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader


async def _read(
    websocket: WebSocket, service: CertificationService, queue: asyncio.Queue[Arrival | BaseException]
) -> None:
    try:
        while True:
            message = await websocket.receive()
            received = service.live.clock()
            item = _parse(message, received)
            if queue.full():  # measuring has fallen ~2 s behind: the host is overloaded
                raise DomainError(Kind.UNAVAILABLE, BUSY, retry_after_s=ADMISSION_RETRY_S)
            queue.put_nowait(item)
    except BaseException as exc:  # handed to the consumer, which answers or ends
        with contextlib.suppress(asyncio.QueueFull):
            queue.put_nowait(exc if isinstance(exc, Exception) else Ended())
        if isinstance(exc, asyncio.CancelledError):
            raise


def _parse(message: Mapping[str, Any], received_s: float) -> Arrival:
    if message["type"] == "websocket.disconnect":
        raise Ended()
    data = message.get("bytes")
    if isinstance(data, bytes):
        if len(data) < HEADER_BYTES or data[0] not in (FRAME, AUDIO):
            raise DomainError(Kind.INVALID, INVALID, "binary message: kind byte, 4-byte time, payload")
        client_ms = int.from_bytes(data[1:HEADER_BYTES], "little")
        return Arrival(data[0], received_s, client_ms / 1000.0, data[HEADER_BYTES:])
    try:
        text = json.loads(str(message.get("text")))
    except ValueError as exc:
        raise DomainError(Kind.INVALID, INVALID, "text messages are JSON") from exc
    if isinstance(text, dict) and text.get("type") == "stop":
        raise Ended()
    raise DomainError(Kind.INVALID, INVALID, "unexpected message")


def _abandon(service: CertificationService, cs: ChallengeSession, client: Client, revealed: bool) -> None:
    """A capture that ended without a verdict records no attempt. Before any prompt nothing
    was shown, so the session is released for a new connection; after one it stays used
    (its prompts, the digits perhaps, were seen) and the page opens a new session."""
    try:
        with service.db.transaction() as s:
            if revealed:
                audit.append(s, client.name, "live_capture_abandoned", cs.person_id, session_id=cs.id)
            else:
                sessions.release_claim(s, cs.id)
    except Exception as exc:
        log.error("live session %s left as claimed: %s", cs.id, exc.__class__.__name__)


async def _refuse(
    websocket: WebSocket, status: int, reason: Reason, detail: str = "", **extra: object
) -> None:
    with contextlib.suppress(Exception):
        await websocket.send_json({"type": "error", "problem": problem_body(status, reason, detail, **extra)})
        await websocket.close(4000 + status)
