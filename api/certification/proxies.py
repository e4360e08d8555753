"""Helpers who certify for someone else (代他人认证): registered once, linked per person."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.certification import audit, id_numbers
from api.certification.clock import utcnow
from api.certification.errors import CONSENT_REQUIRED, INVALID, NOT_LINKED, PROXY_ELSEWHERE, DomainError, Kind
from api.certification.people import find_person
from api.certification.storage.schema import Client, Person, Proxy, ProxyLink

if TYPE_CHECKING:
    from api.certification.service import CertificationService

CONSENT_VERSION = "2026-01"


def get_proxy(s: Session, proxy_id: int, client: Client) -> Proxy:
    """The proxy, for the client it was registered through (or staff); unknown otherwise."""
    proxy = s.get(Proxy, proxy_id)
    if proxy is None or not (client.role in ("staff", "admin") or proxy.registered_by in (None, client.id)):
        raise DomainError(Kind.NOT_FOUND, INVALID, "unknown proxy")
    return proxy


def register_proxy(
    svc: CertificationService, s: Session, id_number: str, name: str, phone: str, client: Client
) -> Proxy:
    """Idempotent for the same client: the same helper registering again gets the same proxy."""
    problem = id_numbers.problem(id_number)
    if problem is not None:
        raise DomainError(Kind.INVALID, INVALID, problem)
    id_hash = svc.id_hash(id_number)
    proxy = s.execute(select(Proxy).where(Proxy.id_hash == id_hash)).scalar_one_or_none()
    if proxy is not None and proxy.registered_by not in (None, client.id):
        raise DomainError(Kind.CONFLICT, PROXY_ELSEWHERE)
    if proxy is None:
        proxy = Proxy(
            id_hash=id_hash,
            name=name.strip(),
            phone=phone.strip(),
            registered_by=client.id,
            created_at=utcnow(),
        )
        s.add(proxy)
        s.flush()
        audit.append(s, client.name, "proxy_registered", proxy_id=proxy.id)
    return proxy


def link_person(
    svc: CertificationService,
    s: Session,
    proxy_id: int,
    id_number: str,
    name: str,
    relationship: str,
    *,
    consent: bool,
    client: Client,
) -> Person:
    """The helper names a person (ID number + name) they will certify for, with consent."""
    if not consent:
        raise DomainError(Kind.INVALID, CONSENT_REQUIRED)
    proxy = get_proxy(s, proxy_id, client)
    person = find_person(svc, s, id_number, name)
    link_proxy(s, proxy, person, relationship, client.name)
    return person


def link_proxy(s: Session, proxy: Proxy, person: Person, relationship: str, actor: str) -> ProxyLink:
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


def require_link(s: Session, proxy: Proxy, person: Person) -> None:
    linked = s.execute(
        select(ProxyLink.id).where(ProxyLink.proxy_id == proxy.id, ProxyLink.person_id == person.id)
    ).first()
    if not linked:
        raise DomainError(Kind.FORBIDDEN, NOT_LINKED)


def linked_persons(s: Session, proxy_id: int | None) -> set[int]:
    if proxy_id is None:
        return set()
    return set(s.execute(select(ProxyLink.person_id).where(ProxyLink.proxy_id == proxy_id)).scalars())
