"""The service: serve it, add API clients, the monthly payment run, the kiosk's spoken prompts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli.common import app, err, fail

if TYPE_CHECKING:
    from fastapi import FastAPI

    from api.certification.settings import Settings
from models import ModelError

clients_app = typer.Typer(help="API clients: kiosks, the app backend, staff, admins.", no_args_is_help=True)
app.add_typer(clients_app, name="clients")


@clients_app.command("add")
def clients_add(
    name: Annotated[str, typer.Argument(help="A unique name, e.g. kiosk-hall-3.")],
    role: Annotated[str, typer.Option(help="kiosk, app, staff or admin.")],
) -> None:
    """Create a client and print its API key (shown once; only its hash is stored)."""
    from api.certification.clock import utcnow
    from api.certification.security import ROLES, hash_api_key, new_api_key
    from api.certification.settings import load_settings
    from api.certification.storage.db import Database, migrate
    from api.certification.storage.schema import Client

    if role not in ROLES:
        raise fail(f"role must be one of {', '.join(ROLES)}")
    settings = load_settings()
    db = Database(settings.database_url)
    migrate(db.engine)
    key = new_api_key()
    try:
        with db.transaction() as s:
            s.add(Client(name=name, role=role, key_hash=hash_api_key(key), created_at=utcnow()))
    except Exception as exc:  # the unique name constraint, or the database being unreachable
        raise fail(f"could not add client {name!r}: {exc.__class__.__name__}") from exc
    print(key)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    demo: Annotated[
        bool, typer.Option(help="Seed demo persons (ID photos from --data) and demo keys.")
    ] = False,
    data: Annotated[Path, typer.Option(help="Shared test data, for --demo only.")] = Path("../shared/data"),
    workers: Annotated[
        int, typer.Option(min=1, help="API processes; above 1, rate limits are counted in the database.")
    ] = 1,
) -> None:
    """Run the certification service (SQLite under $LIFECERT_HOME unless LIFECERT_DATABASE_URL is set).

    Several workers share nothing but the database (nonces, lockouts, the audit chain head and,
    then, the rate limits live there), so hosts can be added behind a reverse proxy the same way
    (docs/DEPLOY.md)."""
    import uvicorn

    from api.certification.settings import live_captures_per_worker, load_settings
    from api.demo import seed_demo
    from api.http.app import create_app

    # Clips and imports are judged in worker processes, so the event loop stays free.
    os.environ.setdefault("LIFECERT_WORKER_PROCESSES", "1")
    if workers > 1:
        os.environ.setdefault("LIFECERT_RATE_LIMIT_STORE", "database")
        # The host's live-capture places shared out, or N workers would promise N times the
        # cores they have (api/certification/settings.py, live_captures).
        os.environ.setdefault("LIFECERT_LIVE_CAPTURES", str(live_captures_per_worker(workers)))
    try:
        settings = load_settings(demo=demo)
        application = create_app(settings)
    except (ModelError, ValueError) as exc:
        raise fail(str(exc)) from exc
    if demo:
        keys = seed_demo(application.state.service, data)
        # Keys are never printed: logs are kept and read by more people than the key file.
        err.print(f"demo API keys ({', '.join(keys)}): in {settings.home / 'demo-keys.json'} (owner-only)")
    _startup_notes(application, settings, demo, f"http://{host}:{port}")
    if workers == 1:
        uvicorn.run(application, host=host, port=port, log_level="info")
        return
    application.state.db.engine.dispose()  # each worker opens its own connections
    err.print(f"{workers} worker processes, rate limits shared through the database")
    uvicorn.run(
        "api.http.app:app_from_environment",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
    )


def _startup_notes(application: FastAPI, settings: Settings, demo: bool, url: str) -> None:
    """Where things are, and what is missing, for whoever starts the service."""
    from sqlalchemy import func, select

    from api.certification.storage.schema import Client
    from api.kiosk_audio import audio_dir, read_index

    err.print(f"database: {settings.database_url.split('@')[-1]}")
    if not demo:
        with application.state.db.transaction() as s:
            if not s.execute(select(func.count(Client.id))).scalar_one():
                err.print(
                    "no API clients yet: add one with `lifecert clients add NAME --role kiosk|app|staff`"
                )
    if not read_index(audio_dir(settings.home)):
        err.print("no spoken prompts: run `lifecert kiosk-audio` (needs espeak-ng); the page shows text only")
    err.print(f"kiosk page: {url}/kiosk/   API docs: {url}/docs")


@app.command("payment-run")
def payment_run(
    month: Annotated[str | None, typer.Argument(help="YYYY-MM; default: this month.")] = None,
) -> None:
    """Decide a month's payment run once, after its cut-off day (a monthly cron job): record
    whose pay is withheld; prints the counts as JSON."""
    from api.certification import payments
    from api.certification.errors import DomainError
    from api.certification.rules import load_policies
    from api.certification.service import CertificationService
    from api.certification.settings import load_settings
    from api.certification.storage.db import Database, migrate

    settings = load_settings()
    db = Database(settings.database_url)
    try:
        migrate(db.engine)
        service = CertificationService(settings, db, load_policies(settings.home / "policies"))
        month = month or service.today().strftime("%Y-%m")
        with db.transaction() as s:
            run = payments.payment_run(service, s, month, "cli:payment-run")
            out = {"month": run.month, "decided_on": run.decided_on.isoformat(), "counts": run.counts}
    except DomainError as exc:
        raise fail(f"{exc.reason.en} {exc.detail}".strip()) from exc
    finally:
        db.engine.dispose()
    print(json.dumps(out, ensure_ascii=False))


register_app = typer.Typer(help="The register search index (look-alike screening).", no_args_is_help=True)
app.add_typer(register_app, name="register-index")


@register_app.command("rebuild")
def register_index_rebuild() -> None:
    """Rebuild the register index from the sealed templates (after a key change, a restore
    from backup, or pgvector installed later); prints what it holds as JSON."""
    from api.certification import register_index
    from api.certification.rules import load_policies
    from api.certification.service import CertificationService
    from api.certification.settings import load_settings
    from api.certification.storage.db import Database, migrate

    settings = load_settings()
    db = Database(settings.database_url)
    try:
        migrate(db.engine)
        service = CertificationService(settings, db, load_policies(settings.home / "policies"))
        out = register_index.rebuild(service)
    except (ModelError, ValueError) as exc:
        raise fail(str(exc)) from exc
    finally:
        db.engine.dispose()
    print(json.dumps(out, ensure_ascii=False, default=str))


@app.command("kiosk-audio")
def kiosk_audio() -> None:
    """Make the kiosk page's spoken prompts (Chinese and English) with espeak-ng, once."""
    from api.certification.settings import load_settings
    from api.kiosk_audio import KioskAudioError, audio_dir, build_prompts

    out = audio_dir(load_settings().home)
    try:
        index = build_prompts(out)
    except KioskAudioError as exc:
        raise fail(str(exc)) from exc
    print(f"{sum(len(v) for v in index.values())} spoken prompts in {out}")
