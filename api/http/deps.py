"""What a route depends on: the service, and the calling client with its role and budget."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader
from sqlalchemy import select

from api.certification.errors import FORBIDDEN, RATE_LIMITED, UNAUTHENTICATED, DomainError, Kind
from api.certification.rate_limits import RateLimiter
from api.certification.security import hash_api_key
from api.certification.service import CertificationService
from api.certification.storage.schema import Client

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


def get_service(request: Request) -> CertificationService:
    return request.app.state.service


Service = Annotated[CertificationService, Depends(get_service)]


def authenticate(service: CertificationService, key: str) -> Client | None:
    """The active client this API key belongs to (only the key's hash is stored)."""
    with service.db.transaction() as s:
        return s.execute(
            select(Client).where(Client.key_hash == hash_api_key(key), Client.active.is_(True))
        ).scalar_one_or_none()


def require(*roles: str, budget: str = "default") -> Callable[..., Client]:
    """A dependency admitting active clients of ``roles`` (admins always), within the
    client's request budget ``budget`` (``request.app.state.limiters``)."""

    def dependency(
        request: Request, service: Service, key: Annotated[str | None, Depends(api_key_header)]
    ) -> Client:
        address = request.client.host if request.client else "unknown"
        return admit(service, request.app.state.limiters, key, address, roles, budget)

    return dependency


def admit(
    service: CertificationService,
    limiters: dict[str, RateLimiter],
    key: str | None,
    address: str,
    roles: tuple[str, ...],
    budget: str = "default",
) -> Client:
    """The one admission rule, for HTTP requests and the live WebSocket alike: an active
    client of ``roles`` (admins always), within its budget; a wrong key costs the caller's
    address its budget, as requests cost a client's."""
    client = authenticate(service, key) if key else None
    if client is None:
        if not limiters["unauthenticated"].allow(address):
            raise DomainError(Kind.RATE_LIMITED, RATE_LIMITED, retry_after_s=60)
        raise DomainError(Kind.UNAUTHENTICATED, UNAUTHENTICATED)
    if client.role not in roles and client.role != "admin":
        raise DomainError(Kind.FORBIDDEN, FORBIDDEN)
    if not limiters[budget].allow(client.name):
        raise DomainError(Kind.RATE_LIMITED, RATE_LIMITED, retry_after_s=60)
    return client


Frontline = Annotated[Client, Depends(require("kiosk", "app", "staff"))]
# Live camera advice polls about once a second: its own, more generous budget.
PreviewCaller = Annotated[Client, Depends(require("kiosk", "app", "staff", budget="preview"))]
# Helpers register through the phone app, at a kiosk, or with a clerk at the counter.
Helper = Annotated[Client, Depends(require("app", "kiosk", "staff"))]
Staff = Annotated[Client, Depends(require("staff"))]
StaffOrAdmin = Annotated[Client, Depends(require("staff", "admin"))]
Admin = Annotated[Client, Depends(require("admin"))]
