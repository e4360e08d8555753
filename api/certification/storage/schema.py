"""The tables. ID numbers are never stored in clear: a keyed hash for lookup, and an
encrypted copy for staff who must see it. Face data is stored as embeddings, not images."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# FaceReference.source of an ID photo that staff found to be another person's face on this
# record (a rejected duplicate-reference review): kept, so that the register index, which
# only ever adds, stays in step with the table, but never used for matching.
WITHDRAWN = "withdrawn"


class Base(DeclarativeBase):
    pass


class Client(Base):
    """An authenticated caller: a kiosk, the phone app backend, a staff member, an admin."""

    __tablename__ = "clients"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(10))  # kiosk | app | staff | admin
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Person(Base):
    __tablename__ = "persons"
    id: Mapped[int] = mapped_column(primary_key=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    id_encrypted: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(String(100))
    # Indexed: the look-alike screening reads the persons who share a phone (a household).
    phone: Mapped[str] = mapped_column(String(20), default="", index=True)
    category: Mapped[str] = mapped_column(String(30))
    policy: Mapped[str] = mapped_column(String(50))
    benefit_start: Mapped[date] = mapped_column(Date)
    deceased_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    references: Mapped[list[FaceReference]] = relationship(back_populates="person")
    certifications: Mapped[list[Certification]] = relationship(
        back_populates="person", order_by="Certification.certified_on"
    )


class FaceReference(Base):
    """A reference embedding with its provenance (ID photo, or a passed live capture)."""

    __tablename__ = "face_references"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    preset: Mapped[str] = mapped_column(String(30))
    source: Mapped[str] = mapped_column(String(20))  # id_photo | live_capture | withdrawn
    quality: Mapped[dict] = mapped_column(JSON, default=dict)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempts.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    person: Mapped[Person] = relationship(back_populates="references")


def matchable() -> ColumnElement[bool]:
    """The references a decision may use: every one but a withdrawn ID photo."""
    return FaceReference.source != WITHDRAWN


class Proxy(Base):
    """A relative or friend who certifies others on their own phone (代他人认证)."""

    __tablename__ = "proxies"
    id: Mapped[int] = mapped_column(primary_key=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The client (app backend, kiosk) it was registered through: only that client, or staff,
    # may use it, so a proxy id seen on one device is no key to another.
    registered_by: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), nullable=True)


class ProxyLink(Base):
    __tablename__ = "proxy_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    proxy_id: Mapped[int] = mapped_column(ForeignKey("proxies.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    relationship_to_person: Mapped[str] = mapped_column(String(30))
    consent_version: Mapped[str] = mapped_column(String(20))
    consented_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Consent(Base):
    """The person's agreement to the personal-information processing rules before a scan."""

    __tablename__ = "consents"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("challenge_sessions.id"))
    text_version: Mapped[str] = mapped_column(String(20))
    accepted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ChallengeSession(Base):
    __tablename__ = "challenge_sessions"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    proxy_id: Mapped[int | None] = mapped_column(ForeignKey("proxies.id"), nullable=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    channel: Mapped[str] = mapped_column(String(20))
    mode: Mapped[str] = mapped_column(String(10))  # self | proxy | assisted
    challenge: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    consumed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class Attempt(Base):
    """Every certification attempt, passed or not, with its scores and reasons."""

    __tablename__ = "attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("challenge_sessions.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(20))  # passed | failed | review
    liveness_passed: Mapped[bool] = mapped_column(Boolean)
    match_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Certification(Base):
    __tablename__ = "certifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    certified_on: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(20))  # kiosk | phone | counter | home_visit | remote | data
    method: Mapped[str] = mapped_column(String(20))  # face | staff_assisted | form | data_comparison
    proxy_id: Mapped[int | None] = mapped_column(ForeignKey("proxies.id"), nullable=True)
    staff_client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), nullable=True)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempts.id"), nullable=True, unique=True)
    next_due: Mapped[date] = mapped_column(Date)
    payment_date: Mapped[date] = mapped_column(Date)
    back_paid_months: Mapped[list] = mapped_column(JSON, default=list)
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    person: Mapped[Person] = relationship(back_populates="certifications")


class PaymentRun(Base):
    """One month's payment run: who is paid, who is suspended. Run once per month, at the
    cut-off, so that the suspensions it records are the ones the payment system acted on."""

    __tablename__ = "payment_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7), unique=True)  # YYYY-MM
    decided_on: Mapped[date] = mapped_column(Date)  # the statuses are those of this day
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PaymentEvent(Base):
    """Payment-affecting events: suspension by a payment run, restoration with back pay,
    stop on death."""

    __tablename__ = "payment_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # suspended | held_for_review | restored | stopped_death
    payment_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    back_paid_months: Mapped[list] = mapped_column(JSON, default=list)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("payment_runs.id"), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Review(Base):
    """Work for staff: a possible fraud match, the 24-month rule, a remote assistance form."""

    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    # Indexed: every certification looks up the duplicate-reference reviews naming its person.
    kind: Mapped[str] = mapped_column(String(30), index=True)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempts.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | approved | rejected
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Who opened the review, where a person did (a remote form's uploader): the four-eyes
    # rule lets anyone but them decide it.
    created_by: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), nullable=True)


class ReviewDocument(Base):
    """A document a review rests on (the scanned 协助认证表), kept encrypted so that the
    second reviewer can open what the first one saw."""

    __tablename__ = "review_documents"
    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), index=True)
    media_type: Mapped[str] = mapped_column(String(30))
    sha256: Mapped[str] = mapped_column(String(64))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """Append-only, hash-chained: each entry's hash covers the previous entry's hash."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    person_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditChainHead(Base):
    """The one row every audit append updates first: the update takes the write lock
    (PostgreSQL's row lock, SQLite's database lock), so concurrent appends queue here
    instead of both reading the same last entry and forking the chain."""

    __tablename__ = "audit_chain_head"
    id: Mapped[int] = mapped_column(primary_key=True)
    entries: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))


class RateWindow(Base):
    """Requests counted per key and minute, shared by every API process (``serve --workers``):
    an in-process counter would let each worker grant the whole budget again."""

    __tablename__ = "rate_windows"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window: Mapped[int] = mapped_column(Integer, primary_key=True)  # minutes since the epoch
    count: Mapped[int] = mapped_column(Integer)
