"""Helpers who certify for someone else (代他人认证)."""

from fastapi import APIRouter

from api.certification import proxies
from api.http.deps import Helper, Service
from api.http.schemas import LinkOut, ProxyIn, ProxyLinkIn, ProxyOut, RowId
from api.http.views import person_view

router = APIRouter(tags=["proxy"])


@router.post("/v1/proxies")
def register_proxy(body: ProxyIn, service: Service, client: Helper) -> ProxyOut:
    """A relative or friend registers once to certify others (代他人认证)."""
    with service.db.transaction() as s:
        proxy = proxies.register_proxy(service, s, body.id_number, body.name, body.phone, client)
        return ProxyOut(proxy_id=proxy.id)


@router.post("/v1/proxies/{proxy_id:int}/persons")
def link_proxy(proxy_id: RowId, body: ProxyLinkIn, service: Service, client: Helper) -> LinkOut:
    with service.db.transaction() as s:
        person = proxies.link_person(
            service,
            s,
            proxy_id,
            body.id_number,
            body.name,
            body.relationship,
            consent=body.consent,
            client=client,
        )
        return LinkOut(linked=True, person=person_view(service, person))
