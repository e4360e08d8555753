"""What every part of ``models`` shares: the error it raises and the hash it checks."""

from __future__ import annotations

import hashlib
from pathlib import Path


class ModelError(RuntimeError):
    """A model is missing, tampered with, or cannot be installed. The message says what to do."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
