"""The edge of the service, before any route runs: who may send a body, how big, how slowly.

FastAPI parses a request's body before its dependencies run, so without this a caller with no
key could make the service spool hundreds of megabytes to disk before hearing 401, and a
caller that announces a megabyte and sends seven bytes could hold a worker indefinitely.
For every request with a body under ``/v1/``: the API key is checked first (401 before a
byte is read), the announced and the actual size are bounded per route (413), and each
chunk must arrive within ``CHUNK_TIMEOUT_S`` (408). The body is then handed on whole.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.concurrency import run_in_threadpool

from api.certification.errors import INVALID, RATE_LIMITED, UNAUTHENTICATED, UPLOAD_TOO_LARGE, DomainError
from api.http.problems import domain_problem, problem
from matcher.errors import Reason

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CHUNK_TIMEOUT_S = 10.0
MULTIPART_SLACK = 64 * 1024  # boundaries and part headers around the file itself
BODY_METHODS = {"POST", "PUT", "PATCH"}
SLOW_BODY = Reason(
    "body_too_slow", "The upload stalled: check the connection and retry.", "上传中断，请检查网络后重试。"
)


class EdgeGuard:
    """``limit_for(path)``: the largest body a route takes; ``authenticate(key)``: whether a
    key belongs to an active client; ``allow_unauthenticated(address)``: the budget of
    requests without a valid key per address."""

    def __init__(
        self,
        app: ASGIApp,
        limit_for: Callable[[str], int],
        authenticate: Callable[[str], bool],
        allow_unauthenticated: Callable[[str], bool],
    ) -> None:
        self.app = app
        self.limit_for = limit_for
        self.authenticate = authenticate
        self.allow_unauthenticated = allow_unauthenticated

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in BODY_METHODS
            or not scope["path"].startswith("/v1/")
        ):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        key = headers.get("x-api-key", "")
        if not key or not await run_in_threadpool(self.authenticate, key):
            address = scope["client"][0] if scope.get("client") else "unknown"
            try:  # a database or Redis round trip: off the event loop
                allowed = await run_in_threadpool(self.allow_unauthenticated, address)
            except DomainError as exc:  # the store of the counts is unreachable
                await domain_problem(exc)(scope, receive, send)
                return
            if not allowed:
                await problem(429, RATE_LIMITED, retry_after_s=60)(scope, receive, send)
                return
            await problem(401, UNAUTHENTICATED)(scope, receive, send)
            return
        limit = self.limit_for(scope["path"]) + MULTIPART_SLACK
        try:
            announced = int(headers.get("content-length", "0"))
        except ValueError:
            await problem(400, INVALID, "Content-Length is not a number")(scope, receive, send)
            return
        if announced > limit:
            await problem(413, UPLOAD_TOO_LARGE, f"limit {limit} bytes")(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            try:
                message = await asyncio.wait_for(receive(), CHUNK_TIMEOUT_S)
            except TimeoutError:
                await problem(408, SLOW_BODY)(scope, receive, send)
                return
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                await problem(413, UPLOAD_TOO_LARGE, f"limit {limit} bytes")(scope, receive, send)
                return
        await self.app(scope, _replay(bytes(body), receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: the disconnect, when it comes

    return replay


# The kiosk page loads nothing but its own files, is framed by nobody, and may use the camera
# and microphone of its own origin only; every answer is taken as the type it says it is.
KIOSK_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; "
    "style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
ALWAYS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
KIOSK = {
    "content-security-policy": KIOSK_POLICY,
    "permissions-policy": "camera=(self), microphone=(self), geolocation=(), payment=(), usb=()",
}


class SecurityHeaders:
    """Adds the headers above to every response (the kiosk's to /kiosk pages)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = {**ALWAYS, **(KIOSK if scope["path"].startswith("/kiosk") else {})}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.decode("latin-1").lower() for k, _ in message.get("headers", [])}
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (k.encode(), v.encode()) for k, v in extra.items() if k not in present
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)
