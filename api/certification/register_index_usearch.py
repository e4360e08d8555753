"""The in-process register index for the embedded (SQLite) install: usearch HNSW.

Kept in step by a watermark rather than by writes: references are only ever added, and on
SQLite (one writer at a time) ids are handed out in commit order, so "every committed row
above the highest id I hold" is exactly what is missing. Each search first catches up on
those rows, read on a connection of its own so that only committed references enter the
index (a rolled-back enrolment can neither linger in it nor, its id reused, alias another
reference). This also catches references written by another process (an import job).

Persisted as ``register-index-<preset>.usearch`` under ``$LIFECERT_HOME`` (owner-only, like
the database: it holds rotated templates) with a JSON sidecar naming the preset, dimension,
rotation fingerprint and watermark; a missing, stale or inconsistent file is rebuilt from
the sealed templates. Saved after a build and then after every ``SAVE_EVERY`` additions, so
a restart catches up on at most that many rows.

Half-precision vectors (f16) halve the memory (10^6 x 512-d: ~1 GB instead of 2 GB); the
candidates are re-scored exactly, so only recall could suffer, and BENCHMARKS.md measures it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

# onnxruntime must be loaded before usearch's native module: the other way round, importing
# onnxruntime segfaults (usearch 2.26.6 with the onnxruntime in use, 2026-12-01; reproduce:
# python -c "import usearch.index; import onnxruntime"). The face models need it anyway.
import onnxruntime  # noqa: F401
from sqlalchemy import select
from sqlalchemy.orm import Session
from usearch.index import Index

from api.certification import template_rotation
from api.certification.register_index import RegisterIndex, widened
from api.certification.storage.schema import FaceReference

if TYPE_CHECKING:
    from api.certification.service import CertificationService

log = logging.getLogger("lifecert.register_index")

# HNSW M and ef_search, from `python -m benchmarks.register_search --m 32 --ef ...` (BENCHMARKS.md,
# "Register search at scale"). M 32 against M 16, recall@10 against exact search: at 10^5
# (draws seed 13 / seed 21) ef 1024 gives 0.9985 / 0.999 for ~15 ms CPU per search, where
# M 16 needed ef 2048 (~24 ms) for 0.992-0.997; at 10^6 (seed 21) M 32 gives 0.931 at ef 1024
# and 0.993 at 4096 (~145 ms), M 16 only 0.979 at 8192. The ef that holds 0.99 grows with
# the register: EXPANSION_SEARCH up to 10^5 references, then as n^0.6 (register_index.widened:
# 1024 at 10^5 -> ~2000 at 3 x 10^5 -> ~4100 at 10^6: fitted on those two points, checked at
# 3 x 10^5), at most EXPANSION_MAX. ef_search is a search-time setting (no rebuild); M is the
# graph's: an index built with another M keeps it until `lifecert register-index rebuild`,
# and the service says so (`/healthz` register_index.note).
CONNECTIVITY = 32
EXPANSION_ADD = 128  # ef_construction
EXPANSION_SEARCH = 1024
EXPANSION_GROWTH = 0.6
EXPANSION_MAX = 8192
NOTE = "in-process HNSW (usearch), rotated templates"


def expansion_for(references: int) -> int:
    """The ef_search that keeps recall@10 near 0.99 on a register of this many references."""
    return widened(EXPANSION_SEARCH, references, EXPANSION_GROWTH, EXPANSION_MAX)


# f16: i8 was measured too (same table): no faster per search (graph walking dominates) and
# its own top 10 is worse (0.92 at 2048; re-scoring rescues it), for half the memory.
DTYPE = "f16"
SAVE_EVERY = 1000
# Below this many references the in-memory vectors are searched exhaustively (usearch exact=True:
# no decryption, no database read; ~1 ms at 20,000): HNSW's recall on small, noise-level
# registers is not worth its misses (BENCHMARKS.md, "Register search at scale").
EXACT_BELOW = 20_000
BATCH = 5000


class UsearchIndex(RegisterIndex):
    kind = "usearch-hnsw"

    def __init__(self, svc: CertificationService, path: Path | None = None, threads: int = 0) -> None:
        super().__init__(svc, NOTE)
        self.path = path or Path(svc.settings.home) / f"register-index-{self.preset}.usearch"
        self.meta_path = self.path.with_suffix(".json")
        self.threads = threads
        self._lock = threading.RLock()
        self._index: Index | None = None
        self._dim = 0
        self.watermark = 0
        self._unsaved = 0

    # -- the interface ---------------------------------------------------------------------

    def candidates(self, s: Session, query: np.ndarray, count: int, exclude_person: int) -> list[int]:
        with self._lock:
            index = self._ready(query.shape[-1])
            if len(index) == 0:
                return []
            rotated = template_rotation.rotate(self.svc.settings.encryption_key, query)
            exact = len(index) < EXACT_BELOW
            # usearch defines this setter apart from its getter, which mypy reads as read-only
            index.expansion_search = expansion_for(len(index))  # type: ignore[misc]
            matches = index.search(rotated, min(count, len(index)), threads=1, exact=exact)
            return [int(k) for k in np.asarray(matches.keys).ravel()]

    def added(self, s: Session, ref: FaceReference, embedding: np.ndarray) -> None:
        """Nothing now: the row is not committed yet. The next search's catch-up adds it."""
        return None

    def rebuild(self, s: Session) -> int:
        with self._lock:
            self._index = None
            for p in (self.path, self.meta_path):
                p.unlink(missing_ok=True)
            self._build(self._dim or self._dim_of_first())
            self.note = NOTE
            return len(self._index) if self._index is not None else 0

    def size(self, s: Session) -> int:
        with self._lock:
            self._known = len(self._ready(self._dim or self._dim_of_first()))
            return self._known

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "path": str(self.path), "watermark": self.watermark}

    # -- keeping in step --------------------------------------------------------------------

    def _ready(self, dim: int) -> Index:
        if (self._index is None or self._dim != dim) and not self._load(dim):
            self._build(dim)
        self._catch_up()
        assert self._index is not None
        return self._index

    def _new(self, dim: int) -> Index:
        self._dim = dim
        return Index(
            ndim=dim,
            metric="cos",
            dtype=DTYPE,
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=expansion_for(0),
        )

    def _build(self, dim: int) -> None:
        self._index = self._new(dim)
        self.watermark = 0
        self._catch_up(save=False)
        self._save()
        log.info("register index built: %d references (%s)", len(self._index), self.path)

    def _catch_up(self, save: bool = True) -> None:
        """Add every committed reference above the watermark (own connection: committed only)."""
        assert self._index is not None
        added = 0
        with Session(self.svc.db.engine) as reader:
            keys: list[int] = []
            vecs: list[np.ndarray] = []
            for r in self._all_rows(reader, self.watermark):
                template = self.svc.cipher.open_template(r.embedding)
                if template.shape[-1] != self._dim:
                    continue  # a template of another model version: not comparable
                keys.append(int(r.id))
                vecs.append(template)
                if len(keys) >= BATCH:
                    added += self._add(keys, vecs)
                    keys, vecs = [], []
            added += self._add(keys, vecs)
        self._unsaved += added
        if save and self._unsaved >= SAVE_EVERY:
            self._save()

    def _add(self, keys: list[int], vecs: list[np.ndarray]) -> int:
        if not keys:
            return 0
        assert self._index is not None
        rotated = template_rotation.rotate(self.svc.settings.encryption_key, np.stack(vecs))
        self._index.add(np.asarray(keys, np.uint64), rotated, threads=self.threads)
        self.watermark = max(self.watermark, max(keys))
        return len(keys)

    def _dim_of_first(self) -> int:
        """The dimension of the first stored template (the matcher's, when there is none)."""
        with Session(self.svc.db.engine) as reader:
            row = reader.execute(
                select(FaceReference.embedding).where(FaceReference.preset == self.preset).limit(1)
            ).first()
        if row is None:
            return 512  # an empty index; the first query's dimension replaces it
        return int(self.svc.cipher.open_template(row.embedding).shape[-1])

    # -- persistence ------------------------------------------------------------------------

    def _meta(self) -> dict[str, object]:
        return {
            "preset": self.preset,
            "dim": self._dim,
            "rotation": template_rotation.fingerprint(self.svc.settings.encryption_key),
            "watermark": self.watermark,
            "count": len(self._index) if self._index is not None else 0,
            "dtype": DTYPE,
        }

    def _save(self) -> None:
        if self._index is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        self._index.save(str(tmp))
        os.replace(tmp, self.path)
        meta_tmp = self.meta_path.with_suffix(".json.tmp")
        fd = os.open(meta_tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self._meta(), fh)
        os.replace(meta_tmp, self.meta_path)
        self._unsaved = 0

    def _load(self, dim: int) -> bool:
        """The persisted index, if it is this preset's, dimension and rotation, and holds
        exactly the committed references up to its watermark; else False (rebuild)."""
        if not (self.path.is_file() and self.meta_path.is_file()):
            return False
        try:
            meta = json.loads(self.meta_path.read_text(encoding="utf-8"))
            expected = {
                "preset": self.preset,
                "dim": dim,
                "rotation": template_rotation.fingerprint(self.svc.settings.encryption_key),
                "dtype": DTYPE,
            }
            if any(meta.get(k) != v for k, v in expected.items()):
                log.warning("register index %s is stale (%s): rebuilding", self.path, meta)
                return False
            index = self._new(dim)
            index.load(str(self.path))
            with Session(self.svc.db.engine) as reader:
                on_table = self._count_rows(reader, upto=int(meta["watermark"]))
            if len(index) != int(meta["count"]) or len(index) != on_table:
                log.warning(
                    "register index %s holds %d references, the table %d: rebuilding",
                    self.path,
                    len(index),
                    on_table,
                )
                return False
        except (OSError, ValueError, RuntimeError, KeyError) as exc:
            log.warning("register index %s unreadable (%s): rebuilding", self.path, exc)
            return False
        self._index, self.watermark, self._unsaved = index, int(meta["watermark"]), 0
        if index.connectivity != CONNECTIVITY:  # loaded with the graph it was built with
            self.note = (
                f"built with M {index.connectivity}; `lifecert register-index rebuild` builds it with "
                f"M {CONNECTIVITY} (better recall per search at a large register)"
            )
            log.warning("register index %s: %s", self.path, self.note)
        return True
