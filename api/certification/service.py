"""The certification service's shared state, independent of HTTP and of the command line.

``CertificationService`` holds what every operation needs (settings, database, policies, the
ID cipher, the challenge factory, the face models) and nothing else: the operations live in
modules named for what they do (``people``, ``enrolment``, ``proxies``, ``sessions``,
``judging``, ``recording``, ``screening``, ``reviews``, ``registry``, ``payments``,
``lists``), each a set of functions over this state and one database session.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from functools import cached_property

from api.certification import judging, workers
from api.certification.clock import local_today
from api.certification.enrolment import ImportReport
from api.certification.errors import BUSY, LIVE_FULL, DomainError, Kind
from api.certification.judging import Judgement
from api.certification.live import LiveLoad, LiveSetup
from api.certification.rules import PersonRecord, Policy
from api.certification.security import RecordCipher, id_lookup_hash
from api.certification.settings import Settings
from api.certification.storage.db import Database
from api.certification.storage.schema import ChallengeSession, Person
from liveness.analyse import LivenessAnalyzer
from liveness.challenge import Challenge, ChallengeFactory
from matcher import FaceMatcher
from matcher.templates import Reference
from models import ModelStore

ADMISSION_RETRY_S = 5


class CertificationService:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        policies: dict[str, Policy],
        matcher: FaceMatcher | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.policies = policies
        self._matcher = matcher
        self.cipher = RecordCipher(settings.encryption_key)
        self.challenges: ChallengeFactory = ChallengeFactory(
            ttl_s=settings.session_ttl_s, kind=settings.challenges
        )
        # Each judgement holds a clip's frames (up to a few hundred MB) and keeps a core busy
        # for about a second; more at once than there are cores only adds memory and waiting.
        self.analysis_slots = threading.BoundedSemaphore(settings.max_parallel_analyses)
        self.workers: workers.WorkerPool | None = None  # set by the HTTP app when configured
        self.live = LiveSetup()  # live captures' clock, prompt planner and limits
        # Uploads admitted at once: those being judged plus a short queue. Past that a new
        # upload is refused at once (503, retry shortly) before its session is consumed,
        # rather than waiting in an unbounded queue holding its clip in memory.
        self._admission = threading.BoundedSemaphore(settings.max_parallel_analyses + settings.analysis_queue)
        # Live captures hold a place for their whole length (seconds, not one analysis), and
        # a host that falls behind their frames fails genuine people: they have their own cap.
        self._live_admission = threading.Semaphore(settings.live_captures)
        self.live_load = LiveLoad()

    @property
    def matcher(self) -> FaceMatcher:
        """The face models, loaded on first use: jobs that only apply the rules (a payment
        run) do not need them; the HTTP service passes them in, loaded at start."""
        if self._matcher is None:
            self._matcher = FaceMatcher(ModelStore(), self.settings.preset)
        return self._matcher

    @cached_property
    def analyzer(self) -> LivenessAnalyzer:
        return LivenessAnalyzer(self.matcher)

    def today(self) -> date:
        return local_today(self.settings.timezone)

    def id_hash(self, id_number: str) -> str:
        return id_lookup_hash(id_number, self.settings.id_hash_key)

    def policy_for(self, person: Person) -> Policy:
        return self.policies[person.policy]

    def record_of(self, person: Person) -> PersonRecord:
        return PersonRecord(
            person.category,
            person.benefit_start,
            tuple(c.certified_on for c in person.certifications),
            person.deceased_on,
        )

    @contextmanager
    def admitted(self) -> Iterator[None]:
        """One upload's place in the analysis queue, or ``DomainError(UNAVAILABLE)``."""
        if not self._admission.acquire(blocking=False):
            raise DomainError(Kind.UNAVAILABLE, BUSY, retry_after_s=ADMISSION_RETRY_S)
        try:
            yield
        finally:
            self._admission.release()

    @contextmanager
    def live_admitted(self) -> Iterator[None]:
        """A live capture's place (``settings.live_captures``, and none while a running capture
        falls behind: ``LiveLoad``) and, inside it, its place in the analysis queue. Refused:
        ``DomainError(UNAVAILABLE, LIVE_FULL)``, before anything is claimed, so the page can
        record and upload the same person at once."""
        if self.live_load.behind():  # the running captures are not kept up with already
            raise DomainError(Kind.UNAVAILABLE, LIVE_FULL, "behind", retry_after_s=ADMISSION_RETRY_S)
        if not self._live_admission.acquire(blocking=False):
            raise DomainError(Kind.UNAVAILABLE, LIVE_FULL, "full", retry_after_s=ADMISSION_RETRY_S)
        try:
            with self.admitted():
                yield
        finally:
            self._live_admission.release()

    def judge(self, cs: ChallengeSession, clip_bytes: bytes, references: list[Reference]) -> Judgement:
        """Liveness, then the best frame against the references, in one of the analysis slots."""
        challenge = Challenge.from_dict(cs.challenge)
        with self.analysis_slots:
            return self._judge(challenge, clip_bytes, references)

    def _judge(self, challenge: Challenge, clip_bytes: bytes, references: list[Reference]) -> Judgement:
        if self.workers is not None:
            return self.workers.judge(challenge, clip_bytes, references)
        return judging.judge_clip(self, challenge, clip_bytes, references)

    def run_import(self, kind: str, text: str, client_id: int) -> ImportReport:
        """A CSV import (persons, deaths, alive_records) in one transaction, in a worker
        process when there are workers."""
        if self.workers is not None:
            return self.workers.run_import(kind, text, client_id)
        return workers.run_import(self, kind, text, client_id)
