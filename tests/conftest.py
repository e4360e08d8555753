"""Shared fixtures. Real photos come from ../shared/data (never downloaded, never copied)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from matcher import FaceMatcher
from models import ModelStore

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
FACES = DATA / "faces"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not DATA.is_dir():
        skip = pytest.mark.skip(reason=f"real test data not found at {DATA}")
        for item in items:
            if "needs_data" in item.keywords:
                item.add_marker(skip)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs_data: uses the real photos in ../shared/data")


@pytest.fixture(scope="session")
def store() -> ModelStore:
    """The installed models (``make test`` installs them first)."""
    return ModelStore()


@pytest.fixture(scope="session")
def matcher(store: ModelStore) -> FaceMatcher:
    """The default preset, as shipped."""
    return FaceMatcher(store)


def load(rel: str) -> np.ndarray:
    image = cv2.imread(str(DATA / rel))
    assert image is not None, rel
    return image


def encode(image: np.ndarray, ext: str = ".jpg") -> bytes:
    ok, buf = cv2.imencode(ext, image)
    assert ok
    return buf.tobytes()


def random_id_number(born: str | None = None) -> str:
    """A valid 18-character ID number (GB 11643 check character) for someone born on ``born``
    (YYYYMMDD; by default a random day of 1930-1965, so that numbers rarely collide)."""
    import secrets
    from datetime import date, timedelta

    from api.certification.id_numbers import check_char

    day = born or (date(1930, 1, 1) + timedelta(days=secrets.randbelow(365 * 35))).strftime("%Y%m%d")
    first17 = f"{110101 + secrets.randbelow(9000):06d}" + day + f"{secrets.randbelow(1000):03d}"
    return first17 + check_char(first17)
