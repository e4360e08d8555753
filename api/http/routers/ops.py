"""Operations: liveness of the service itself (no key needed)."""

from fastapi import APIRouter

from api.http.deps import Service
from api.http.schemas import Health

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz(service: Service) -> Health:
    """Up, and which 1:1 calibration decides matches (operators check it after a change)."""
    return Health(status="ok", calibration=service.matcher.calibration.as_dict())
