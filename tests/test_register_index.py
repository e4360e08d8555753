"""Register search on an index (issue 13): the same tests on SQLite (usearch, in process) and
PostgreSQL + pgvector (pgserver); Debian's PostgreSQL without pgvector falls back to exact
search. Synthetic 512-d templates: no models needed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from sqlalchemy import event, text

from api.certification import (
    register_index,
    register_index_pgvector,
    register_index_usearch,
    template_rotation,
)
from api.certification.clock import utcnow
from api.certification.recording import keep_live_capture
from api.certification.register_index import ExactIndex, Hit
from api.certification.register_risk import LFW_CURVE, RegisterThreshold, register_threshold
from api.certification.screening import HOUSEHOLD_MAX, decide, other_person_match
from api.certification.security import RecordCipher
from api.certification.service import CertificationService
from api.certification.settings import load_settings
from api.certification.storage.db import Database, migrate
from api.certification.storage.schema import FaceReference, Person
from api.http.routers import ops
from tests import pgvector_server, postgres

DIM = 512
PERSONS = 1500


@dataclass
class StubMatcher:
    """What screening needs of the matcher: its preset's key and the 1:1 threshold (and
    /healthz: the calibration in force)."""

    preset: SimpleNamespace
    threshold: float = 0.5425
    calibration: SimpleNamespace = field(
        default_factory=lambda: SimpleNamespace(as_dict=lambda: {"threshold": 0.5425})
    )


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def near(v: np.ndarray, cosine: float, rng: np.random.Generator) -> np.ndarray:
    """A unit vector at about ``cosine`` to ``v``: a look-alike."""
    noise = unit(rng, 1)[0]
    noise -= (noise @ v) * v
    noise /= np.linalg.norm(noise)
    out = cosine * v + np.sqrt(1 - cosine**2) * noise
    return (out / np.linalg.norm(out)).astype(np.float32)


def new_service(url: str, home: Path) -> CertificationService:
    # LFW's register curve: these tests place synthetic look-alikes at cosines chosen against
    # its thresholds (the default East-Asian curve has its own test below).
    settings = replace(load_settings(database_url=url), register_curve="lfw")
    db = Database(url)
    migrate(db.engine)
    matcher = StubMatcher(SimpleNamespace(key="fast"))
    return CertificationService(settings, db, {}, matcher=matcher)  # type: ignore[arg-type]


def add_person(svc: CertificationService, s, template: np.ndarray, source: str = "id_photo") -> int:  # type: ignore[no-untyped-def]
    cipher: RecordCipher = svc.cipher
    p = Person(
        id_hash=f"{np.random.default_rng().integers(1 << 62):x}",
        id_encrypted="x",
        name="测试",
        category="retiree",
        policy="national-default",
        benefit_start=date(2020, 1, 1),
        created_at=utcnow(),
    )
    s.add(p)
    s.flush()
    ref = FaceReference(
        person_id=p.id,
        embedding=cipher.seal_template(template),
        preset="fast",
        source=source,
        quality={},
        created_at=utcnow(),
    )
    s.add(ref)
    s.flush()
    register_index.added(svc, s, ref, template)
    return p.id


@pytest.fixture(scope="module", params=["sqlite", "pgvector"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp(f"register-{request.param}")
    mp = pytest.MonkeyPatch()
    mp.setenv("LIFECERT_HOME", str(home))
    try:
        if request.param == "pgvector":
            reason = pgvector_server.available()
            if reason:
                pytest.skip(f"PostgreSQL + pgvector tests skipped: {reason}")
            with pgvector_server.temporary_server() as url:
                yield url
        else:
            yield f"sqlite:///{home / 'register.db'}"
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def register(backend: str) -> Iterator[tuple[CertificationService, np.ndarray, list[int]]]:
    """A register of PERSONS random persons (one ID-photo reference each)."""
    svc = new_service(backend, Path("."))
    rng = np.random.default_rng(13)
    templates = unit(rng, PERSONS)
    with svc.db.transaction() as s:
        ids = [add_person(svc, s, t) for t in templates]
    yield svc, templates, ids
    svc.db.engine.dispose()


def test_the_backend_is_the_index_not_a_scan(register) -> None:  # type: ignore[no-untyped-def]
    svc, _, _ = register
    kind = register_index.index_for(svc).kind
    assert kind == ("pgvector-hnsw" if svc.db.engine.dialect.name == "postgresql" else "usearch-hnsw")


def test_healthz_names_the_index_in_force_and_its_size(register) -> None:  # type: ignore[no-untyped-def]
    svc, _, _ = register
    with svc.db.transaction() as s:
        references = s.query(FaceReference).count()
        register_index.index_for(svc).size(s)  # as each certification's screening does
    shown = ops.healthz(svc).register_index
    assert shown["kind"] == register_index.index_for(svc).kind
    assert shown["preset"] == "fast" and shown["size"] == references


def test_healthz_never_opens_or_builds_the_index(register) -> None:  # type: ignore[no-untyped-def]
    """Every kiosk polls /healthz every 2 s: it must not wait for an index build."""
    svc, _, _ = register
    fresh = new_service(str(svc.db.engine.url.render_as_string(hide_password=False)), Path("."))
    try:
        shown = ops.healthz(fresh).register_index
        assert shown["kind"] is None and shown["size"] is None
        assert shown["note"] == register_index.NOT_OPENED
        assert fresh not in register_index._INDEXES
    finally:
        fresh.db.engine.dispose()


def test_the_postgresql_size_is_counted_once_per_refresh_not_per_certification(
    register, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    svc, templates, _ = register
    if svc.db.engine.dialect.name != "postgresql":
        pytest.skip("the in-process index knows its own size: there is no count to save")
    clock = [time.monotonic() + 2 * register_index_pgvector.SIZE_REFRESH_S]  # past any earlier count
    monkeypatch.setattr(register_index_pgvector, "_now", lambda: clock[0])
    counts: list[str] = []

    def seen(conn, cursor, statement: str, *rest) -> None:  # type: ignore[no-untyped-def]
        if "count(" in statement.lower() and register_index_pgvector.TABLE in statement:
            counts.append(statement)

    index = register_index.index_for(svc)
    event.listen(svc.db.engine, "before_cursor_execute", seen)
    try:
        with svc.db.transaction() as s:
            before = index.size(s)
            assert before == s.query(FaceReference).count() and len(counts) == 1
        with svc.db.transaction() as s:
            add_person(svc, s, near(templates[3], 0.2, np.random.default_rng(8)))
        with svc.db.transaction() as s:  # certifications within the refresh: no count, the old size
            assert [index.size(s) for _ in range(5)] == [before] * 5 and len(counts) == 1
        clock[0] += register_index_pgvector.SIZE_REFRESH_S
        with svc.db.transaction() as s:  # the refresh is due: counted again, the new reference in
            assert index.size(s) == before + 1 and len(counts) == 2
    finally:
        event.remove(svc.db.engine, "before_cursor_execute", seen)


def test_the_index_finds_a_planted_look_alike(register) -> None:  # type: ignore[no-untyped-def]
    svc, templates, ids = register
    rng = np.random.default_rng(1)
    live = near(templates[100], 0.8, rng)  # person ids[100]'s look-alike relative
    with svc.db.transaction() as s:
        twin = add_person(svc, s, near(live, 0.7, rng))
    with svc.db.transaction() as s:
        hits = register_index.index_for(svc).search(s, live, 10, exclude_person=ids[100])
    assert hits[0].person_id == twin
    assert hits[0].score == pytest.approx(float(near(live, 0.7, np.random.default_rng(0)) @ live), abs=0.05)
    assert all(h.person_id != ids[100] for h in hits)
    with svc.db.transaction() as s:
        exact = ExactIndex(svc).search(s, live, 10, exclude_person=ids[100])
    assert exact[0] == hits[0]  # the same reference, the same exact score


def test_every_near_query_finds_its_person(register) -> None:  # type: ignore[no-untyped-def]
    """Recall of what matters: a face near a reference finds that person first. (Recall@10
    among random 512-d vectors, all at noise level from the query, is no test of a face index;
    BENCHMARKS.md measures recall@10 on a register drawn like real templates.)"""
    svc, templates, ids = register
    rng = np.random.default_rng(2)
    index = register_index.index_for(svc)
    with svc.db.transaction() as s:
        for i in rng.choice(len(ids), 30, replace=False):
            hits = index.search(s, near(templates[i], 0.5, rng), 10, exclude_person=-1)
            assert hits[0].person_id == ids[i]


def test_the_index_stays_in_step_after_a_passed_capture(register) -> None:  # type: ignore[no-untyped-def]
    svc, templates, ids = register
    rng = np.random.default_rng(3)
    capture = near(templates[7], 0.9, rng)
    with svc.db.transaction() as s:
        person = s.get(Person, ids[7])
        keep_live_capture(svc, s, person, capture, SimpleNamespace(id=None))  # type: ignore[arg-type]
    with svc.db.transaction() as s:
        hits = register_index.index_for(svc).search(s, capture, 3, exclude_person=-1)
        refs = s.query(FaceReference).filter(FaceReference.person_id == ids[7]).count()
    assert hits[0].person_id == ids[7] and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert refs == 2


def test_a_rolled_back_enrolment_never_enters_the_index(register) -> None:  # type: ignore[no-untyped-def]
    svc, _, _ = register
    ghost = unit(np.random.default_rng(4), 1)[0]
    with pytest.raises(RuntimeError), svc.db.transaction() as s:
        add_person(svc, s, ghost)
        raise RuntimeError("enrolment fails after the reference was written")
    with svc.db.transaction() as s:
        hits = register_index.index_for(svc).search(s, ghost, 3, exclude_person=-1)
    assert not hits or hits[0].score < 0.5


def test_a_rebuild_reproduces_the_index(register) -> None:  # type: ignore[no-untyped-def]
    svc, templates, _ = register
    queries = [near(templates[i], 0.7, np.random.default_rng(i)) for i in (5, 50, 500)]
    index = register_index.index_for(svc)
    with svc.db.transaction() as s:
        before = [index.search(s, q, 10, exclude_person=-1) for q in queries]
        references = s.query(FaceReference).count()
    report = register_index.rebuild(svc)
    assert report["references"] == references  # every committed reference, the rolled-back one not
    with svc.db.transaction() as s:
        after = [register_index.index_for(svc).search(s, q, 10, exclude_person=-1) for q in queries]
        assert register_index.index_for(svc).size(s) == references
    # The same nearest reference with the same exact score (graph order may reshuffle the
    # noise-level tail of a top 10 among random vectors, so that is not compared).
    assert [a[0] for a in after] == [b[0] for b in before]


def test_a_restarted_service_loads_or_rebuilds_its_index(register) -> None:  # type: ignore[no-untyped-def]
    """A second service on the same database (a restart) answers the same; on SQLite from the
    persisted file, which a changed key makes stale."""
    svc, templates, _ = register
    q = near(templates[9], 0.7, np.random.default_rng(9))
    with svc.db.transaction() as s:
        before = register_index.index_for(svc).search(s, q, 5, exclude_person=-1)
    again = new_service(str(svc.db.engine.url.render_as_string(hide_password=False)), Path("."))
    with again.db.transaction() as s:
        assert register_index.index_for(again).search(s, q, 5, exclude_person=-1)[0] == before[0]
        if again.db.engine.dialect.name == "sqlite":  # a loaded index searches as widely as a built one
            loaded = register_index.index_for(again)._ready(DIM)  # type: ignore[attr-defined]
            assert loaded.expansion_search == register_index_usearch.expansion_for(len(loaded))
    again.db.engine.dispose()


def test_the_search_widens_as_the_register_grows() -> None:
    """ef_search: the shipped value up to 10^5 references, then as a power of n, capped
    (BENCHMARKS.md: usearch M 32 holds recall@10 >= 0.99 with ef 1024 at 10^5 and needs ~4096
    at 10^6; pgvector m 32 needs ~1000, its limit, at 3 x 10^5)."""
    ef = register_index_usearch.expansion_for
    assert ef(0) == ef(20_000) == ef(100_000) == register_index_usearch.EXPANSION_SEARCH == 1024
    assert 1900 <= ef(300_000) <= 2100 and 4000 <= ef(1_000_000) <= 4200
    assert ef(10**8) == register_index_usearch.EXPANSION_MAX
    sizes = [10**5, 2 * 10**5, 5 * 10**5, 10**6, 10**7]
    assert [ef(n) for n in sizes] == sorted(ef(n) for n in sizes)
    pg = register_index_pgvector.ef_search_for  # pgvector's graph needs a steeper widening, to its cap
    assert pg(100_000) == register_index_pgvector.HNSW_EF_SEARCH == 400 and 900 <= pg(300_000) <= 1000
    assert pg(10**6) == register_index_pgvector.HNSW_EF_SEARCH_MAX == 1000


def test_a_usearch_index_built_with_another_m_is_reported_until_rebuilt(
    register, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """A persisted graph keeps the M it was built with (a rebuild of a large register takes
    long): the service says so until `lifecert register-index rebuild`."""
    svc, _, _ = register
    if svc.db.engine.dialect.name != "sqlite":
        pytest.skip("usearch only")
    url = str(svc.db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setattr(register_index_usearch, "CONNECTIVITY", 16)
    register_index.rebuild(svc)  # an index built before the change of M
    monkeypatch.undo()
    again = new_service(url, Path("."))
    try:
        index = register_index.index_for(again)
        assert index._ready(DIM).connectivity == 16  # type: ignore[attr-defined]
        shown = str(register_index.health(again)["note"])
        assert "M 16" in shown and "register-index rebuild" in shown
        assert register_index.rebuild(again)["note"] == register_index_usearch.NOTE
        rebuilt = register_index.index_for(again)._ready(DIM)  # type: ignore[attr-defined]
        assert rebuilt.connectivity == register_index_usearch.CONNECTIVITY == 32
    finally:
        again.db.engine.dispose()


def test_a_pgvector_index_built_with_other_settings_is_reported_until_rebuilt(
    register, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """After a change of the shipped HNSW build settings an existing index keeps its graph:
    the service says so (log, /healthz) instead of rebuilding inside a certification."""
    svc, _, _ = register
    if svc.db.engine.dialect.name != "postgresql":
        pytest.skip("pgvector only")
    url = str(svc.db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setattr(register_index_pgvector, "HNSW_M", register_index_pgvector.HNSW_M + 8)
    again = new_service(url, Path("."))
    try:
        register_index.index_for(again)  # opened (the first certification after the change)
        shown = str(register_index.health(again)["note"])
        assert "register-index rebuild" in shown and f"m={register_index_pgvector.HNSW_M - 8}," in shown
        assert register_index.rebuild(again)["note"] == register_index_pgvector.NOTE
        monkeypatch.undo()  # back to the shipped settings, and the index rebuilt with them
        assert register_index.rebuild(again)["note"] == register_index_pgvector.NOTE
    finally:
        again.db.engine.dispose()


def test_pgvector_searches_at_the_shipped_ef_search_in_its_own_transaction_only(register) -> None:  # type: ignore[no-untyped-def]
    """hnsw.ef_search is what buys recall (BENCHMARKS.md): set for the certification's
    transaction (SET LOCAL), never left on the pooled connection for the next one, and wider
    on a larger register."""
    svc, templates, _ = register
    if svc.db.engine.dialect.name != "postgresql":
        pytest.skip("pgvector only")
    show = text("SHOW hnsw.ef_search")
    with svc.db.transaction() as s:
        default = s.execute(show).scalar()
        register_index.index_for(svc).search(s, templates[1], 10, exclude_person=-1)
        assert s.execute(show).scalar() == str(register_index_pgvector.HNSW_EF_SEARCH)
    with svc.db.transaction() as s:
        assert s.execute(show).scalar() == default
    # On a province's register (its count as size() last read it) the search widens, up to the cap.
    index = register_index.index_for(svc)
    index._known, index._counted_at = 10**6, register_index_pgvector._now()  # type: ignore[attr-defined]
    try:
        with svc.db.transaction() as s:
            index.search(s, templates[1], 10, exclude_person=-1)
            assert s.execute(show).scalar() == str(register_index_pgvector.HNSW_EF_SEARCH_MAX)
    finally:
        index._known = None  # counted again at the next search


def test_postgresql_without_pgvector_falls_back_to_exact_search(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    reason = postgres.available()
    if reason:
        pytest.skip(f"PostgreSQL tests skipped: {reason}")
    monkeypatch.setenv("LIFECERT_HOME", str(tmp_path))
    with postgres.temporary_server() as url:
        svc = new_service(url, tmp_path)
        templates = unit(np.random.default_rng(5), 20)
        with svc.db.transaction() as s:
            ids = [add_person(svc, s, t) for t in templates]
        index = register_index.index_for(svc)
        if index.kind != "exact":
            pytest.skip("this PostgreSQL has pgvector installed")
        assert "pgvector extension not available" in index.note
        with svc.db.transaction() as s:
            index.size(s)
        shown = register_index.health(svc)
        assert shown["kind"] == "exact" and shown["size"] == 20 and shown["note"] == index.note
        with svc.db.transaction() as s:
            hits = index.search(s, templates[3], 1, exclude_person=-1)
        assert hits[0].person_id == ids[3]
        svc.db.engine.dispose()


# -- the rotation ------------------------------------------------------------------------------


def test_the_rotation_preserves_scores_and_depends_on_the_key() -> None:
    rng = np.random.default_rng(6)
    a, b = unit(rng, 2)
    key, other = b"a" * 44, b"b" * 44
    q = template_rotation.rotation(key, DIM)
    assert np.allclose(q @ q.T, np.eye(DIM), atol=1e-5)
    ra, rb = template_rotation.rotate(key, np.stack([a, b]))
    assert float(ra @ rb) == pytest.approx(float(a @ b), abs=1e-5)
    assert np.array_equal(template_rotation.rotation(key, DIM), q)  # deterministic
    # Without the key a rotated template is not comparable with a raw or differently rotated one.
    assert abs(float(ra @ a)) < 0.2
    assert abs(float(ra @ template_rotation.rotate(other, a))) < 0.2
    assert template_rotation.fingerprint(key) != template_rotation.fingerprint(other)


# -- the decision table --------------------------------------------------------------------------

REG = RegisterThreshold(0.69, 1e-8, 0.0099, True)


@pytest.mark.parametrize(
    ("proxy", "reg", "scope"),
    [
        ([Hit(2, 20, 0.56)], [], "same_proxy"),  # linked person above the 1:1 threshold
        ([Hit(2, 20, 0.53)], [], None),  # below it
        ([], [Hit(3, 30, 0.60)], None),  # register: above 1:1 but below the register threshold
        ([], [Hit(3, 30, 0.70)], "register"),
        ([Hit(2, 20, 0.60)], [Hit(3, 30, 0.95)], "same_proxy"),  # the proxy scope comes first
        ([], [Hit(3, 30, 0.40), Hit(4, 40, 0.71)], "register"),  # any of the top k
        ([], [], None),
    ],
)
def test_the_screening_decision_table(proxy: list[Hit], reg: list[Hit], scope: str | None) -> None:
    found = decide(proxy_hits=proxy, register_hits=reg, one_to_one=0.5425, register=REG, own_score=0.8)
    assert (found or {}).get("scope") == scope


@pytest.mark.parametrize(
    ("proxy", "household", "reg", "scope"),
    [
        ([], [Hit(5, 50, 0.56)], [], "same_household"),  # a household member above 1:1
        ([], [Hit(5, 50, 0.53)], [], None),  # below it
        ([Hit(2, 20, 0.60)], [Hit(5, 50, 0.90)], [], "same_proxy"),  # the proxy scope comes first
        ([], [Hit(5, 50, 0.56)], [Hit(3, 30, 0.95)], "same_household"),  # before the register
        ([], [Hit(5, 50, 0.40)], [Hit(3, 30, 0.95)], "register"),
    ],
)
def test_the_household_rows_of_the_decision_table(
    proxy: list[Hit], household: list[Hit], reg: list[Hit], scope: str | None
) -> None:
    found = decide(
        proxy_hits=proxy,
        household_hits=household,
        register_hits=reg,
        one_to_one=0.5425,
        register=REG,
        own_score=0.8,
    )
    assert (found or {}).get("scope") == scope


def test_a_look_alike_relative_on_the_same_phone_is_found_below_the_register_threshold(register) -> None:  # type: ignore[no-untyped-def]
    """A relative who is a recipient too, sharing the person's phone number: a live face that
    passes as the person (0.8) and scores 0.548 against the relative's reference (above the 1:1
    threshold 0.5425, below the register floor 0.55) is a same_household finding; with another
    phone number it is none. A dead relative, or a number shared by more than HOUSEHOLD_MAX
    persons (a care home's), is no household."""
    svc, _, _ = register
    rng = np.random.default_rng(4321)  # a seed of its own: other tests plant faces near theirs
    live = unit(rng, 1)[0]
    phone = "13855550000"
    with svc.db.transaction() as s:
        me = add_person(svc, s, near(live, 0.8, rng))
        relative = add_person(svc, s, near(live, 0.548, rng))
        for pid in (me, relative):
            s.get(Person, pid).phone = phone  # type: ignore[union-attr]

    def screened() -> dict[str, object] | None:
        with svc.db.transaction() as s:
            person = s.get(Person, me)
            assert person is not None
            return other_person_match(svc, s, person, live, own_score=0.8, proxy_id=None)

    found = screened()
    assert found is not None and found["scope"] == "same_household"
    assert found["other_person_id"] == relative and found["other_score"] == pytest.approx(0.548, abs=1e-3)
    with svc.db.transaction() as s:
        s.get(Person, relative).phone = "13855550001"  # type: ignore[union-attr]
    assert screened() is None  # the register scope alone: below its threshold
    with svc.db.transaction() as s:
        s.get(Person, relative).phone = phone  # type: ignore[union-attr]
        s.get(Person, relative).deceased_on = date(2026, 6, 1)  # type: ignore[union-attr]
    assert screened() is None  # the dead cannot stand in front of the camera
    with svc.db.transaction() as s:
        s.get(Person, relative).deceased_on = None  # type: ignore[union-attr]
        for _ in range(HOUSEHOLD_MAX - 1):  # now HOUSEHOLD_MAX + 1 persons on the number
            s.get(Person, add_person(svc, s, unit(rng, 1)[0])).phone = phone  # type: ignore[union-attr]
    assert screened() is None
    with svc.db.transaction() as s:  # leave the shared register as the other tests expect it
        for p in s.query(Person).filter(Person.phone == phone):
            p.phone = ""


def test_the_register_threshold_rises_with_the_register() -> None:
    sizes = [10**2, 10**4, 10**5, 10**6, 10**7]
    ts = [register_threshold(n, floor=0.55, curve=LFW_CURVE) for n in sizes]
    assert ts[0].threshold == 0.55  # the configured floor for a small register
    assert [t.threshold for t in ts] == sorted(t.threshold for t in ts)
    assert all(t.expected_false_reviews <= 1e-3 * 1.01 for t in ts if t.achievable)
    capped = register_threshold(10**9, floor=0.55, ceiling=0.8, curve=LFW_CURVE)
    assert capped.threshold == 0.8 and not capped.achievable


def test_the_default_register_threshold_is_read_off_the_east_asian_tail() -> None:
    """The users' population: the East-Asian impostors score far higher, so at every size the
    default threshold is higher than LFW's; from ~10^4 references no threshold below the
    ceiling holds the budget, and the ceiling's expected false reviews are said."""
    assert load_settings().register_curve == "east-asian"
    for n in (10**2, 10**3, 10**4, 10**5):
        east, lfw = register_threshold(n, floor=0.55), register_threshold(n, floor=0.55, curve=LFW_CURVE)
        assert east.threshold > lfw.threshold, (n, east, lfw)
    assert register_threshold(10**3, floor=0.55).achievable
    top = register_threshold(10**4, floor=0.55)
    assert top.threshold == 0.9 and not top.achievable and 1e-3 < top.expected_false_reviews < 1e-2


def test_the_register_curve_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFECERT_REGISTER_CURVE", "lfw")
    assert load_settings().register_curve == "lfw"
    monkeypatch.setenv("LIFECERT_REGISTER_CURVE", "western")
    with pytest.raises(ValueError, match="LIFECERT_REGISTER_CURVE"):
        load_settings()
