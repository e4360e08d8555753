"""The HTTP service: kiosks, the phone app backend and staff talk to this.

Every endpoint except /healthz needs an API key (header ``X-API-Key``); roles gate what a
key may do; each client is rate-limited; uploads are checked by their bytes, size and
duration; errors are RFC 9457 ``application/problem+json`` with a stable code and a
Chinese and English message. ID numbers and images never reach the logs.

This module only wires: settings, the service, problem handlers, routers, the /kiosk mount.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from api.certification import rate_limits
from api.certification.preview import PREVIEW_MAX_BYTES
from api.certification.rate_limits import RateLimiter
from api.certification.rules import load_policies
from api.certification.service import CertificationService
from api.certification.settings import Settings, load_settings
from api.certification.storage.db import Database, migrate
from api.certification.workers import WorkerPool
from api.http import problems
from api.http.deps import authenticate
from api.http.edge import EdgeGuard, SecurityHeaders
from api.http.routers import (
    audit,
    certification,
    kiosk,
    lists,
    live,
    ops,
    persons,
    proxies,
    registry,
    reviews,
)
from api.http.uploads import CSV_MAX_BYTES
from matcher import FaceMatcher
from models import ModelStore

ROUTERS = (ops, certification, live, proxies, persons, registry, reviews, lists, audit, kiosk)
PREVIEW_RATE_PER_MINUTE = 120
JSON_MAX_BYTES = 64 * 1024


def body_limit(settings: Settings, path: str) -> int:
    """The largest body each kind of route takes; JSON bodies are small."""
    if path.endswith("/response"):
        return settings.max_video_bytes
    if path.endswith(("/id-photo", "/remote-form")):
        return settings.max_image_bytes
    if path.endswith("/import"):
        return CSV_MAX_BYTES
    if path == "/v1/preview":
        return PREVIEW_MAX_BYTES
    return JSON_MAX_BYTES


def limiters(settings: Settings, db: Database) -> dict[str, RateLimiter]:
    budgets = {
        "default": settings.rate_per_minute,
        "preview": max(settings.rate_per_minute, PREVIEW_RATE_PER_MINUTE),
        "unauthenticated": settings.rate_per_minute,
    }
    return rate_limits.limiters(settings.rate_limit_store, db, budgets)


def app_from_environment() -> FastAPI:
    """The app as each worker process builds it (`lifecert serve --workers N`): settings from
    the environment, models loaded in the worker."""
    return create_app(load_settings())


def create_app(settings: Settings, matcher: FaceMatcher | None = None) -> FastAPI:
    db = Database(settings.database_url)
    migrate(db.engine)
    policies = load_policies(settings.home / "policies")
    if settings.policy not in policies:
        raise ValueError(f"unknown default policy {settings.policy!r}")
    if settings.challenges not in ("classic", "random"):
        raise ValueError(f"LIFECERT_CHALLENGES is classic or random, not {settings.challenges!r}")
    service = CertificationService(
        settings, db, policies, matcher or FaceMatcher(ModelStore(), settings.preset)
    )
    # The API docs' scripts are served from here too: the kiosk's origin loads nothing from a CDN.
    if settings.worker_processes:
        service.workers = WorkerPool(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if service.workers is not None:
            service.workers.close()

    app = FastAPIOffline(
        title="lifecert",
        version="0.1.0",
        description="Proof-of-life certification: face match + liveness, certification records and rules.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.db = db
    app.state.limiters = limiters(settings, db)
    problems.install(app)
    app.add_middleware(
        EdgeGuard,
        limit_for=lambda path: body_limit(settings, path),
        authenticate=lambda key: authenticate(service, key) is not None,
        allow_unauthenticated=app.state.limiters["unauthenticated"].allow,
    )
    app.add_middleware(SecurityHeaders)
    for module in ROUTERS:
        app.include_router(module.router, responses=problems.RESPONSES)
    web = resources.files("api").joinpath("web")
    app.mount("/kiosk", StaticFiles(directory=str(web), html=True), name="kiosk")
    return app
