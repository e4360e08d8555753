"""De-duplication of ID photos at enrolment (issue 13): what the check costs, what it flags.

1. Cost per enrolment: ``duplicates.flag`` (the register threshold for the index's size, one
   index search, the candidates re-scored exactly from their sealed templates, and the review
   and audit entry when it flags), on the service's own code against a register of ``--n``
   persons with one sealed ID-photo template each: SQLite with the in-process usearch index
   (exhaustive below ``EXACT_BELOW`` = 20,000 references, HNSW above) and, with
   ``--pgvector``, PostgreSQL 16 + pgvector (pgserver) at the shipped HNSW settings. The
   register is ``benchmarks.register_search``'s: the real LFW embeddings (minus 200 held-out
   photos) plus synthetic templates from their mean and covariance. Enrolments: the 200
   held-out LFW photos, whose person is on the register with another photo (a duplicate the
   check should find), and 200 synthetic faces (nobody on the register: any flag is false).
   Each enrolment's transaction is rolled back, so the register stays at n. Columns: wall p50 /
   p95 of the call (a shared host: includes waiting for a core), CPU ms (this thread, plus the
   PostgreSQL backend's from /proc on pgvector), the share flagged.
2. The reviews a certification reads for the hold (``duplicates.standing``): one query over
   the reviews table, whose ``detail`` JSON is not indexed, timed against ``--reviews`` rows.
3. For scale, ``matcher.analyse`` of an ID photo: the face models every enrolment runs.
4. Expected share of enrolments falsely flagged at 10^4..10^7 persons, derived as
   ``benchmarks.register_screening`` derives false reviews per certification (an enrolment is
   the same search): 1 - exp(-N R FMR(t)) at the service's threshold t for N R references, on
   the shipped LFW curve and on the LFW and East-Asian (CASIA) tails.

    PYTHONPATH=. python -m benchmarks.enrolment_dedup --n 10000 [--pgvector] [--reviews 100000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import numpy as np
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from api.certification import duplicates, register_index, register_risk, screening
from api.certification.clock import utcnow
from api.certification.rules import load_policies
from api.certification.service import CertificationService
from api.certification.settings import load_settings
from api.certification.storage.db import Database, migrate
from api.certification.storage.schema import FaceReference, Person, Review
from benchmarks.face_sets import FACES
from benchmarks.register_screening import REGISTER_TODAY, SIZES, per_thousand, tails
from benchmarks.register_search import _pgserver, register
from matcher.pipeline import FaceMatcher
from models import ModelStore

BATCH = 5000
REFS = 2  # references per person on a grown register (ID photo + passed captures)


def _service(url: str, home: Path, matcher: FaceMatcher) -> CertificationService:
    """A service on ``url`` whose home (settings, key, index file) is ``home``; the models
    stay where they are installed."""
    before = os.environ.get("LIFECERT_HOME")
    os.environ["LIFECERT_HOME"] = str(home)
    try:
        settings = load_settings(database_url=url)
    finally:
        if before is None:
            os.environ.pop("LIFECERT_HOME", None)
        else:
            os.environ["LIFECERT_HOME"] = before
    db = Database(url)
    migrate(db.engine)
    return CertificationService(settings, db, load_policies(), matcher=matcher)


def _person(i: int) -> dict[str, object]:
    return {
        "id_hash": f"bench-{i}",
        "id_encrypted": "-",
        "name": f"p{i}",
        "phone": "",
        "category": "retiree",
        "policy": "national-default",
        "benefit_start": date(2020, 1, 1),
        "created_at": utcnow(),
    }


def fill(svc: CertificationService, reg: np.ndarray) -> float:
    """One person and one sealed ID-photo template per row of ``reg``; then the index opened
    (built, or filled and HNSW-indexed on pgvector): seconds the index took."""
    preset = svc.matcher.preset.key
    with svc.db.transaction() as s:
        for a in range(0, len(reg), BATCH):
            s.execute(insert(Person), [_person(i) for i in range(a, min(a + BATCH, len(reg)))])
        ids = list(s.execute(select(Person.id).order_by(Person.id)).scalars())
        for a in range(0, len(reg), BATCH):
            s.execute(
                insert(FaceReference),
                [
                    {
                        "person_id": ids[i],
                        "embedding": svc.cipher.seal_template(reg[i]),
                        "preset": preset,
                        "source": "id_photo",
                        "quality": {},
                        "created_at": utcnow(),
                    }
                    for i in range(a, min(a + BATCH, len(reg)))
                ],
            )
    t = time.perf_counter()
    index = register_index.index_for(svc)
    with svc.db.transaction() as s:
        index.size(s)
    return time.perf_counter() - t


def _backend_cpu(s: Session) -> Callable[[], float]:
    """This thread's CPU seconds, plus the PostgreSQL backend's (same host) on PostgreSQL."""
    if s.get_bind().dialect.name != "postgresql":
        return time.thread_time
    pid = s.execute(text("SELECT pg_backend_pid()")).scalar_one()

    def cpu() -> float:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") + time.thread_time()

    return cpu


def enrolments(svc: CertificationService, queries: np.ndarray) -> tuple[list[float], float, list[bool]]:
    """``duplicates.flag`` for each query as a new person's ID photo, each rolled back:
    (wall ms each, mean CPU ms, flagged each)."""
    ms: list[float] = []
    flagged: list[bool] = []
    cpu_total = 0.0
    for q in queries:
        with Session(svc.db.engine) as s:  # rolled back: the register stays at n
            cpu = _backend_cpu(s)
            s.execute(insert(Person), [_person(-1)])
            person = s.execute(select(Person).where(Person.id_hash == "bench--1")).scalar_one()
            ref = FaceReference(
                person_id=person.id,
                embedding=svc.cipher.seal_template(q),
                preset=svc.matcher.preset.key,
                source="id_photo",
                quality={},
                created_at=utcnow(),
            )
            s.add(ref)
            s.flush()
            c0, t0 = cpu(), time.perf_counter()
            review = duplicates.flag(svc, s, person, ref, q, "bench")
            ms.append((time.perf_counter() - t0) * 1000)
            cpu_total += cpu() - c0
            flagged.append(review is not None)
            s.rollback()
    return ms, cpu_total * 1000 / len(queries), flagged


def hold_reads(svc: CertificationService, n_reviews: int, persons: int) -> tuple[float, float]:
    """p50 / p95 ms of ``duplicates.standing`` with ``n_reviews`` reviews on the table (1 % of
    them duplicate-reference reviews, the rest other kinds), for 200 random persons."""
    rng = np.random.default_rng(5)
    kinds = ["24_month_rule", "possible_impersonation", "remote_form"]
    with svc.db.transaction() as s:
        for a in range(0, n_reviews, BATCH):
            rows = []
            for i in range(a, min(a + BATCH, n_reviews)):
                dup = i % 100 == 0
                pair = rng.integers(1, persons + 1, 2)
                rows.append(
                    {
                        "person_id": int(pair[0]),
                        "kind": "duplicate_reference" if dup else kinds[i % 3],
                        "status": "open" if i % 7 == 0 else "approved",
                        "detail": {"other_person_id": int(pair[1])} if dup else {"note": "x"},
                        "created_at": utcnow(),
                    }
                )
            s.execute(insert(Review), rows)
    ms = []
    with svc.db.transaction() as s:
        for pid in rng.integers(1, persons + 1, 200):
            t = time.perf_counter()
            duplicates.standing(s, int(pid))
            ms.append((time.perf_counter() - t) * 1000)
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


@contextmanager
def _backend(kind: str) -> Iterator[str]:
    if kind == "pgvector":
        with _pgserver() as dsn:
            host = dsn.split("host=")[1]
            yield f"postgresql+psycopg://postgres@/postgres?host={host}"
    else:
        with tempfile.TemporaryDirectory(prefix="lifecert-dedup-bench-") as d:
            yield f"sqlite:///{d}/bench.db"


def measure(kind: str, reg: np.ndarray, queries: np.ndarray, matcher: FaceMatcher, n_reviews: int) -> None:
    n = len(reg)
    real, synthetic = queries[:200], queries[200:]
    with _backend(kind) as url, tempfile.TemporaryDirectory(prefix="lifecert-dedup-home-") as home:
        svc = _service(url, Path(home), matcher)
        built = fill(svc, reg)
        index = register_index.index_for(svc)
        with svc.db.transaction() as s:
            limit = screening.register_limit(svc, s, index)
        print(f"\n{kind}, n = {n:,}: index {index.kind} ready in {built:.0f} s; threshold {limit.threshold}")
        print("| backend | n | enrolments | p50 ms | p95 ms | CPU ms | flagged |")
        print("|---|---|---|---|---|---|---|")
        for name, qs in (("LFW, person on the register", real), ("synthetic, nobody", synthetic)):
            ms, cpu, flagged = enrolments(svc, qs)
            print(
                f"| {index.kind} | {n:,} | {name} | {np.percentile(ms, 50):.2f} | "
                f"{np.percentile(ms, 95):.2f} | {cpu:.2f} | {sum(flagged)} / {len(flagged)} |",
                flush=True,
            )
        if n_reviews:
            p50, p95 = hold_reads(svc, n_reviews, n)
            print(
                f"hold read (duplicates.standing), {n_reviews:,} reviews: p50 {p50:.2f} ms, p95 {p95:.2f} ms"
            )
        svc.db.engine.dispose()


def false_flags() -> None:
    """Expected false flags per 1,000 enrolments at the service's threshold for N persons x
    REFS references, and the share of true duplicates (a genuine pair: the same person's
    other photo) at or above it: what the check catches."""
    lfw, casia = tails()
    print(f"\nExpected false duplicate flags per 1,000 enrolments (R = {REFS} references per person)")
    print(
        "| N persons | threshold | false / 1,000: shipped curve | LFW tail | East-Asian (CASIA) tail "
        "| duplicate caught (genuine pair): LFW | CASIA |"
    )
    print("|---|---|---|---|---|---|---|")
    for n in SIZES:
        rt = register_risk.register_threshold(n * REFS, floor=REGISTER_TODAY)
        t = rt.threshold
        print(
            f"| {n:.0e} | {t} | {rt.expected_false_reviews * 1000:.2f} | "
            f"{per_thousand(n * REFS, lfw.fmr(t)):.2f} | {per_thousand(n * REFS, casia.fmr(t)):.0f} | "
            f"{lfw.tar(t):.1%} | {casia.tar(t):.1%} |"
        )


def analyse_cost(matcher: FaceMatcher, photos: int = 20) -> None:
    """For scale: the CPU an enrolment already spends on the decoded ID photo (detection,
    landmarks, quality gate, embedding), on the deepface photos (the process's CPU)."""
    import cv2

    from matcher import Role

    files = sorted((FACES / "deepface").glob("img*.jpg"))[:photos]
    images = [cv2.imread(str(f)) for f in files]
    matcher.analyse(images[0], Role.REFERENCE)  # warm
    c0 = time.process_time()  # the process: the models may run on threads of their own
    for image in images:
        matcher.analyse(image, Role.REFERENCE)
    ms = (time.process_time() - c0) * 1000 / len(images)
    print(
        f"\nmatcher.analyse of an ID photo (every enrolment runs it), {len(images)} photos: {ms:.0f} ms CPU"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--n", type=lambda s: [int(x) for x in s.split(",")], default=[10_000])
    ap.add_argument("--pgvector", action="store_true", help="also PostgreSQL + pgvector (pgserver)")
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--reviews", type=int, default=100_000, help="reviews on the table for the hold read")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--no-rates", action="store_true", help="skip the false-flag table (~1 min)")
    a = ap.parse_args()
    matcher = FaceMatcher(ModelStore(), "fast")
    kinds = ([] if a.no_sqlite else ["sqlite"]) + (["pgvector"] if a.pgvector else [])
    analyse_cost(matcher)
    for n in a.n:
        reg, queries = register(n, a.seed)
        for kind in kinds:
            measure(kind, reg, queries, matcher, a.reviews)
    if not a.no_rates:
        false_flags()


if __name__ == "__main__":
    main()
