"""Register search at scale (issue 13): usearch HNSW (the SQLite side) and pgvector HNSW.

The register: the 7,701 real LFW embeddings (preset fast, from the `make bench-impostors`
cache) plus synthetic templates drawn from a Gaussian with the real embeddings' mean and
covariance, L2-normalised, so that impostor cosines follow the real distribution (printed:
percentiles of real-real against synthetic-synthetic pairs). Every template is rotated with
the service's rotation (any key) as the index holds it. Queries: 200 other photos of LFW
people (a face whose person is on the register) and 200 synthetic faces.

Each backend is built once (build time, memory: usearch its own count, pgvector the HNSW
index's relation size) and then searched at every ef of the sweep, one query at a time, one
thread, as the service asks: ``register_index.OVERFETCH`` x k candidates (40 for k = 10),
pgvector with ``SET LOCAL hnsw.ef_search`` in the query's transaction. Columns:

- p50 / p95: wall-clock latency of that one index query (re-scoring from the sealed
  templates is not in it), which on a shared host includes waiting for a core;
- CPU ms: CPU time per query, the mean over the queries (usearch: the searching thread's;
  pgvector: the server backend's from /proc plus the client's), what contention does not
  inflate;
- recall@10 (index): the index's own first 10 against the exact top 10 (a matrix product
  over the whole register, float32);
- recall@10 (service): the 40 candidates re-scored exactly and the best 10 kept, as
  ``RegisterIndex.search`` does; what screening actually sees;
- recall >= t: of the exact top-10 neighbours scoring at or above t (the configured floor
  0.55 and the size-aware register threshold for this n), the share the service's top 10
  holds: what a register finding rests on. Only the real LFW queries have any.

    PYTHONPATH=. python -m benchmarks.register_search --n 100000 [--pgvector] [--ef 128,512]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from api.certification import register_risk, template_rotation
from api.certification.register_index import OVERFETCH, OVERFETCH_MIN
from api.certification.register_index_pgvector import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M
from api.certification.register_index_usearch import CONNECTIVITY, DTYPE, EXPANSION_ADD, expansion_for
from benchmarks.face_sets import FACES, embed
from matcher.bench import identity_photos
from matcher.pipeline import FaceMatcher
from models import ModelStore

KEY = b"bWVhc3VyZW1lbnQta2V5LW5vdC1hLXNlY3JldC0wMDA="
K = 10
COUNT = max(OVERFETCH * K, OVERFETCH_MIN)  # candidates the service asks the index for
FLOOR = 0.55  # settings.register_match_threshold's default


@dataclass(frozen=True)
class Truth:
    """Exact top K per query (ids, scores) and the register itself for re-scoring."""

    ids: np.ndarray
    scores: np.ndarray
    reg: np.ndarray


@dataclass(frozen=True)
class Row:
    backend: str
    build: str
    ef: int
    p50: float
    p95: float
    cpu: float
    recall_index: float
    recall_service: float
    above: dict[float, tuple[float, int]]  # threshold -> (recall, neighbours at or above it)


def register(n: int, seed: int = 13) -> tuple[np.ndarray, np.ndarray]:
    """(register templates, queries), rotated, float32."""
    photos = identity_photos(FACES / "lfw")
    emb, _ = embed(FaceMatcher(ModelStore(), "fast"), [str(p.relative_to(FACES)) for p, _ in photos])
    emb = emb.astype(np.float32)
    who = np.array([w for _, w in photos])
    rng = np.random.default_rng(seed)
    # One photo per person with several goes to the queries, the rest to the register.
    first: dict[str, int] = {}
    for i, w in enumerate(who):
        first.setdefault(w, i)
    multi = [first[w] for w in np.unique(who) if (who == w).sum() > 1]
    q_real = rng.choice(multi, 200, replace=False)
    keep = np.setdiff1d(np.arange(len(who)), q_real)
    mean, cov = emb.mean(0), np.cov(emb, rowvar=False)
    chol = np.linalg.cholesky(cov + 1e-6 * np.eye(cov.shape[0]))

    def synthetic(m: int) -> np.ndarray:
        out = np.empty((m, emb.shape[1]), np.float32)
        for a in range(0, m, 50_000):
            z = rng.standard_normal((min(50_000, m - a), emb.shape[1])).astype(np.float32)
            v = mean + z @ chol.T
            out[a : a + len(v)] = v / np.linalg.norm(v, axis=1, keepdims=True)
        return out

    reg = np.concatenate([emb[keep], synthetic(max(0, n - keep.size))])[:n]
    real_imp = (emb[keep[:2000]] @ emb[keep[2000:4000]].T).ravel()
    syn = reg[-4000:]
    syn_imp = (syn[:2000] @ syn[2000:].T).ravel()
    pct = [50, 99, 99.9, 99.99]
    print("impostor cosine percentiles", pct)
    print("  real LFW:  ", np.round(np.percentile(real_imp, pct), 4))
    print("  synthetic: ", np.round(np.percentile(syn_imp, pct), 4))
    queries = np.concatenate([emb[q_real], synthetic(200)])
    return template_rotation.rotate(KEY, reg), template_rotation.rotate(KEY, queries)


def exact_top(reg: np.ndarray, queries: np.ndarray) -> Truth:
    ids = np.empty((len(queries), K), np.int64)
    scores = np.empty((len(queries), K), np.float32)
    for a in range(0, len(queries), 50):
        s = queries[a : a + 50] @ reg.T
        top = np.argpartition(-s, K, axis=1)[:, :K]
        ids[a : a + 50] = top
        scores[a : a + 50] = np.take_along_axis(s, top, axis=1)
    return Truth(ids, scores, reg)


def measure(
    backend: str,
    build: str,
    ef: int,
    search: Callable[[np.ndarray], np.ndarray],
    queries: np.ndarray,
    truth: Truth,
    thresholds: list[float],
    cpu: Callable[[], float] = time.thread_time,
) -> Row:
    """One sweep row: ``search(q)`` returns the index's COUNT candidate ids, nearest first;
    ``cpu()`` the CPU seconds the search spends, cumulative."""
    got, ms = [], []
    cpu0 = cpu()
    for q in queries:
        t = time.perf_counter()
        got.append(np.asarray(search(q), np.int64).ravel())
        ms.append((time.perf_counter() - t) * 1000)
    cpu_ms = (cpu() - cpu0) * 1000 / len(queries)
    served = []
    for q, g in zip(queries, got, strict=True):  # RegisterIndex.search: re-score exactly, keep K
        exact = truth.reg[g] @ q
        served.append(g[np.argsort(-exact)[:K]])
    hit_index = [len(set(t) & set(g[:K])) / K for t, g in zip(truth.ids, got, strict=True)]
    hit_served = [len(set(t) & set(g)) / K for t, g in zip(truth.ids, served, strict=True)]
    above: dict[float, tuple[float, int]] = {}
    for th in thresholds:
        found = total = 0
        for t, sc, g in zip(truth.ids, truth.scores, served, strict=True):
            wanted = set(t[sc >= th].tolist())
            total += len(wanted)
            found += len(wanted & set(g.tolist()))
        above[th] = (found / total if total else float("nan"), total)
    return Row(
        backend,
        build,
        ef,
        float(np.percentile(ms, 50)),
        float(np.percentile(ms, 95)),
        cpu_ms,
        float(np.mean(hit_index)),
        float(np.mean(hit_served)),
        above,
    )


def sweep_usearch(
    truth: Truth,
    queries: np.ndarray,
    efs: list[int],
    thresholds: list[float],
    threads: int,
    connectivity: int,
    expansion_add: int,
    dtype: str = DTYPE,
) -> Iterator[Row]:
    from api.certification.register_index_usearch import Index  # onnxruntime first (see there)

    reg = truth.reg
    index = Index(
        ndim=reg.shape[1],
        metric="cos",
        dtype=dtype,
        connectivity=connectivity,
        expansion_add=expansion_add,
        expansion_search=expansion_for(len(reg)),
    )
    t = time.perf_counter()
    index.add(np.arange(len(reg), dtype=np.uint64), reg, threads=threads)
    build = (
        f"{dtype}, M {connectivity}, ef_add {expansion_add}: {time.perf_counter() - t:.0f} s "
        f"({threads} threads), {index.memory_usage / 2**20:.0f} MiB"
    )
    print(f"usearch built, n={len(reg):,}: {build}", flush=True)
    for ef in efs:
        index.expansion_search = ef
        yield measure(
            "usearch",
            build,
            ef,
            lambda q: index.search(q, COUNT, threads=1).keys,
            queries,
            truth,
            thresholds,
        )


def _literal(v: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in v) + "]"


@contextmanager
def _pgserver() -> Iterator[str]:
    import pgserver

    root = tempfile.mkdtemp(prefix="lifecert-pgvector-bench-")
    server = pgserver.get_server(root, cleanup_mode="stop")
    try:
        yield f"dbname=postgres user=postgres host={root}"
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)  # 0.3-1 GB per 10^5 vectors


def sweep_pgvector(
    truth: Truth,
    queries: np.ndarray,
    efs: list[int],
    thresholds: list[float],
    m: int,
    ef_construction: int,
    workers: int,
) -> Iterator[Row]:
    import psycopg

    reg = truth.reg
    with _pgserver() as dsn, psycopg.connect(dsn, autocommit=True) as c:
        d = reg.shape[1]
        c.execute("CREATE EXTENSION IF NOT EXISTS vector")
        version = c.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
        c.execute(f"CREATE TABLE v (id integer PRIMARY KEY, vec vector({d}))")
        t = time.perf_counter()
        with c.cursor().copy("COPY v (id, vec) FROM STDIN") as cp:
            for a in range(0, len(reg), 10_000):
                buf = io.StringIO()
                for i in range(a, min(a + 10_000, len(reg))):
                    buf.write(f"{i}\t{_literal(reg[i])}\n")
                cp.write(buf.getvalue())
        load = time.perf_counter() - t
        c.execute("SET maintenance_work_mem = '4GB'")
        c.execute(f"SET max_parallel_maintenance_workers = {workers}")
        t = time.perf_counter()
        c.execute(
            f"CREATE INDEX ON v USING hnsw (vec vector_cosine_ops) "
            f"WITH (m = {m}, ef_construction = {ef_construction})"
        )
        size = c.execute("SELECT pg_relation_size('v_vec_idx')").fetchone()[0]  # type: ignore[index]
        build = (
            f"pgvector {version[0] if version else '?'}, m {m}, ef_construction {ef_construction}: "
            f"{time.perf_counter() - t:.0f} s ({workers} parallel workers; COPY {load:.0f} s), "
            f"{size / 2**20:.0f} MiB index"
        )
        print(f"pgvector built, n={len(reg):,}: {build}", flush=True)
        plan = c.execute(
            "EXPLAIN SELECT id FROM v ORDER BY vec <=> %s::vector LIMIT 10", (_literal(np.zeros(d)),)
        ).fetchall()
        assert any("v_vec_idx" in r[0] for r in plan), plan
        backend_pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]

        def cpu() -> float:
            """The server backend's CPU seconds (utime + stime) plus this thread's."""
            with open(f"/proc/{backend_pid}/stat", encoding="ascii") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") + time.thread_time()

        for ef in efs:

            def one(q: np.ndarray, ef: int = ef) -> np.ndarray:
                with c.transaction():  # as the service: SET LOCAL in the query's transaction
                    c.execute(f"SET LOCAL hnsw.ef_search = {max(ef, COUNT)}")
                    rows = c.execute(
                        "SELECT id FROM v ORDER BY vec <=> %s::vector LIMIT %s", (_literal(q), COUNT)
                    ).fetchall()
                return np.array([r[0] for r in rows])

            yield measure("pgvector", build, ef, one, queries, truth, thresholds, cpu)


def header(thresholds: list[float]) -> None:
    head = "| backend | ef (search) | p50 ms | p95 ms | CPU ms | recall@10 index | recall@10 service | "
    print(head + " | ".join(f"recall >= {t:.3f} (n)" for t in thresholds) + " |")
    print("|" + "---|" * (7 + len(thresholds)), flush=True)


def line(r: Row, shipped: dict[str, int]) -> None:
    mark = " (shipped)" if shipped.get(r.backend) == r.ef else ""
    cells = " | ".join(f"{r.above[t][0]:.4f} ({r.above[t][1]})" for t in sorted(r.above))
    print(
        f"| {r.backend} | {r.ef}{mark} | {r.p50:.2f} | {r.p95:.2f} | {r.cpu:.2f} | "
        f"{r.recall_index:.4f} | {r.recall_service:.4f} | {cells} |",
        flush=True,
    )


def _ints(s: str) -> list[int]:
    return [int(x) for x in s.split(",") if x]


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=2, help="usearch build threads")
    ap.add_argument(
        "--ef",
        type=_ints,
        default=None,
        help="usearch expansion_search sweep (default: the shipped one for n)",
    )
    ap.add_argument("--m", type=int, default=CONNECTIVITY, help="usearch connectivity")
    ap.add_argument("--ef-add", type=int, default=EXPANSION_ADD, help="usearch expansion_add")
    ap.add_argument("--dtype", default=DTYPE, help="usearch storage: f16, bf16, i8, f32")
    ap.add_argument("--pgvector", action="store_true")
    ap.add_argument("--pg-ef", type=_ints, default=[HNSW_EF_SEARCH], help="hnsw.ef_search sweep")
    ap.add_argument("--pg-m", type=int, default=HNSW_M)
    ap.add_argument("--pg-efc", type=int, default=HNSW_EF_CONSTRUCTION, help="ef_construction")
    ap.add_argument("--pg-workers", type=int, default=1, help="max_parallel_maintenance_workers")
    ap.add_argument("--no-usearch", action="store_true")
    ap.add_argument("--seed", type=int, default=13, help="another draw of register and queries")
    a = ap.parse_args()
    reg, queries = register(a.n, a.seed)
    t = time.perf_counter()
    truth = exact_top(reg, queries)
    each = (time.perf_counter() - t) * 1000 / len(queries)
    print(f"exact top-10 of {len(queries)} queries (numpy, batches of 50): {each:.1f} ms each")
    # The threshold the service applies to a register of n references (RegisterIndex.size()).
    thresholds = [FLOOR, register_risk.register_threshold(a.n, floor=FLOOR).threshold]
    print(f"register threshold for {a.n:,} references: {thresholds[1]}")
    rows: list[Row] = []
    shipped = {"usearch": expansion_for(a.n), "pgvector": HNSW_EF_SEARCH}
    header(thresholds)  # rows as they are measured, then the whole table with the builds
    sweeps: list[Iterator[Row]] = []
    if not a.no_usearch:
        sweeps.append(
            sweep_usearch(
                truth, queries, a.ef or [shipped["usearch"]], thresholds, a.threads, a.m, a.ef_add, a.dtype
            )
        )
    if a.pgvector:
        sweeps.append(sweep_pgvector(truth, queries, a.pg_ef, thresholds, a.pg_m, a.pg_efc, a.pg_workers))
    for sweep in sweeps:
        for row in sweep:
            rows.append(row)
            line(row, shipped)
    print(f"\nn = {a.n:,}, k = {K}, {COUNT} candidates asked, {len(queries)} queries, one thread")
    header(thresholds)
    for row in rows:
        line(row, shipped)
    for build in dict.fromkeys(r.build for r in rows):
        print(f"  build: {build}")


if __name__ == "__main__":
    main()
