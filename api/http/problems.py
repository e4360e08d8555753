"""Every error as RFC 9457 ``application/problem+json``: a stable code, Chinese and English
messages, and what to do next. The one table from domain error kinds to HTTP statuses."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException

from api.certification.errors import (
    INVALID,
    NEXT_STEP_EN,
    NEXT_STEP_ZH,
    STORAGE_UNAVAILABLE,
    DomainError,
    Kind,
)
from matcher.errors import Reason

log = logging.getLogger("lifecert.api")

STORAGE_RETRY_S = 60

STATUS: dict[Kind, int] = {
    Kind.UNAUTHENTICATED: 401,
    Kind.FORBIDDEN: 403,
    Kind.NOT_FOUND: 404,
    Kind.CONFLICT: 409,
    Kind.GONE: 410,
    Kind.TOO_LARGE: 413,
    Kind.UNSUPPORTED: 415,
    Kind.INVALID: 422,
    Kind.RATE_LIMITED: 429,
    Kind.UNAVAILABLE: 503,
}

INTERNAL = Reason(
    "internal_error",
    "Something went wrong on our side; nothing was recorded. " + NEXT_STEP_EN,
    "系统出现问题，本次操作未生效。" + NEXT_STEP_ZH,
)
NO_ROUTE = Reason("not_found", "There is nothing at this address.", "该地址不存在。")
METHOD = Reason("method_not_allowed", "This address does not accept that method.", "该地址不支持此请求方式。")


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of this service is answered."""

    type: str
    title: str
    status: int
    code: str = Field(description="stable, for programs: e.g. person_not_found, session_used")
    message_zh: str
    message_en: str
    detail: str | None = None
    retry_after_s: int | None = None


_DESCRIPTIONS = {
    400: "Malformed request",
    401: "No valid API key",
    403: "Not allowed for this client",
    404: "Not found",
    405: "Method not allowed",
    408: "The body arrived too slowly",
    409: "Conflict with the current state",
    410: "Expired",
    413: "Too large",
    415: "Not an accepted file type",
    422: "Invalid input",
    429: "Too many requests or attempts",
    500: "Internal error (nothing was recorded)",
    503: "Busy or storage unavailable: retry after Retry-After seconds",
}
# Declared on every route, so the OpenAPI description says what the service really answers.
RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": text, "content": {"application/problem+json": {}}}
    for status, text in _DESCRIPTIONS.items()
}


def problem_body(status: int, reason: Reason, detail: str = "", **extra: object) -> dict[str, object]:
    """The problem details of one error (also sent over the live capture's WebSocket)."""
    return {
        "type": f"https://lifecert.invalid/problems/{reason.code}",
        "title": reason.en,
        "status": status,
        "code": reason.code,
        "message_zh": reason.zh,
        "message_en": reason.en,
        **({"detail": detail} if detail else {}),
        **extra,
    }


def problem(status: int, reason: Reason, detail: str = "", **extra: object) -> JSONResponse:
    body = problem_body(status, reason, detail, **extra)
    retry = extra.get("retry_after_s")
    headers = {"Retry-After": str(retry)} if isinstance(retry, int) else None
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


def domain_problem(exc: DomainError) -> JSONResponse:
    """The response for a domain error: its kind's status, its reason, detail and extras."""
    return problem(STATUS[exc.kind], exc.reason, exc.detail, **exc.extra)


def storage_unavailable(exc: DBAPIError) -> bool:
    """A fault of the storage rather than of the request: worth retrying later."""
    read_only_transaction = getattr(exc.orig, "sqlstate", None) == "25006"  # PostgreSQL
    return isinstance(exc, OperationalError) or read_only_transaction


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_req: Request, exc: DomainError) -> JSONResponse:
        return domain_problem(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [".".join(str(p) for p in e["loc"][1:]) for e in exc.errors()]
        return problem(422, INVALID, f"invalid fields: {', '.join(fields)}")

    @app.exception_handler(HTTPException)
    async def _http(_req: Request, exc: HTTPException) -> JSONResponse:
        reason = {404: NO_ROUTE, 405: METHOD}.get(exc.status_code, INVALID)
        response = problem(exc.status_code, reason)
        response.headers.update(exc.headers or {})  # 405 carries Allow (RFC 9110)
        return response

    @app.exception_handler(DBAPIError)
    async def _storage(req: Request, exc: DBAPIError) -> JSONResponse:
        # Disk full, a read-only file or database, the server gone: say so, and when to retry.
        # (The statement's parameters are hidden: make_engine sets hide_parameters.)
        log.error("storage error on %s %s: %s", req.method, req.url.path, exc.orig.__class__.__name__)
        if storage_unavailable(exc):
            return problem(503, STORAGE_UNAVAILABLE, retry_after_s=STORAGE_RETRY_S)
        return problem(500, INTERNAL)

    @app.exception_handler(Exception)
    async def _internal(req: Request, exc: Exception) -> JSONResponse:
        # The class only: exception text can carry request data (ID numbers, names).
        log.error("unhandled %s on %s %s", exc.__class__.__name__, req.method, req.url.path)
        return problem(500, INTERNAL)
