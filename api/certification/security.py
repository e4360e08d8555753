"""Who may call what, how fast, and how identity numbers are protected.

- API keys: random tokens given once to a kiosk, the app backend or a staff member; only
  their SHA-256 is stored. Roles gate endpoints (a kiosk key cannot read staff lists).
- Rate limits: a budget per client and per address without a valid key
  (``api.certification.rate_limits``: in process, in Redis, or in the database).
- ID numbers: an HMAC-SHA256 under a secret key for lookup (a plain hash of an 18-digit ID
  number is brute-forceable), and a Fernet-encrypted copy for staff display. Logs carry
  neither: ``mask_id`` shows the first and last digit only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import numpy as np
from cryptography.fernet import Fernet

from api.certification.id_numbers import normalise as normalise_id_number

ROLES = ("kiosk", "app", "staff", "admin")


def new_api_key() -> str:
    return "lc_" + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def id_lookup_hash(id_number: str, key: bytes) -> str:
    return hmac.new(key, normalise_id_number(id_number).encode(), hashlib.sha256).hexdigest()


def mask_id(id_number: str) -> str:
    n = normalise_id_number(id_number)
    return n[:1] + "*" * max(0, len(n) - 2) + n[-1:] if n else ""


# Fernet tokens begin with the version byte 0x80, which is "gAAAAA" in URL-safe base64.
FERNET_PREFIX = b"gAAAAA"


@dataclass
class RecordCipher:
    """Encrypts what is stored of a person that would harm them if the database leaked: the
    copy of the ID number, and the face templates (Fernet: AES-128-CBC + HMAC, the service
    key). A template is useless to an attacker without the key, and its tampering is
    detected (the HMAC) rather than silently changing who matches."""

    key: bytes

    def __post_init__(self) -> None:
        raw = base64.urlsafe_b64decode(self.key)
        self._fernet = Fernet(base64.urlsafe_b64encode(raw[:32]))

    def encrypt(self, id_number: str) -> str:
        return self._fernet.encrypt(normalise_id_number(id_number).encode()).decode()

    def decrypt(self, token: str) -> str:
        return self._fernet.decrypt(token.encode()).decode()

    def seal(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def unseal(self, token: bytes) -> bytes:
        return self._fernet.decrypt(token)

    def seal_template(self, embedding: np.ndarray) -> bytes:
        return self.seal(np.asarray(embedding, np.float32).tobytes())

    def open_template(self, stored: bytes) -> np.ndarray:
        """The float32 template. Rows written before templates were encrypted (installs from
        before 2026-12) hold the raw float32 bytes: a length that is a multiple of 4 and no
        Fernet prefix. They are read as they are and re-sealed on their next write."""
        if stored.startswith(FERNET_PREFIX):
            stored = self._fernet.decrypt(stored)
        return np.frombuffer(stored, dtype=np.float32)
