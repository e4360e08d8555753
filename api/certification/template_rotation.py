"""A secret, key-derived orthogonal rotation of face templates, for the register index.

Why: an approximate-nearest-neighbour index (usearch in process, pgvector in PostgreSQL)
must hold comparable vectors, while ``face_references`` keeps every template Fernet-sealed.
The index holds ``Q @ t`` instead of ``t``, with ``Q`` a random orthogonal matrix derived
from the service's encryption key. Cosine similarity is preserved exactly under an
orthogonal map (``(Qa)·(Qb) = a·b``), so search results and scores are unchanged, while a
stored vector cannot be compared with an embedding an attacker computes from a photo
without the key (against an unrotated template the score is noise around 0, spread
``1/sqrt(d)``).

What it does NOT protect against (see BENCHMARKS.md, "Register search at scale"):
- Comparisons among the stored vectors themselves: who resembles whom, how many references
  each person has, clusters, all survive the rotation (that is the point of it).
- Known pairs: anyone who knows ``t`` and ``Q t`` for about ``d`` templates (an insider who
  enrols ~512 photos they keep, or a leak of some sealed templates with the key) can solve
  for ``Q`` by orthogonal Procrustes; with noisy pairs (other photos of people they know) an
  approximate ``Q`` needs more pairs but is still reachable. It is keyed obfuscation, not
  encryption.
- The key: it is derived from the same secret that seals the templates; whoever has that
  key has the templates anyway. Changing the key means rebuilding the index.
- A model inversion attack on a recovered template is outside what any of this changes.

The matrix is generated from SHAKE-256 output with Box-Muller, not from numpy's random
generators, whose streams numpy does not promise to keep across versions: the same key gives
the same rotation on every install, so a persisted index stays valid after an upgrade.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

import numpy as np

LABEL = b"lifecert register-index rotation v1"


def _raw(key: bytes) -> bytes:
    """The service encryption key as bytes (settings hold it URL-safe base64)."""
    try:
        return base64.urlsafe_b64decode(key)
    except (ValueError, TypeError):
        return key


def fingerprint(key: bytes) -> str:
    """A short public name of the rotation in force (stored beside a persisted index, so a
    changed key is noticed and the index rebuilt); reveals nothing of the key."""
    return hmac.new(_raw(key), LABEL + b"|fingerprint", hashlib.sha256).hexdigest()[:16]


@lru_cache(maxsize=4)
def rotation(key: bytes, dim: int) -> np.ndarray:
    """The ``dim`` x ``dim`` orthogonal matrix (float32) for this key: Haar-random, i.e. the Q
    of a QR decomposition of a Gaussian matrix with the signs of R's diagonal folded in."""
    seed = hmac.new(_raw(key), LABEL + b"|%d" % dim, hashlib.sha256).digest()
    words = np.frombuffer(hashlib.shake_256(seed).digest(8 * dim * dim), dtype="<u8")
    u = ((words >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)  # in (0, 1)
    u1, u2 = u[0::2], u[1::2]
    radius = np.sqrt(-2.0 * np.log(u1))
    gauss = np.concatenate([radius * np.cos(2 * np.pi * u2), radius * np.sin(2 * np.pi * u2)])
    q, r = np.linalg.qr(gauss.reshape(dim, dim))
    q = q * np.sign(np.diag(r))[None, :]
    out = np.ascontiguousarray(q, dtype=np.float32)
    out.setflags(write=False)
    return out


def rotate(key: bytes, templates: np.ndarray) -> np.ndarray:
    """Rows (or one vector) rotated: ``t -> Q t``, float32, contiguous."""
    vectors = np.asarray(templates, dtype=np.float32)
    q = rotation(key, vectors.shape[-1])
    return np.ascontiguousarray(vectors @ q.T, dtype=np.float32)
