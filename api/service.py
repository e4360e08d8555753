"""The certification service's operations, independent of HTTP.

Each operation takes a database session (one transaction) and returns plain results. The
heavy part of a certification (liveness and matching, about a second of CPU) runs between
two short transactions, so no database lock is held while frames are analysed, and the
session's nonce is consumed atomically in the first one: two uploads racing for the same
challenge cannot both be judged.
"""

from __future__ import annotations

import csv
import io
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from api import audit
from api import errors as E
from api.rules import (
    CATEGORIES,
    PersonRecord,
    Policy,
    assess,
    certify,
    month_end,
    payment_in_run,
    run_day,
)
from api.security import IdCipher, id_lookup_hash
from api.settings import Settings
from api.storage.db import Database
from api.storage.schema import (
    Attempt,
    Certification,
    ChallengeSession,
    Client,
    Consent,
    FaceReference,
    PaymentEvent,
    PaymentRun,
    Person,
    Proxy,
    ProxyLink,
    Review,
)
from liveness.analyse import LivenessAnalyzer
from liveness.challenge import Challenge, ChallengeFactory
from liveness.video import read_video
from matcher import FaceMatcher, MatcherError, Role, decode_image
from models import ModelStore

CONSENT_VERSION = "2026-01"

# Every person with their certification dates loaded in one query, not one per person.
EVERYONE = select(Person).options(selectinload(Person.certifications)).order_by(Person.id)

# How a payment run records a withheld month: suspended (back-paid on return) or held until
# staff review a proof (the 24-month rule).
WITHHELD = {"suspended": "suspended", "needs_review": "held_for_review"}
CHANNELS = ("kiosk", "phone", "counter", "home_visit", "remote", "data")
MAX_FAILED_PER_DAY = 5


def utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@dataclass
class ImportReport:
    imported: int
    errors: list[dict[str, object]] = field(default_factory=list)


@dataclass
class Outcome:
    """The result of one uploaded response, as the kiosk or phone shows it."""

    outcome: str  # passed | failed | review
    attempt_id: int
    reasons: list[dict[str, str]]
    match_score: float | None
    next_due: date | None = None
    payment_date: date | None = None
    back_paid_months: list[list[int]] = field(default_factory=list)
    certification_id: int | None = None
    analysis_ms: float | None = None


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
        self.cipher = IdCipher(settings.encryption_key)
        self.challenges = ChallengeFactory(ttl_s=settings.session_ttl_s)
        # Each judgement holds a clip's frames (up to a few hundred MB) and keeps a core busy
        # for about a second; more at once than there are cores only adds memory and waiting.
        self._analysis_slots = threading.BoundedSemaphore(settings.max_parallel_analyses)

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
        """The local calendar date (settings.timezone): a certification at 07:00 in Beijing
        is on that day, though it is still the previous day in UTC."""
        return datetime.now(ZoneInfo(self.settings.timezone)).date()

    # ---- identity ---------------------------------------------------------------
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

    def find_person(self, s: Session, id_number: str, name: str) -> Person:
        person = s.execute(
            select(Person).where(Person.id_hash == self.id_hash(id_number))
        ).scalar_one_or_none()
        if person is None or person.name.strip() != name.strip():
            raise E.ServiceError(404, E.NOT_FOUND)
        return person

    # ---- enrolment ----------------------------------------------------------------
    def import_persons(self, s: Session, text: str, actor: str) -> ImportReport:
        """Validate every row; import all good rows in this one transaction; report bad rows."""
        reader = csv.DictReader(io.StringIO(text))
        needed = {"id_number", "name", "category", "benefit_start"}
        if not reader.fieldnames or not needed <= set(reader.fieldnames):
            raise E.ServiceError(422, E.INVALID, f"CSV needs columns {sorted(needed)}")
        report = ImportReport(0)
        seen: set[str] = set()
        good: list[Person] = []
        for line, row in enumerate(reader, start=2):
            problem = self._row_problem(row)
            h = self.id_hash(row.get("id_number") or "")
            if problem is None and (
                h in seen or s.execute(select(Person.id).where(Person.id_hash == h)).first()
            ):
                problem = "duplicate ID number"
            if problem is not None:
                report.errors.append({"line": line, "error": problem})
                continue
            seen.add(h)
            good.append(
                Person(
                    id_hash=h,
                    id_encrypted=self.cipher.encrypt(row["id_number"]),
                    name=row["name"].strip(),
                    phone=(row.get("phone") or "").strip(),
                    category=row["category"].strip(),
                    policy=(row.get("policy") or self.settings.policy).strip(),
                    benefit_start=date.fromisoformat(row["benefit_start"].strip()),
                    created_at=utcnow(),
                )
            )
        s.add_all(good)
        s.flush()
        report.imported = len(good)
        audit.append(s, actor, "persons_imported", count=len(good), rejected=len(report.errors))
        return report

    def _row_problem(self, row: dict[str, str]) -> str | None:
        idn = (row.get("id_number") or "").strip()
        if not (15 <= len(idn) <= 18) or not idn[:-1].isdigit():
            return "id_number must be 15-18 characters, digits (last may be X)"
        if not (row.get("name") or "").strip():
            return "name is empty"
        if (row.get("category") or "").strip() not in CATEGORIES:
            return f"category must be one of {', '.join(CATEGORIES)}"
        policy = (row.get("policy") or self.settings.policy).strip()
        if policy not in self.policies:
            return f"unknown policy {policy!r}"
        try:
            date.fromisoformat((row.get("benefit_start") or "").strip())
        except ValueError:
            return "benefit_start must be YYYY-MM-DD"
        phone = (row.get("phone") or "").strip()
        if phone and (not phone.isdigit() or not 7 <= len(phone) <= 15):
            return "phone must be 7-15 digits"
        return None

    def enrol_photo(self, s: Session, person: Person, image: bytes, actor: str) -> FaceReference:
        """Quality-gated ID photo -> reference embedding. The image itself is not kept."""
        try:
            face = self.matcher.analyse(
                decode_image(image, max_bytes=self.settings.max_image_bytes), Role.REFERENCE
            )
        except MatcherError as exc:
            raise E.ServiceError(422, exc.reason, exc.detail) from exc
        if not face.quality.passed:
            raise E.ServiceError(
                422, face.quality.reasons[0], ", ".join(r.code for r in face.quality.reasons)
            )
        assert face.embedding is not None
        ref = FaceReference(
            person_id=person.id,
            embedding=face.embedding.astype(np.float32).tobytes(),
            preset=self.matcher.preset.key,
            source="id_photo",
            quality=face.quality.as_dict(),
            created_at=utcnow(),
        )
        s.add(ref)
        s.flush()
        audit.append(s, actor, "reference_enrolled", person.id, source="id_photo")
        return ref

    # ---- proxies ------------------------------------------------------------------
    def register_proxy(self, s: Session, id_number: str, name: str, phone: str, actor: str) -> Proxy:
        h = self.id_hash(id_number)
        proxy = s.execute(select(Proxy).where(Proxy.id_hash == h)).scalar_one_or_none()
        if proxy is None:
            proxy = Proxy(id_hash=h, name=name.strip(), phone=phone.strip(), created_at=utcnow())
            s.add(proxy)
            s.flush()
            audit.append(s, actor, "proxy_registered", proxy_id=proxy.id)
        return proxy

    def link_proxy(
        self, s: Session, proxy: Proxy, person: Person, relationship: str, actor: str
    ) -> ProxyLink:
        link = s.execute(
            select(ProxyLink).where(ProxyLink.proxy_id == proxy.id, ProxyLink.person_id == person.id)
        ).scalar_one_or_none()
        if link is None:
            link = ProxyLink(
                proxy_id=proxy.id,
                person_id=person.id,
                relationship_to_person=relationship,
                consent_version=CONSENT_VERSION,
                consented_at=utcnow(),
            )
            s.add(link)
            s.flush()
            audit.append(s, actor, "proxy_linked", person.id, proxy_id=proxy.id, relationship=relationship)
        return link

    # ---- the certification flow ---------------------------------------------------------
    def start_session(
        self,
        s: Session,
        person: Person,
        client: Client,
        *,
        channel: str,
        consent: bool,
        proxy: Proxy | None = None,
        mode: str = "self",
    ) -> tuple[ChallengeSession, Challenge]:
        if person.deceased_on is not None:
            s.add(
                Review(
                    person_id=person.id,
                    kind="deceased_attempt",
                    created_at=utcnow(),
                    detail={"channel": channel},
                )
            )
            audit.append(s, client.name, "attempt_refused_deceased", person.id, channel=channel)
            raise E.ServiceError(409, E.DECEASED)
        if not consent:
            raise E.ServiceError(422, E.CONSENT_REQUIRED)
        if channel not in CHANNELS:
            raise E.ServiceError(422, E.INVALID, f"channel must be one of {CHANNELS}")
        if (
            proxy is not None
            and not s.execute(
                select(ProxyLink.id).where(ProxyLink.proxy_id == proxy.id, ProxyLink.person_id == person.id)
            ).first()
        ):
            raise E.ServiceError(403, E.NOT_LINKED)
        if not person.references:
            raise E.ServiceError(409, E.NO_REFERENCE)
        since = utcnow() - timedelta(days=1)
        failed = s.execute(
            select(func.count(Attempt.id)).where(
                Attempt.person_id == person.id, Attempt.outcome == "failed", Attempt.created_at >= since
            )
        ).scalar_one()
        if failed >= MAX_FAILED_PER_DAY:
            raise E.ServiceError(429, E.TOO_MANY_ATTEMPTS)
        challenge = self.challenges.issue()
        cs = ChallengeSession(
            id=str(uuid.uuid4()),
            nonce=challenge.nonce,
            person_id=person.id,
            proxy_id=proxy.id if proxy else None,
            client_id=client.id,
            channel=channel,
            mode=mode,
            challenge=challenge.to_dict(),
            created_at=challenge.issued_at,
            expires_at=challenge.expires_at,
        )
        s.add(cs)
        s.flush()
        s.add(
            Consent(person_id=person.id, session_id=cs.id, text_version=CONSENT_VERSION, accepted_at=utcnow())
        )
        audit.append(
            s, client.name, "session_started", person.id, session_id=cs.id, channel=channel, mode=mode
        )
        return cs, challenge

    def preview(self, image: bytes) -> dict[str, object]:
        """One camera frame -> the most useful piece of advice (no storage, no logging)."""
        try:
            frame = decode_image(image, max_bytes=2 * 1024 * 1024)
            face = self.matcher.analyse(frame, Role.PROBE, embed=False)
        except MatcherError as exc:
            return {"code": exc.reason.code, "message_zh": exc.reason.zh, "message_en": exc.reason.en}
        if face.quality.faces > 1:
            return {
                "code": "several_faces",
                "message_zh": "画面中只能有一个人",
                "message_en": "One face only",
            }
        if face.quality.reasons:
            r = face.quality.reasons[0]
            return {"code": r.code, "message_zh": r.zh, "message_en": r.en}
        return {"code": "ok", "message_zh": "位置合适", "message_en": "Good position"}

    def claim_session(
        self, s: Session, session_id: str, client: Client
    ) -> tuple[ChallengeSession, list[np.ndarray]]:
        """Consume the session's nonce (exactly once) and load what the judgement needs."""
        cs = s.get(ChallengeSession, session_id)
        if cs is None or cs.client_id != client.id:
            raise E.ServiceError(404, E.SESSION_UNKNOWN)
        if _aware(cs.expires_at) <= utcnow():
            raise E.ServiceError(410, E.SESSION_EXPIRED)
        claimed = s.execute(
            update(ChallengeSession)
            .where(ChallengeSession.id == session_id, ChallengeSession.consumed_at.is_(None))
            .values(consumed_at=utcnow(), attempts=ChallengeSession.attempts + 1)
        ).rowcount
        if claimed != 1:
            raise E.ServiceError(409, E.SESSION_USED)
        refs = s.execute(select(FaceReference).where(FaceReference.person_id == cs.person_id)).scalars().all()
        return cs, [
            np.frombuffer(r.embedding, dtype=np.float32) for r in refs if r.preset == self.matcher.preset.key
        ]

    def judge(
        self, cs: ChallengeSession, clip_bytes: bytes, references: list[np.ndarray]
    ) -> dict[str, object]:
        """Liveness, then the best frame against the person's references. No database access."""
        challenge = Challenge.from_dict(cs.challenge)
        with self._analysis_slots:
            return self._judge(challenge, clip_bytes, references)

    def _judge(
        self, challenge: Challenge, clip_bytes: bytes, references: list[np.ndarray]
    ) -> dict[str, object]:
        with tempfile.NamedTemporaryFile(suffix=".clip") as tmp:
            tmp.write(clip_bytes)
            tmp.flush()
            try:
                clip = read_video(Path(tmp.name))
            except MatcherError as exc:
                return {"liveness": None, "error": exc.reason, "score": None, "embedding": None}
        t0 = time.perf_counter()
        result = self.analyzer.analyse(clip, challenge)
        score = None
        if result.best_embedding is not None and references:
            score = max(self.matcher.compare(r, result.best_embedding) for r in references)
        return {
            "liveness": result,
            "error": None,
            "score": score,
            "embedding": result.best_embedding,
            "analysis_ms": (time.perf_counter() - t0) * 1000,
        }

    def record(
        self,
        s: Session,
        cs: ChallengeSession,
        judged: dict[str, object],
        actor: str,
        today: date | None = None,
        staff: Client | None = None,
    ) -> Outcome:
        """Write the attempt and, on a pass, the certification with due and payment dates."""
        person = s.get(Person, cs.person_id)
        assert person is not None
        liveness = judged["liveness"]
        score = judged["score"]
        reasons: list[dict[str, str]] = []
        if judged["error"] is not None:
            reasons.append(judged["error"].as_dict())  # type: ignore[union-attr]
        elif liveness is not None:
            reasons += [r.as_dict() for r in liveness.reasons]  # type: ignore[attr-defined]
        live_ok = liveness is not None and liveness.passed  # type: ignore[attr-defined]
        matched = score is not None and score >= self.matcher.threshold  # type: ignore[operator]
        if live_ok and not matched:
            reasons.append(
                E.R(
                    "face_mismatch",
                    "The face does not match the photo on file. " + E.NEXT_STEP_EN,
                    "人脸与登记照片不一致。" + E.NEXT_STEP_ZH,
                ).as_dict()
            )
        outcome = "passed" if live_ok and matched else "failed"
        fraud = None
        if outcome == "passed":
            fraud = self._other_person_match(s, person, judged["embedding"], float(score), cs.proxy_id)  # type: ignore[arg-type]
            if fraud is not None:
                outcome = "review"
        policy = self.policy_for(person)
        today = today or self.today()
        before = assess(policy, self.record_of(person), today)
        if outcome == "passed" and before.status == "needs_review":
            outcome = "review"
        evidence = {
            "checks": [c.as_dict() for c in liveness.checks] if liveness else [],  # type: ignore[attr-defined]
            "best_frame": liveness.best_frame if liveness else None,
        }  # type: ignore[attr-defined]
        attempt = Attempt(
            session_id=cs.id,
            person_id=person.id,
            channel=cs.channel,
            outcome=outcome,
            liveness_passed=live_ok,
            match_score=None if score is None else float(score),
            reasons=reasons,
            evidence=evidence,  # type: ignore[arg-type]
            created_at=utcnow(),
        )
        s.add(attempt)
        s.flush()
        audit.append(
            s,
            actor,
            "attempt_recorded",
            person.id,
            attempt=attempt.id,
            outcome=outcome,
            score=None if score is None else round(float(score), 4),
        )  # type: ignore[arg-type]
        result = Outcome(outcome, attempt.id, reasons, None if score is None else float(score))  # type: ignore[arg-type]
        result.analysis_ms = judged.get("analysis_ms")  # type: ignore[assignment]
        if outcome == "review":
            kind = "possible_impersonation" if fraud else "24_month_rule"
            s.add(
                Review(
                    person_id=person.id,
                    kind=kind,
                    attempt_id=attempt.id,
                    created_at=utcnow(),
                    detail=fraud or {"months_since_certification": before.months_since_certification},
                )
            )
            result.reasons.append(
                E.R(
                    "needs_staff_review",
                    "Passed, but staff must review the case before payments change; you will be contacted.",
                    "认证已提交，需工作人员审核后生效，请留意通知。",
                ).as_dict()
            )
            return result
        if outcome == "passed":
            cert = self._certify(
                s,
                person,
                today,
                channel=cs.channel,
                method="face",
                attempt=attempt,
                proxy_id=cs.proxy_id,
                staff=staff,
                actor=actor,
            )
            # Keep the passed live capture as a reference so the age gap to the ID photo shrinks.
            s.add(
                FaceReference(
                    person_id=person.id,
                    embedding=np.asarray(judged["embedding"], np.float32).tobytes(),
                    preset=self.matcher.preset.key,
                    source="live_capture",
                    attempt_id=attempt.id,
                    created_at=utcnow(),
                )
            )
            result.next_due, result.payment_date = cert.next_due, cert.payment_date
            result.back_paid_months = cert.back_paid_months
            result.certification_id = cert.id
        return result

    def record_certification(
        self,
        s: Session,
        person: Person,
        on: date,
        *,
        channel: str,
        method: str,
        staff: Client,
        evidence: dict[str, object] | None = None,
    ) -> Certification:
        """A certification staff record directly (counter paperwork, demo history)."""
        return self._certify(
            s,
            person,
            on,
            channel=channel,
            method=method,
            attempt=None,
            proxy_id=None,
            staff=staff,
            actor=staff.name,
            evidence=evidence,
        )

    def _certify(
        self,
        s: Session,
        person: Person,
        today: date,
        *,
        channel: str,
        method: str,
        attempt: Attempt | None,
        proxy_id: int | None,
        staff: Client | None,
        actor: str,
        evidence: dict[str, object] | None = None,
    ) -> Certification:
        effect = certify(self.policy_for(person), self.record_of(person), today)
        cert = Certification(
            person_id=person.id,
            certified_on=today,
            channel=channel,
            method=method,
            proxy_id=proxy_id,
            staff_client_id=staff.id if staff else None,
            attempt_id=attempt.id if attempt else None,
            next_due=effect.next_due,
            payment_date=effect.payment_date,
            back_paid_months=[list(m) for m in effect.back_paid_months],
            evidence=evidence or {},
            created_at=utcnow(),
        )
        s.add(cert)
        if effect.back_paid_months:
            s.add(
                PaymentEvent(
                    person_id=person.id,
                    kind="restored",
                    payment_date=effect.payment_date,
                    back_paid_months=[list(m) for m in effect.back_paid_months],
                    created_at=utcnow(),
                )
            )
        s.flush()
        s.refresh(person)
        audit.append(
            s,
            actor,
            "certified",
            person.id,
            certification=cert.id,
            channel=channel,
            method=method,
            next_due=effect.next_due.isoformat(),
        )
        return cert

    def _other_person_match(
        self, s: Session, person: Person, embedding: np.ndarray, own_score: float, proxy_id: int | None
    ) -> dict[str, object] | None:
        """A live face that also matches someone else on the register goes to staff review.

        Two scopes, two thresholds. Among the people linked to the same proxy (a handful),
        the matcher's 1:1 operating threshold applies. Against the whole register a 1:1
        threshold would flag nearly everyone once the register is large (at FMR 1e-3 and
        10,000 people, ~10 false hits per check), so a stricter identification threshold is
        used there (settings.register_match_threshold, 0.55: FMR 1.6e-6 per comparison and
        TAR 86 % over every pair of LFW photos, measured by `lifecert bench-impostors`; a
        register of 10,000 sends ~1.5 % of certifications to review). One matrix product over
        all references; beyond ~10^5 people, index the embeddings instead.
        """
        linked: set[int] = set()
        if proxy_id is not None:
            linked = set(
                s.execute(select(ProxyLink.person_id).where(ProxyLink.proxy_id == proxy_id)).scalars()
            )
        rows = s.execute(
            select(FaceReference.person_id, FaceReference.embedding).where(
                FaceReference.person_id != person.id, FaceReference.preset == self.matcher.preset.key
            )
        ).all()
        if not rows:
            return None
        refs = np.stack([np.frombuffer(r.embedding, dtype=np.float32) for r in rows])
        scores = refs @ np.asarray(embedding, dtype=np.float32)
        for i in np.argsort(-scores):
            other = int(rows[i].person_id)
            limit = self.matcher.threshold if other in linked else self.settings.register_match_threshold
            if scores[i] >= limit:
                return {
                    "other_person_id": other,
                    "other_score": round(float(scores[i]), 4),
                    "own_score": round(own_score, 4),
                    "scope": "same_proxy" if other in linked else "register",
                }
            if scores[i] < self.matcher.threshold:
                break
        return None

    # ---- staff-recorded certifications and events ---------------------------------------
    def remote_form(self, s: Session, person: Person, staff: Client, scan: bytes, note: str) -> Review:
        """A 协助认证表 signed by an agency elsewhere: recorded for a second staff decision."""
        if person.deceased_on is not None:
            raise E.ServiceError(409, E.DECEASED)
        review = Review(
            person_id=person.id,
            kind="remote_form",
            created_at=utcnow(),
            detail={"note": note[:500], "scan_bytes": len(scan), "scan_sha256": _sha256(scan)},
        )
        s.add(review)
        s.flush()
        audit.append(s, staff.name, "remote_form_received", person.id, review=review.id)
        return review

    def decide_review(
        self, s: Session, review: Review, staff: Client, approve: bool, note: str, today: date | None = None
    ) -> Certification | None:
        if review.status != "open":
            raise E.ServiceError(409, E.INVALID, "review already decided")
        review.status = "approved" if approve else "rejected"
        review.decided_by, review.decided_at = staff.id, utcnow()
        audit.append(s, staff.name, "review_decided", review.person_id, review=review.id, approved=approve)
        person = s.get(Person, review.person_id)
        assert person is not None
        if not approve or review.kind == "deceased_attempt" or person.deceased_on is not None:
            return None
        method = {"remote_form": "form"}.get(review.kind, "face")
        channel = (
            "remote"
            if review.kind == "remote_form"
            else (
                s.get(Attempt, review.attempt_id).channel if review.attempt_id else "counter"  # type: ignore[union-attr]
            )
        )
        return self._certify(
            s,
            person,
            today or self.today(),
            channel=channel,
            method=method,
            attempt=s.get(Attempt, review.attempt_id) if review.attempt_id else None,
            proxy_id=None,
            staff=staff,
            actor=staff.name,
            evidence={"review": review.id, "note": note[:500]},
        )

    def _dated_person_rows(
        self, s: Session, text: str, date_field: str, report: ImportReport
    ) -> Iterator[tuple[Person, date, dict[str, str]]]:
        """Rows of ``id_number,<date_field>[,source]`` resolved to persons; bad rows go to ``report``."""
        for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
            try:
                when = date.fromisoformat((row.get(date_field) or "").strip())
            except ValueError:
                report.errors.append({"line": line, "error": f"{date_field} must be YYYY-MM-DD"})
                continue
            person = s.execute(
                select(Person).where(Person.id_hash == self.id_hash(row.get("id_number") or ""))
            ).scalar_one_or_none()
            problem = None
            if person is None:
                problem = "no such person"
            elif person.deceased_on is not None:
                problem = "person is already recorded as deceased"
            elif when > self.today():
                problem = f"{date_field} is in the future"
            if problem is not None:
                report.errors.append({"line": line, "error": problem})
                continue
            row["_line"] = str(line)
            yield person, when, row  # type: ignore[misc]

    def import_deaths(self, s: Session, text: str, actor: str) -> ImportReport:
        """Death records (数据比对): payments stop; later attempts are refused and flagged."""
        report = ImportReport(0)
        for person, died, row in self._dated_person_rows(s, text, "died_on", report):
            person.deceased_on = died
            s.add(PaymentEvent(person_id=person.id, kind="stopped_death", created_at=utcnow()))
            audit.append(s, actor, "death_recorded", person.id, source=(row.get("source") or "")[:50])
            report.imported += 1
        return report

    def import_alive_records(self, s: Session, text: str, staff: Client) -> ImportReport:
        """Data comparison (数据比对): a trusted record of the person alive counts as a
        certification on its date, where the person's policy allows it."""
        report = ImportReport(0)
        for person, seen, row in self._dated_person_rows(s, text, "seen_on", report):
            if not self.policy_for(person).allow_data_comparison:
                report.errors.append(
                    {
                        "line": int(row["_line"]),
                        "error": f"policy {person.policy} does not accept data comparison",
                    }
                )
                continue
            self._certify(
                s,
                person,
                seen,
                channel="data",
                method="data_comparison",
                attempt=None,
                proxy_id=None,
                staff=staff,
                actor=staff.name,
                evidence={"source": (row.get("source") or "")[:50]},
            )
            report.imported += 1
        return report

    def update_phone(self, s: Session, person: Person, phone: str, staff: Client) -> None:
        if not phone.isdigit() or not 7 <= len(phone) <= 15:
            raise E.ServiceError(422, E.INVALID, "phone must be 7-15 digits")
        person.phone = phone
        audit.append(s, staff.name, "phone_updated", person.id)

    # ---- payment runs ----------------------------------------------------------------
    def payment_run(self, s: Session, month: str, actor: str) -> PaymentRun:
        """Decide one month's payment run for everyone and record, as payment events, whose
        pay it withholds. Once per month (the payment system acts on it); refused before the
        month's cut-off, because a certification up to then still counts for that month."""
        try:
            year, number = (int(part) for part in month.split("-"))
            if len(month) != 7:
                raise ValueError(month)
            first = date(year, number, 1)
        except ValueError as exc:
            raise E.ServiceError(422, E.INVALID, "month must be YYYY-MM") from exc
        key = (year, number)
        decided_on = max(run_day(p, key) for p in self.policies.values())
        if decided_on > self.today():
            raise E.ServiceError(409, E.RUN_NOT_DUE, f"decided from {decided_on.isoformat()}")
        if s.execute(select(PaymentRun).where(PaymentRun.month == month)).scalar_one_or_none():
            raise E.ServiceError(409, E.RUN_DONE)
        run = PaymentRun(month=month, decided_on=decided_on, counts={}, actor=actor, created_at=utcnow())
        s.add(run)
        try:
            s.flush()
        except IntegrityError as exc:  # the same month run at the same moment elsewhere
            raise E.ServiceError(409, E.RUN_DONE) from exc
        counts = {"paid": 0, "suspended": 0, "needs_review": 0, "stopped": 0}
        for person in s.execute(EVERYONE).scalars():
            policy = self.policy_for(person)
            if person.benefit_start > run_day(policy, key):
                continue  # benefits not begun: not in this run
            decision = payment_in_run(policy, self.record_of(person), key)
            counts[decision] += 1
            if decision in WITHHELD:
                s.add(
                    PaymentEvent(
                        person_id=person.id,
                        kind=WITHHELD[decision],
                        payment_date=month_end(first),
                        run_id=run.id,
                        created_at=utcnow(),
                    )
                )
        counts["back_paid"] = s.execute(
            select(func.count(PaymentEvent.id)).where(
                PaymentEvent.kind == "restored",
                PaymentEvent.payment_date >= first,
                PaymentEvent.payment_date <= month_end(first),
            )
        ).scalar_one()
        run.counts = counts
        audit.append(s, actor, "payment_run", None, month=month, **counts)
        return run

    def withheld_in_run(self, s: Session, month: str) -> tuple[PaymentRun, list[tuple[Person, str]]]:
        """A recorded run and the persons whose pay it withheld, with the kind of hold."""
        run = s.execute(select(PaymentRun).where(PaymentRun.month == month)).scalar_one_or_none()
        if run is None:
            raise E.ServiceError(404, E.INVALID, f"no payment run recorded for {month}")
        rows = s.execute(
            select(Person, PaymentEvent.kind)
            .join(PaymentEvent, PaymentEvent.person_id == Person.id)
            .where(PaymentEvent.run_id == run.id)
            .order_by(Person.id)
        ).all()
        return run, [(person, kind) for person, kind in rows]

    # ---- staff lists ---------------------------------------------------------------
    def people_with_status(self, s: Session, today: date, statuses: set[str]) -> list[tuple[Person, object]]:
        out = []
        for person in s.execute(EVERYONE).scalars():
            a = assess(self.policy_for(person), self.record_of(person), today)
            if a.status in statuses:
                out.append((person, a))
        return out


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()
