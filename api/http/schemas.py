"""The HTTP contract: a Pydantic model for every request body and every response."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict

MONTH_PATTERN = r"^(19|20)\d{2}-(0[1-9]|1[0-2])$"
# 18 characters (17 digits and a check digit or X) or the old 15 digits. The check digit itself
# (GB 11643) is checked by the domain, which answers 422 naming it.
ID_NUMBER_PATTERN = r"^(\d{17}[\dXx]|\d{15})$"
# Row ids are 32-bit on PostgreSQL: a larger one in a path is refused at the edge, not by the
# database (an out-of-range integer was a 500).
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
# Stored instants are UTC; SQLite hands them back without a zone. Said so on the way out, so
# every timestamp is an RFC 3339 date-time.
UtcDatetime = Annotated[datetime, AfterValidator(lambda d: d if d.tzinfo else d.replace(tzinfo=UTC))]
# Only true is a request the service can carry out; false is still parsed, so that the answer
# is the specific consent_required problem rather than a generic validation error.
CONSENT_GIVEN: JsonDict = {"const": True}
SessionChannel = Literal["kiosk", "phone", "counter", "home_visit"]


class LookupIn(BaseModel):
    id_number: str = Field(pattern=ID_NUMBER_PATTERN, description="身份证号 (never logged)")
    name: str = Field(min_length=1, max_length=50)


class ProxyIn(BaseModel):
    id_number: str = Field(pattern=ID_NUMBER_PATTERN)
    name: str = Field(min_length=1, max_length=50)
    phone: str = Field(min_length=7, max_length=15, pattern=r"^\d+$")


class ProxyLinkIn(LookupIn):
    relationship: str = Field(min_length=1, max_length=30)
    consent: bool = Field(
        description="the person agreed to be certified by this helper (false: consent_required)",
        json_schema_extra=CONSENT_GIVEN,
    )


class SessionIn(LookupIn):
    channel: SessionChannel = Field(
        description="kiosk and phone for frontline keys; counter and home_visit for staff"
    )
    consent: bool = Field(
        description="the person agreed to the personal-information rules (false: consent_required)",
        json_schema_extra=CONSENT_GIVEN,
    )
    proxy_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    language: Literal["zh", "en"] = Field(
        default="zh", description="how the person reads the digits aloud: Mandarin or English"
    )
    capture: Literal["upload", "live"] = Field(
        default="upload",
        description="upload: the challenge is returned and the clip posted to …/response; "
        "live: nothing of the challenge is returned, the camera streams to …/live (WebSocket)",
    )


class SearchIn(BaseModel):
    q: str = Field(min_length=1, max_length=50, description="name, or full ID number")


class PhoneIn(BaseModel):
    phone: str = Field(min_length=7, max_length=15, pattern=r"^\d+$")


class DecisionIn(BaseModel):
    approve: bool
    note: str = Field(default="", max_length=500)
    withdraw: Literal["enrolled", "other"] | None = Field(
        default=None,
        description="rejecting a duplicate_reference review only: the photo with the wrong face, "
        "the one whose enrolment opened the review (enrolled, the default) or the other record's",
    )


class PaymentRunIn(BaseModel):
    month: str = Field(pattern=MONTH_PATTERN, description="YYYY-MM")


class Health(BaseModel):
    status: str
    calibration: dict[str, Any] = Field(
        description="the 1:1 calibration in force: threshold, source, population"
    )
    register_index: dict[str, Any] = Field(
        description="the register search index in force (kind: usearch-hnsw, pgvector-hnsw or exact; "
        "null before this process's first certification), its matcher preset, the references it "
        "answered for at the last certification (size), a note (why exact, an index to rebuild) "
        "and the population whose impostor tail sizes the register threshold (curve: east-asian, lfw)"
    )
    rate_limits: str = Field(
        description="where request budgets are counted: memory (this process only), database or "
        "redis (shared by every worker and host)"
    )


class WhoAmI(BaseModel):
    name: str
    role: str


class Advice(BaseModel):
    code: str
    message_zh: str
    message_en: str


class PersonOut(BaseModel):
    person_id: int
    name: str
    id_number_masked: str
    category: str
    policy: str
    status: str
    due_date: date | None


class ProxyOut(BaseModel):
    proxy_id: int


class LinkOut(BaseModel):
    linked: bool
    person: PersonOut


class SessionOut(BaseModel):
    session_id: str
    blinks: int
    digits: str
    prompts: list[dict[str, Any]]
    expires_at: str
    language: str
    turns: list[str] = Field(default=[], description="head turns asked for, in prompt order: left / right")
    capture: str = "upload"
    live_path: str | None = Field(
        default=None, description="live sessions: the WebSocket path the camera streams to"
    )


class OutcomeOut(BaseModel):
    """One uploaded response: passed, failed or review, with reasons and what follows."""

    model_config = ConfigDict(from_attributes=True)
    outcome: str
    attempt_id: int
    reasons: list[dict[str, str]]
    match_score: float | None
    next_due: date | None = None
    payment_date: date | None = None
    back_paid_months: list[list[int]] = []
    certification_id: int | None = None
    analysis_ms: float | None = None


class CertificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    certified_on: date
    channel: str
    method: str
    proxy_id: int | None
    next_due: date
    payment_date: date | None
    back_paid_months: list[list[int]]


class ReferenceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    source: str
    created_at: UtcDatetime


class PersonHistory(BaseModel):
    person: PersonOut
    phone: str
    certifications: list[CertificationOut]
    references: list[ReferenceOut]


class PersonsImported(BaseModel):
    imported: int
    errors: list[dict[str, Any]]


class DeathsImported(BaseModel):
    recorded: int
    errors: list[dict[str, Any]]


class AliveRecordsImported(BaseModel):
    certified: int
    errors: list[dict[str, Any]]


class Enrolled(BaseModel):
    reference_id: int
    quality: dict[str, Any]
    duplicate_review_id: int | None = Field(
        default=None,
        description="the face is already on another person's record: the duplicate_reference "
        "review opened for staff (the photo is enrolled all the same)",
    )


class ReviewCreated(BaseModel):
    review_id: int


class ReviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    person_id: int
    kind: str
    attempt_id: int | None
    detail: dict[str, Any]
    created_at: UtcDatetime
    person: PersonOut | None = Field(default=None, description="the person the review is for")
    other_person: PersonOut | None = Field(
        default=None,
        description="the other person a finding names (detail.other_person_id): the look-alike "
        "of a possible impersonation, the other record of a duplicate_reference",
    )


class ReviewDecided(BaseModel):
    status: str
    certification_id: int | None
    next_due: date | None


class Updated(BaseModel):
    updated: bool


class StatusRow(BaseModel):
    person_id: int
    name: str
    phone: str
    category: str
    status: str
    due_date: date | None
    suspended_months: int


class PaymentRunOut(BaseModel):
    month: str
    decided_on: date
    counts: dict[str, int]


class WithheldRow(BaseModel):
    person_id: int
    name: str
    category: str
    withheld: str


class PaymentRunWithheld(PaymentRunOut):
    withheld: list[WithheldRow]


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: UtcDatetime
    actor: str
    action: str
    person_id: int | None
    detail: dict[str, Any]


class AuditLog(BaseModel):
    chain_intact: bool
    first_broken_entry: int | None
    entries: list[AuditEntryOut]
