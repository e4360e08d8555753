"""Register search on an index, not a scan: one interface, two backends and an exact fallback.

A certification's look-alike screening asks "which other persons' references are nearest to
this live face?". Reading and decrypting every template per certification (what screening did
before) costs O(register) and stops being acceptable around 10^5 persons. The index answers
it in about a millisecond:

- SQLite (the embedded default): an in-process HNSW index (usearch), kept in step with
  ``face_references`` by a watermark (the highest reference id it holds); each search first
  adds the committed rows above the watermark. Persisted beside the database, owner-only,
  so a restart does not rebuild it.
- PostgreSQL: the pgvector extension, a ``register_vectors`` table written in the same
  transaction as the reference, with an HNSW index per preset.
- PostgreSQL without pgvector: exact search (the old scan), with the reason logged and shown
  in ``describe()``; never a crash.

The index is derived data: ``face_references`` (Fernet-sealed) stays the source of truth,
``rebuild`` recreates the index from it, and it holds templates under a secret rotation
(``template_rotation``), never the templates themselves. Candidates are re-scored exactly
from their sealed templates, so a decision never rests on the index's approximate
(half-precision, approximate-neighbour) scores: the index only decides which few references
are worth opening.
"""

from __future__ import annotations

import logging
import weakref
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.certification.storage.schema import FaceReference, matchable

if TYPE_CHECKING:
    from api.certification.service import CertificationService

log = logging.getLogger("lifecert.register_index")

# Candidate references fetched per wanted person: a person has an ID photo and one reference
# per passed capture, so the nearest references of k persons can be many more than k rows.
OVERFETCH = 4
OVERFETCH_MIN = 32
NOT_OPENED = "not opened yet in this process: the first certification or enrolment opens it"
# How an HNSW search widens with the register: its ef holds recall@10 near 0.99 up to
# WIDENS_FROM references and then has to grow about as n^growth, a power each backend
# measured for its own graph (BENCHMARKS.md, "Register search at scale", session 9).
WIDENS_FROM = 100_000


def widened(ef: int, references: int, growth: float, cap: int) -> int:
    """The search width ``ef`` (right up to WIDENS_FROM references) for a register this size."""
    if references <= WIDENS_FROM:
        return ef
    return min(cap, round(ef * (references / WIDENS_FROM) ** growth))


@dataclass(frozen=True)
class Hit:
    """The best reference of one other person, scored exactly from its sealed template."""

    person_id: int
    reference_id: int
    score: float


class RegisterIndex(ABC):
    """Nearest references of other persons to a template, for one matcher preset."""

    kind: str = "abstract"

    def __init__(self, svc: CertificationService, note: str = "") -> None:
        self.svc = svc
        self.preset = svc.matcher.preset.key
        self.note = note
        self._known: int | None = None  # the last size() answer

    def known_size(self) -> int | None:
        """What ``size`` last answered (None before the first), without touching the
        database or waiting for a build: what /healthz shows, which every kiosk polls."""
        return self._known

    @abstractmethod
    def candidates(self, s: Session, query: np.ndarray, count: int, exclude_person: int) -> list[int]:
        """Reference ids of up to ``count`` references nearest to ``query`` (approximate)."""

    @abstractmethod
    def added(self, s: Session, ref: FaceReference, embedding: np.ndarray) -> None:
        """``ref`` was just written (flushed, not yet committed) in ``s``."""

    @abstractmethod
    def rebuild(self, s: Session) -> int:
        """Recreate the index from ``face_references``; the number of references indexed."""

    @abstractmethod
    def size(self, s: Session) -> int:
        """References of this preset the index answers for (what one certification is
        effectively compared with, hence what the false-match budget scales with)."""

    def describe(self) -> dict[str, object]:
        return {"kind": self.kind, "preset": self.preset, "note": self.note}

    def search(self, s: Session, query: np.ndarray, k: int, exclude_person: int) -> list[Hit]:
        """The ``k`` other persons nearest to ``query``, best first, each with its best
        reference scored exactly (the sealed template opened and compared)."""
        count = max(OVERFETCH * k, OVERFETCH_MIN)
        ids = self.candidates(s, np.asarray(query, np.float32), count, exclude_person)
        return self.rescore(s, query, ids, k, exclude_person)

    def rescore(
        self, s: Session, query: np.ndarray, ids: Sequence[int], k: int, exclude_person: int
    ) -> list[Hit]:
        if not ids:
            return []
        rows = s.execute(
            select(FaceReference.id, FaceReference.person_id, FaceReference.embedding).where(
                FaceReference.id.in_([int(i) for i in ids]),
                FaceReference.person_id != exclude_person,
                FaceReference.preset == self.preset,
                matchable(),
            )
        ).all()
        q = np.asarray(query, np.float32)
        best: dict[int, Hit] = {}
        for r in rows:
            score = float(self.svc.cipher.open_template(r.embedding) @ q)
            person = int(r.person_id)
            if person not in best or score > best[person].score:
                best[person] = Hit(person, int(r.id), score)
        return sorted(best.values(), key=lambda h: -h.score)[:k]

    def _all_rows(self, s: Session, after: int = 0):
        """Every reference of this preset above id ``after``, in id order (streamed)."""
        return s.execute(
            select(FaceReference.id, FaceReference.person_id, FaceReference.embedding)
            .where(FaceReference.preset == self.preset, FaceReference.id > after)
            .order_by(FaceReference.id)
            .execution_options(yield_per=5000)
        )

    def _count_rows(self, s: Session, upto: int | None = None) -> int:
        q = select(func.count(FaceReference.id)).where(FaceReference.preset == self.preset)
        if upto is not None:
            q = q.where(FaceReference.id <= upto)
        return int(s.execute(q).scalar() or 0)


class ExactIndex(RegisterIndex):
    """No index: every reference of the preset is a candidate (reads every template per
    search). The fallback when no index can be used; correct, O(register)."""

    kind = "exact"

    def candidates(self, s: Session, query: np.ndarray, count: int, exclude_person: int) -> list[int]:
        return []  # search() is overridden: scoring everything is the candidate step

    def search(self, s: Session, query: np.ndarray, k: int, exclude_person: int) -> list[Hit]:
        rows = s.execute(
            select(FaceReference.id).where(
                FaceReference.person_id != exclude_person, FaceReference.preset == self.preset
            )
        ).scalars()
        return self.rescore(s, query, list(rows), k, exclude_person)

    def added(self, s: Session, ref: FaceReference, embedding: np.ndarray) -> None:
        return None

    def rebuild(self, s: Session) -> int:
        return self._count_rows(s)

    def size(self, s: Session) -> int:
        self._known = self._count_rows(s)
        return self._known


_INDEXES: weakref.WeakKeyDictionary[CertificationService, RegisterIndex] = weakref.WeakKeyDictionary()


def index_for(svc: CertificationService) -> RegisterIndex:
    """The service's register index, opened (and built or caught up) on first use."""
    index = _INDEXES.get(svc)
    if index is None or index.preset != svc.matcher.preset.key:
        index = _open(svc)
        _INDEXES[svc] = index
        log.info("register index: %s", index.describe())
    return index


def _open(svc: CertificationService) -> RegisterIndex:
    dialect = svc.db.engine.dialect.name
    if dialect == "postgresql":
        from api.certification.register_index_pgvector import open_pgvector

        return open_pgvector(svc)
    try:
        from api.certification.register_index_usearch import UsearchIndex
    except ImportError as exc:  # pragma: no cover - usearch is a dependency
        return ExactIndex(svc, f"usearch not importable ({exc}): exact search")
    return UsearchIndex(svc)


def added(svc: CertificationService, s: Session, ref: FaceReference, embedding: np.ndarray) -> None:
    """Keep the index in step with a reference just written in ``s`` (flushed here if needed)."""
    if ref.id is None:
        s.flush()
    index_for(svc).added(s, ref, embedding)


def health(svc: CertificationService) -> dict[str, object]:
    """What ``/healthz`` shows: the index kind in force, its preset, its size as of the last
    certification and a note (why exact, an index to rebuild). Never opens, builds or counts
    anything: before the first certification of this process the kind is not known yet."""
    index = _INDEXES.get(svc)
    curve = {"curve": svc.settings.register_curve}  # whose impostor tail sizes its threshold
    if index is None or index.preset != svc.matcher.preset.key:
        return {"kind": None, "preset": svc.matcher.preset.key, "size": None, "note": NOT_OPENED, **curve}
    return {
        "kind": index.kind,
        "preset": index.preset,
        "size": index.known_size(),
        "note": index.note,
        **curve,
    }


def rebuild(svc: CertificationService) -> dict[str, object]:
    """Recreate the service's index from the sealed templates (after a key change, a restore
    from backup, pgvector installed later, or a suspected drift)."""
    _INDEXES.pop(svc, None)
    index = index_for(svc)
    with svc.db.transaction() as s:
        n = index.rebuild(s)
    return {**index.describe(), "references": n}
