"""Heavy work in worker processes: judging clips and large imports.

A clip's judgement is about a second of CPU, much of it Python (tracking, the checks), and a
100,000-row import is tens of seconds of Python (parsing, HMAC, encryption, SQL). In the API
process they hold the interpreter lock and starve the event loop: /healthz and lookups waited
seconds behind them (`make bench-faults`). Here each worker process loads its own models once
(spawned, not forked: the API process runs threads inside the model runtimes) and talks to the
same database; the API process only waits for the answer, on a thread.

``lifecert serve`` turns this on (``LIFECERT_WORKER_PROCESSES=1``); tests and benchmarks that
hand ``create_app`` a loaded matcher run the same functions in-process.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, TypeVar

from api.certification.enrolment import ImportReport
from api.certification.errors import BUSY, DomainError, Kind
from liveness.challenge import Challenge
from matcher.templates import Reference

if TYPE_CHECKING:
    from api.certification.judging import Judgement
    from api.certification.service import CertificationService
    from api.certification.settings import Settings

T = TypeVar("T")
log = logging.getLogger("lifecert.workers")
_service: CertificationService | None = None  # this worker process's own


WORKER_NICENESS = 10  # below the API process: a lookup or /healthz never waits behind a clip


def _start(settings: Settings) -> None:
    global _service
    os.nice(WORKER_NICENESS)
    from api.certification.rules import load_policies
    from api.certification.service import CertificationService
    from api.certification.storage.db import Database

    _service = CertificationService(
        settings, Database(settings.database_url), load_policies(settings.home / "policies")
    )
    _ = _service.analyzer  # load the models now, not on the first clip


def _ready() -> bool:
    return _service is not None


def _judge(challenge: dict[str, object], clip: bytes, references: list[Reference]) -> Judgement:
    from api.certification.judging import judge_clip

    assert _service is not None, "worker not started"
    judged = judge_clip(_service, Challenge.from_dict(challenge), clip, references)
    if judged.liveness is not None:  # the per-frame track holds the frames: not sent back
        judged = dataclasses.replace(judged, liveness=dataclasses.replace(judged.liveness, track=None))
    return judged


def _import(kind: str, text: str, client_id: int) -> ImportReport:
    assert _service is not None, "worker not started"
    return run_import(_service, kind, text, client_id)


def run_import(svc: CertificationService, kind: str, text: str, client_id: int) -> ImportReport:
    """One import in one transaction, on this process's connection."""
    from api.certification import enrolment, registry
    from api.certification.storage.schema import Client

    if kind not in ("persons", "deaths", "alive_records"):
        raise ValueError(f"unknown import {kind!r}")
    with svc.db.transaction() as s:
        client = s.get(Client, client_id)
        assert client is not None, "the caller was authenticated"
        if kind == "persons":
            return enrolment.import_persons(svc, s, text, client.name)
        if kind == "deaths":
            return registry.import_deaths(svc, s, text, client.name)
        return registry.import_alive_records(svc, s, text, client)


class WorkerPool:
    """The processes, replaced when one dies (killed for memory, say): that call answers 503
    and the next one gets a fresh pool, instead of every later call failing."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._pool = self._start_pool()
        try:  # fail at start, with the reason (models missing, say), not on the first clip
            self._pool.submit(_ready).result()
        except BrokenProcessPool as exc:
            self._pool.shutdown(cancel_futures=True)
            raise RuntimeError("the worker processes could not start: see the error above") from exc

    def _start_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self._settings.max_parallel_analyses,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(self._settings,),
        )

    def _call(self, fn: Callable[..., T], *args: object) -> T:
        pool = self._pool
        try:
            return pool.submit(fn, *args).result()
        except BrokenProcessPool as exc:
            log.error("a worker process died; starting new ones")
            with self._lock:
                if self._pool is pool:
                    self._pool = self._start_pool()
            raise DomainError(Kind.UNAVAILABLE, BUSY, retry_after_s=5) from exc

    def judge(self, challenge: Challenge, clip: bytes, references: list[Reference]) -> Judgement:
        return self._call(_judge, challenge.to_dict(), clip, references)

    def run_import(self, kind: str, text: str, client_id: int) -> ImportReport:
        return self._call(_import, kind, text, client_id)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
