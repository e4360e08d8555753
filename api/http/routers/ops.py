"""Operations: liveness of the service itself (no key needed)."""

from fastapi import APIRouter

from api.certification import rate_limits, register_index
from api.http.deps import Service
from api.http.schemas import Health

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz(service: Service) -> Health:
    """Up, which 1:1 calibration decides matches (operators check it after a change), and
    which register index screens look-alikes over how many references, and whether request
    budgets are shared by every worker (issue 13)."""
    return Health(
        status="ok",
        calibration=service.matcher.calibration.as_dict(),
        register_index=register_index.health(service),
        rate_limits=rate_limits.store_kind(service.settings.rate_limit_store),
    )
