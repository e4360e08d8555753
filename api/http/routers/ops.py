"""Operations: liveness of the service itself (no key needed)."""

from fastapi import APIRouter

from api.http.schemas import Health

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz() -> Health:
    return Health(status="ok")
