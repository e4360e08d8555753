"""Register search at scale (issue 13): usearch HNSW (the SQLite side) and pgvector HNSW.

The register: the 7,701 real LFW embeddings (preset fast, from the `make bench-impostors`
cache) plus synthetic templates drawn from a Gaussian with the real embeddings' mean and
covariance, L2-normalised, so that impostor cosines follow the real distribution (printed:
percentiles of real-real against synthetic-synthetic pairs). Every template is rotated with
the service's rotation (any key) as the index holds it. Queries: 200 other photos of LFW
people (a face whose person is on the register) and 200 synthetic faces.

Measured per backend: build time, memory (usearch: its own count; pgvector: the HNSW index's
relation size), single-query p50/p95 latency (one thread, k = 10, the service's ef_search),
recall@10 against exact search (a matrix product over the whole register).

    PYTHONPATH=. python -m benchmarks.register_search --n 100000 [--pgvector]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time

import numpy as np

from api.certification import template_rotation
from api.certification.register_index_pgvector import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M
from api.certification.register_index_usearch import CONNECTIVITY, DTYPE, EXPANSION_ADD, EXPANSION_SEARCH
from benchmarks.face_sets import FACES, embed
from matcher.bench import identity_photos
from matcher.pipeline import FaceMatcher
from models import ModelStore

KEY = b"bWVhc3VyZW1lbnQta2V5LW5vdC1hLXNlY3JldC0wMDA="
K = 10


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


def exact_top(reg: np.ndarray, queries: np.ndarray) -> np.ndarray:
    out = np.empty((len(queries), K), np.int64)
    for a in range(0, len(queries), 50):
        s = queries[a : a + 50] @ reg.T
        out[a : a + 50] = np.argpartition(-s, K, axis=1)[:, :K]
    return out


def recall(truth: np.ndarray, got: list[np.ndarray]) -> float:
    return float(np.mean([len(set(t) & set(g)) / K for t, g in zip(truth, got, strict=True)]))


def timings(fn, queries: np.ndarray) -> tuple[list[np.ndarray], float, float]:  # type: ignore[no-untyped-def]
    got, ms = [], []
    for q in queries:
        t = time.perf_counter()
        got.append(fn(q))
        ms.append((time.perf_counter() - t) * 1000)
    return got, float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def bench_usearch(reg: np.ndarray, queries: np.ndarray, truth: np.ndarray, threads: int) -> None:
    from api.certification.register_index_usearch import Index  # onnxruntime first (see there)

    index = Index(
        ndim=reg.shape[1], metric="cos", dtype=DTYPE, connectivity=CONNECTIVITY,
        expansion_add=EXPANSION_ADD, expansion_search=EXPANSION_SEARCH,
    )
    t = time.perf_counter()
    index.add(np.arange(len(reg), dtype=np.uint64), reg, threads=threads)
    build = time.perf_counter() - t
    got, p50, p95 = timings(lambda q: np.asarray(index.search(q, K, threads=1).keys), queries)
    print(
        f"usearch {DTYPE} M={CONNECTIVITY} ef_add={EXPANSION_ADD} ef={EXPANSION_SEARCH}: n={len(reg):,} "
        f"build {build:.1f} s ({threads} threads), memory {index.memory_usage / 2**20:.0f} MiB, "
        f"p50 {p50:.2f} ms, p95 {p95:.2f} ms, recall@10 {recall(truth, got):.4f}"
    )


def bench_pgvector(reg: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> None:
    import pgserver
    import psycopg

    root = tempfile.mkdtemp(prefix="lifecert-pgvector-bench-")
    server = pgserver.get_server(root, cleanup_mode="stop")
    try:
        with psycopg.connect(f"dbname=postgres user=postgres host={root}", autocommit=True) as c:
            d = reg.shape[1]
            c.execute("CREATE EXTENSION IF NOT EXISTS vector")
            c.execute(f"CREATE TABLE v (id integer PRIMARY KEY, vec vector({d}))")
            t = time.perf_counter()
            with c.cursor().copy("COPY v (id, vec) FROM STDIN") as cp:
                for a in range(0, len(reg), 10_000):
                    buf = io.StringIO()
                    for i in range(a, min(a + 10_000, len(reg))):
                        buf.write(f"{i}\t[{','.join(f'{x:.7g}' for x in reg[i])}]\n")
                    cp.write(buf.getvalue())
            load = time.perf_counter() - t
            c.execute("SET maintenance_work_mem = '2GB'")
            c.execute("SET max_parallel_maintenance_workers = 1")
            t = time.perf_counter()
            c.execute(
                f"CREATE INDEX ON v USING hnsw (vec vector_cosine_ops) "
                f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
            )
            build = time.perf_counter() - t
            size = c.execute("SELECT pg_relation_size('v_vec_idx')").fetchone()[0]  # type: ignore[index]
            c.execute(f"SET hnsw.ef_search = {HNSW_EF_SEARCH}")
            plan = c.execute("EXPLAIN SELECT id FROM v ORDER BY vec <=> %s::vector LIMIT 10", (
                "[" + ",".join(["0"] * d) + "]",)).fetchall()
            assert any("v_vec_idx" in r[0] for r in plan), plan

            def one(q: np.ndarray) -> np.ndarray:
                lit = "[" + ",".join(f"{x:.7g}" for x in q) + "]"
                rows = c.execute("SELECT id FROM v ORDER BY vec <=> %s::vector LIMIT 10", (lit,)).fetchall()
                return np.array([r[0] for r in rows])

            got, p50, p95 = timings(one, queries)
            print(
                f"pgvector 0.6.2 (pgserver PG16) m={HNSW_M} ef_construction={HNSW_EF_CONSTRUCTION} "
                f"ef_search={HNSW_EF_SEARCH}: n={len(reg):,} load (COPY) {load:.1f} s, index build "
                f"{build:.1f} s, index {size / 2**20:.0f} MiB, p50 {p50:.2f} ms, p95 {p95:.2f} ms, "
                f"recall@10 {recall(truth, got):.4f}"
            )
    finally:
        server.cleanup()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pgvector", action="store_true")
    ap.add_argument("--no-usearch", action="store_true")
    a = ap.parse_args()
    reg, queries = register(a.n)
    t = time.perf_counter()
    truth = exact_top(reg, queries)
    each = (time.perf_counter() - t) * 1000 / len(queries)
    print(f"exact top-10 of {len(queries)} queries (numpy, batches of 50): {each:.1f} ms each")
    if not a.no_usearch:
        bench_usearch(reg, queries, truth, a.threads)
    if a.pgvector:
        bench_pgvector(reg, queries, truth)


if __name__ == "__main__":
    main()
