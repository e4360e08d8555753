"""The register index on PostgreSQL: pgvector, an HNSW index per preset.

``register_vectors`` holds one row per reference, its template under the secret rotation
(``template_rotation``), written in the same transaction as the reference, so the index
cannot drift from the table through a rollback. The column is an untyped ``vector`` and each
preset gets a partial expression index ``(vec::vector(d)) vector_cosine_ops WHERE preset =
'<preset>'`` (pgvector's way of holding several dimensions in one table).

The table is derived data, not schema: created here (not by an Alembic revision, because it
needs the extension, which an operator may install later), dropped and recreated by
``rebuild``, and filled from the sealed templates when its row count differs from
``face_references``'s at start. When the extension is neither installed nor installable
(``CREATE EXTENSION vector`` needs pgvector's files on the server and a privileged role), the
service says so in the log and falls back to exact search.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from api.certification import template_rotation
from api.certification.register_index import ExactIndex, RegisterIndex, widened
from api.certification.storage.schema import FaceReference

if TYPE_CHECKING:
    from api.certification.service import CertificationService

log = logging.getLogger("lifecert.register_index")

TABLE = "register_vectors"
# `python -m benchmarks.register_search --n 100000 --no-usearch --pgvector --pg-m 32 --pg-efc 128
# --pg-ef 400,700,1000` (BENCHMARKS.md, "Register search at scale", 2026-12-01): with the old
# m 16, ef_construction 64 recall@10 against exact search stays below 0.99 up to pgvector's
# ef_search cap of 1000 (0.68 at 100, 0.977 at 1000); m 32, ef_construction 128 gives 0.990 at
# ef_search 400 and 0.9985 at 700, for a build ~3.7x as long, and ~65-69 ms CPU per search at
# 400 on the 2-core host. Chosen on the seed-13 register draw at 10^5, 0.990 again on the
# held-out seed 21 (no margin); a larger register needs a larger ef_search (ef_search_for). An index built
# with other settings is reported until `lifecert register-index rebuild` (_ensure_hnsw).
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 128
HNSW_EF_SEARCH = 400
# Above 10^5 references: at 3 x 10^5 (seed 21, session 9) ef_search 400 / 700 / 1000 gave
# recall@10 0.947 / 0.982 / 0.9915, so the width grows as n^0.8 (~960 there) and meets
# pgvector's own limit of 1000 just beyond: a register of 10^6 gets 1000, short of 0.99.
HNSW_EF_SEARCH_GROWTH = 0.8
HNSW_EF_SEARCH_MAX = 1000


def ef_search_for(references: int) -> int:
    """hnsw.ef_search for a register this size (register_index.widened)."""
    return widened(HNSW_EF_SEARCH, references, HNSW_EF_SEARCH_GROWTH, HNSW_EF_SEARCH_MAX)


BATCH = 1000
# size() counts the table at most this often per process (a COUNT(*) over 10^6 rows is a
# sequential scan, not something to pay per certification), so it can miss the enrolments of
# the last SIZE_REFRESH_S (any process's). What it feeds is the size-aware register
# threshold, ~0.06 per decade of N (register_risk): missing even 1 % of the register lowers
# the threshold by < 0.0003.
SIZE_REFRESH_S = 300.0
NOTE = "pgvector HNSW in PostgreSQL, rotated templates"
NO_PGVECTOR = (
    "pgvector extension not available on this PostgreSQL server ({why}): register screening "
    "falls back to exact search, reading every template per certification. Install pgvector "
    "(e.g. the postgresql-NN-pgvector package) and rebuild the index."
)


def open_pgvector(svc: CertificationService) -> RegisterIndex:
    """The pgvector index, or the exact fallback with the reason when pgvector is missing."""
    why = ensure_extension(svc)
    if why is not None:
        message = NO_PGVECTOR.format(why=why)
        log.warning(message)
        return ExactIndex(svc, message)
    index = PgvectorIndex(svc)
    with svc.db.transaction() as s:
        index.ensure(s)
    return index


def ensure_extension(svc: CertificationService) -> str | None:
    """None when the ``vector`` extension is there (created here if it can be), else why not."""
    try:
        with svc.db.engine.begin() as conn:
            if conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'vector'")).first():
                return None
            if not conn.execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")).first():
                return "not installed on the server"
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            return None
    except SQLAlchemyError as exc:
        return f"{type(exc.orig if isinstance(exc, DBAPIError) else exc).__name__}: cannot create it"


def _literal(v: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in np.asarray(v, np.float32).ravel()) + "]"


class PgvectorIndex(RegisterIndex):
    kind = "pgvector-hnsw"

    def __init__(self, svc: CertificationService) -> None:
        super().__init__(svc, NOTE)
        if not re.fullmatch(r"[a-z0-9_]{1,30}", self.preset):
            raise ValueError(f"preset key {self.preset!r} cannot name an index")
        self._dims: set[int] = set()
        self._size_lock = threading.Lock()
        self._counted_at = 0.0  # when _known was counted

    @property
    def _key(self) -> bytes:
        return self.svc.settings.encryption_key

    def ensure(self, s: Session) -> None:
        """The table, and the rows for every reference when the counts differ (first start
        on an existing register, pgvector installed later, a lost write).

        No foreign key to ``face_references``: creating one locks that table against the
        writes of the transaction that may be opening the index (the first enrolment after a
        start), and a row whose reference is gone is dropped at re-scoring anyway."""
        s.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {TABLE} ("
                " reference_id integer PRIMARY KEY,"
                " person_id integer NOT NULL, preset varchar(30) NOT NULL, vec vector NOT NULL)"
            )
        )
        held = s.execute(text(f"SELECT count(*) FROM {TABLE} WHERE preset = :p"), {"p": self.preset}).scalar()
        if int(held or 0) != self._count_rows(s):
            log.warning("register index (pgvector) out of step with face_references: rebuilding")
            self._fill(s)
        for (dim,) in s.execute(
            text(f"SELECT DISTINCT vector_dims(vec) FROM {TABLE} WHERE preset = :p"), {"p": self.preset}
        ):
            self._ensure_hnsw(s, int(dim))

    def _ensure_hnsw(self, s: Session, dim: int) -> None:
        if dim in self._dims:
            return
        name = f"ix_{TABLE}_hnsw_{self.preset}_{dim}"
        s.execute(
            text(
                f"CREATE INDEX IF NOT EXISTS {name} ON {TABLE} "
                f"USING hnsw ((vec::vector({dim})) vector_cosine_ops) "
                f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION}) "
                f"WHERE preset = '{self.preset}'"
            )
        )
        self._dims.add(dim)
        built = s.execute(text("SELECT reloptions FROM pg_class WHERE relname = :n"), {"n": name}).scalar()
        shipped = [f"m={HNSW_M}", f"ef_construction={HNSW_EF_CONSTRUCTION}"]
        if sorted(built or []) != sorted(shipped):
            # An index built before the build settings changed keeps its old graph (and its
            # lower recall) until rebuilt: said here and in /healthz rather than rebuilt in
            # the middle of a certification (minutes at 10^5 references).
            self.note = (
                f"{NOTE}; HNSW index {name} was built with {', '.join(built or [])}, not the shipped "
                f"{', '.join(shipped)}: run `lifecert register-index rebuild` for its recall"
            )
            log.warning("register index (pgvector): %s", self.note)

    def _fill(self, s: Session) -> int:
        s.execute(text(f"DELETE FROM {TABLE} WHERE preset = :p"), {"p": self.preset})
        n, batch = 0, []
        for r in self._all_rows(s):
            batch.append((int(r.id), int(r.person_id), self.svc.cipher.open_template(r.embedding)))
            if len(batch) >= BATCH:
                n += self._insert(s, batch)
                batch = []
        return n + self._insert(s, batch)

    def _insert(self, s: Session, rows: list[tuple[int, int, np.ndarray]]) -> int:
        if not rows:
            return 0
        rotated = template_rotation.rotate(self._key, np.stack([v for _, _, v in rows]))
        s.execute(
            text(f"INSERT INTO {TABLE} (reference_id, person_id, preset, vec) VALUES (:r, :p, :s, :v)"),
            [
                {"r": ref, "p": person, "s": self.preset, "v": _literal(vec)}
                for (ref, person, _), vec in zip(rows, rotated, strict=True)
            ],
        )
        return len(rows)

    def candidates(self, s: Session, query: np.ndarray, count: int, exclude_person: int) -> list[int]:
        dim = int(query.shape[-1])
        q = _literal(template_rotation.rotate(self._key, query))
        try:
            with s.begin_nested():  # a failure must not abort the certification's transaction
                self._ensure_hnsw(s, dim)
                ef = ef_search_for(self.size(s))
                s.execute(text(f"SET LOCAL hnsw.ef_search = {max(ef, count)}"))
                rows = s.execute(
                    text(
                        f"SELECT reference_id FROM {TABLE} WHERE preset = '{self.preset}' "
                        f"AND person_id <> :me ORDER BY vec::vector({dim}) <=> CAST(:q AS vector({dim})) "
                        "LIMIT :n"
                    ),
                    {"me": exclude_person, "q": q, "n": count},
                ).scalars()
                return [int(r) for r in rows]
        except SQLAlchemyError as exc:
            log.error("pgvector search failed (%s): exact search for this certification", exc)
            return [h.reference_id for h in ExactIndex(self.svc).search(s, query, count, exclude_person)]

    def added(self, s: Session, ref: FaceReference, embedding: np.ndarray) -> None:
        try:
            with s.begin_nested():
                self._insert(s, [(int(ref.id), int(ref.person_id), np.asarray(embedding, np.float32))])
        except SQLAlchemyError as exc:
            # The reference stands; the count check at the next start puts the index right.
            log.error("register index (pgvector) missed reference %s: %s", ref.id, exc)

    def rebuild(self, s: Session) -> int:
        s.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
        self._dims.clear()
        self.note = NOTE
        with self._size_lock:
            self._known = None
        self.ensure(s)
        return self.size(s)

    def size(self, s: Session) -> int:
        """The rows of this preset, counted at most every ``SIZE_REFRESH_S`` (see there)."""
        with self._size_lock:
            if self._known is not None and _now() - self._counted_at < SIZE_REFRESH_S:
                return self._known
        n = s.execute(text(f"SELECT count(*) FROM {TABLE} WHERE preset = :p"), {"p": self.preset}).scalar()
        with self._size_lock:
            self._known, self._counted_at = int(n or 0), _now()
            return self._known


def _now() -> float:
    return time.monotonic()
