"""De-duplication of ID photos at enrolment (issue 13): one face on two pension records.

Over HTTP, on SQLite and on PostgreSQL (tests/test_api.py's service, a register of this
module's own); the last test runs the check on tests/test_register_index.py's index backends
(usearch, pgvector). Real faces: frames 5 and 40 of the d0 talking clip are one person
(cosine ~0.84 in the shipped preset), as are deepface img2 and img4 (~0.85) and two frames of
d18; img15 and img3 are other people (< 0.15 against those), img8 another. The
certifications submit the d0 clip itself.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from dataclasses import replace

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from api.certification import duplicates, register_index
from api.certification.storage.schema import (
    WITHDRAWN,
    AuditEntry,
    FaceReference,
    Person,
    Review,
)
from api.demo import ensure_client
from tests.test_api import CLIPS, certifications, clip, enrol, frame_of, h, photo, start, submit
from tests.test_api import client as client  # the fixture (SQLite and PostgreSQL)
from tests.test_register_index import add_person, near, unit
from tests.test_register_index import backend as backend  # the fixtures (SQLite, pgvector)
from tests.test_register_index import register as register

pytestmark = pytest.mark.needs_data


def id_photo(tc: TestClient, person_id: int, image: bytes) -> dict[str, object]:
    r = tc.post(
        f"/v1/persons/{person_id}/id-photo", headers=h(tc, "staff"), files={"photo": ("id.jpg", image)}
    )
    assert r.status_code == 200, r.text
    return r.json()


def duplicate_reviews(tc: TestClient, person_id: int) -> list[dict[str, object]]:
    listed = tc.get("/v1/reviews", headers=h(tc, "staff")).json()
    return [r for r in listed if r["kind"] == "duplicate_reference" and person_id in _named(r)]


def _named(review: dict) -> set[int]:  # type: ignore[type-arg]
    return {review["person_id"], review["detail"]["other_person_id"]}


def another_staff(tc: TestClient) -> dict[str, str]:
    """A second staff member: the one who enrolled a photo may not decide its review."""
    return {"X-API-Key": ensure_client(tc.service, f"test-staff-{secrets.token_hex(4)}", "staff")}  # type: ignore[attr-defined]


def test_the_same_face_on_a_second_record_is_held_until_staff_clear_it(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.service.challenges.window_s = CLIPS["d0"]  # type: ignore[attr-defined]
    _, a = enrol(client, "重复甲", frame_of("d0", 5))
    idn_b, b = enrol(client, "重复乙", photo("img15.jpg"))
    assert duplicate_reviews(client, b) == []  # another person's face: nothing to review

    # The same face as A's, enrolled on B's record: stored, and a review names both records.
    enrolled = id_photo(client, b, frame_of("d0", 40))
    assert enrolled["reference_id"] and enrolled["duplicate_review_id"]
    [review] = duplicate_reviews(client, b)
    assert review["id"] == enrolled["duplicate_review_id"] and review["person_id"] == b
    detail = review["detail"]
    assert detail["other_person_id"] == a and detail["reference_id"] == enrolled["reference_id"]
    assert detail["other_score"] >= detail["threshold"] >= client.service.settings.register_match_threshold  # type: ignore[attr-defined]
    assert review["person"]["person_id"] == b and review["other_person"]["person_id"] == a
    assert "*" in review["other_person"]["id_number_masked"] and idn_b not in str(review)
    with client.service.db.transaction() as s:  # type: ignore[attr-defined]
        flagged = s.execute(
            select(AuditEntry).where(
                AuditEntry.action == "duplicate_reference_flagged", AuditEntry.person_id == b
            )
        ).scalar_one()
        assert flagged.detail["other_person"] == a and flagged.detail["review"] == review["id"]

    # While it is open, B's certification that would pass goes to staff, naming the review,
    # even where the certification's own screening finds nothing: here its register threshold
    # is set beyond any score (as at 10^7 references, 0.83, a live face may fall short).
    strict = replace(client.service.settings, register_match_threshold=0.999)  # type: ignore[attr-defined]
    monkeypatch.setattr(client.service, "settings", strict)  # type: ignore[attr-defined]
    body = submit(client, start(client, idn_b, "重复乙").json()["session_id"], clip("d0")).json()
    monkeypatch.undo()
    assert body["outcome"] == "review" and body["certification_id"] is None, body
    with client.service.db.transaction() as s:  # type: ignore[attr-defined]
        held = s.execute(
            select(Review).where(Review.person_id == b, Review.kind == "possible_impersonation")
        ).scalar_one()
        assert held.detail["scope"] == "duplicate_reference" and held.detail["other_person_id"] == a
        assert held.detail["duplicate_review_id"] == review["id"]
        assert duplicates.standing(s, a).open[0].id == review["id"]  # A's record is held too

    # Four eyes: not the staff member who enrolled the photo. An approval certifies nobody.
    own = client.post(
        f"/v1/reviews/{review['id']}/decision", headers=h(client, "staff"), json={"approve": True}
    )
    assert own.status_code == 403 and own.json()["code"] == "four_eyes"
    decided = client.post(
        f"/v1/reviews/{review['id']}/decision",
        headers=another_staff(client),
        json={"approve": True, "note": "twins: both household registers checked"},
    ).json()
    assert decided == {"status": "approved", "certification_id": None, "next_due": None}
    assert certifications(client, a, b) == 0
    assert duplicate_reviews(client, b) == []

    # Cleared as different people: B's next certification passes (A is not held against B).
    body = submit(client, start(client, idn_b, "重复乙").json()["session_id"], clip("d0")).json()
    assert body["outcome"] == "passed" and body["certification_id"], body
    assert certifications(client, b) == 1


def test_a_rejected_duplicate_withdraws_the_new_photo_and_keeps_both_records(client: TestClient) -> None:
    idn_c, c = enrol(client, "重复丙", photo("img2.jpg"))
    idn_d, d = enrol(client, "重复丁", photo("img3.jpg"))
    assert duplicate_reviews(client, d) == []  # another person's face
    refused = client.post(
        f"/v1/persons/{d}/id-photo", headers=h(client, "staff"), files={"photo": ("x.jpg", b"GIF89a")}
    )
    assert refused.status_code == 422 and duplicate_reviews(client, d) == []  # bad input: as before

    enrolled = id_photo(client, d, photo("img4.jpg"))  # C's face
    [review] = duplicate_reviews(client, d)
    assert review["id"] == enrolled["duplicate_review_id"] and review["detail"]["other_person_id"] == c
    decided = client.post(
        f"/v1/reviews/{review['id']}/decision",
        headers=another_staff(client),
        json={"approve": False, "note": "the same man on both records"},
    ).json()
    assert decided["status"] == "rejected" and decided["certification_id"] is None
    history = client.get(f"/v1/persons/{d}", headers=h(client, "staff")).json()
    sources = {r["id"]: r["source"] for r in history["references"]}
    assert sources[enrolled["reference_id"]] == "withdrawn" and "id_photo" in sources.values()
    with client.service.db.transaction() as s:  # type: ignore[attr-defined]
        assert (
            s.execute(
                select(AuditEntry).where(
                    AuditEntry.action == "reference_withdrawn", AuditEntry.person_id == d
                )
            )
            .scalar_one()
            .detail["review"]
            == review["id"]
        )
        stored = s.get(Review, review["id"])
        assert stored is not None and stored.detail["decision_note"] == "the same man on both records"
        assert duplicates.standing(s, c).open == () and duplicates.standing(s, c).cleared == frozenset()
    # Both records stay and both can start a session (D on the photo it had before).
    assert start(client, idn_c, "重复丙").status_code == 200
    assert start(client, idn_d, "重复丁").status_code == 200
    # A withdrawn photo is never a match again: enrolling the face once more on another
    # record names C's photo, not D's withdrawn one.
    _, e = enrol(client, "重复戊", photo("img8.jpg"))
    again = id_photo(client, e, photo("img4.jpg"))
    [flagged] = duplicate_reviews(client, e)
    assert flagged["id"] == again["duplicate_review_id"]
    assert [x["person_id"] for x in flagged["detail"]["candidates"]] == [c]  # type: ignore[index]


def test_a_record_whose_only_photo_was_withdrawn_is_sent_to_the_counter(client: TestClient) -> None:
    _, f = enrol(client, "重复己", frame_of("d18", 5))
    idn_g, g = enrol(client, "重复庚", frame_of("d18", 60))
    [review] = duplicate_reviews(client, g)
    assert review["detail"]["other_person_id"] == f
    client.post(
        f"/v1/reviews/{review['id']}/decision", headers=another_staff(client), json={"approve": False}
    )
    r = start(client, idn_g, "重复庚")
    assert r.status_code == 409 and r.json()["code"] == "no_reference_photo"  # enrol a new photo first


def test_a_rejected_duplicate_can_withdraw_the_other_records_photo_instead(client: TestClient) -> None:
    """The documents may show that the older record carried the wrong face (a relative's face
    enrolled on a dead person's record): rejecting with ``withdraw: other`` withdraws that
    record's matching photo and keeps the one just enrolled."""
    idn_h, older = enrol(client, "重复辛", photo("img27.jpg"))
    idn_i, newer = enrol(client, "重复壬", photo("img28.jpg"))  # the same face
    [review] = duplicate_reviews(client, newer)
    assert review["person_id"] == newer and review["detail"]["other_person_id"] == older
    decision = f"/v1/reviews/{review['id']}/decision"
    for wrong in ({"approve": True, "withdraw": "other"}, {"approve": False, "withdraw": "both"}):
        refused = client.post(decision, headers=another_staff(client), json=wrong)
        assert refused.status_code == 422, wrong  # nothing decided
    assert [r["id"] for r in duplicate_reviews(client, newer)] == [review["id"]]

    decided = client.post(
        decision,
        headers=another_staff(client),
        json={"approve": False, "withdraw": "other", "note": "older record: the son's photo"},
    ).json()
    assert decided["status"] == "rejected" and decided["certification_id"] is None
    other_ref = review["detail"]["other_reference_id"]
    history = {p: client.get(f"/v1/persons/{p}", headers=h(client, "staff")).json() for p in (older, newer)}
    refs = {p: {r["id"]: r["source"] for r in history[p]["references"]} for p in (older, newer)}
    assert refs[older] == {other_ref: "withdrawn"}
    assert list(refs[newer].values()) == ["id_photo"]
    with client.service.db.transaction() as s:  # type: ignore[attr-defined]
        audited = select(AuditEntry).where(
            AuditEntry.action == "reference_withdrawn", AuditEntry.person_id == older
        )
        withdrawn = s.execute(audited).scalar_one()
        assert withdrawn.detail == {"reference": other_ref, "review": review["id"]}
        stored = s.get(Review, review["id"])
        assert stored is not None and stored.detail["withdrawn"] == "other"
    r = start(client, idn_h, "重复辛")
    # The older record needs a new photo before it certifies again; the newer one certifies.
    assert r.status_code == 409 and r.json()["code"] == "no_reference_photo"
    assert start(client, idn_i, "重复壬").status_code == 200


def test_a_look_alike_on_the_same_phone_sends_the_certification_to_staff(client: TestClient) -> None:
    """The household scope end to end (api.certification.screening): a relative registered
    under the same phone number whose photo the live face also matches. The enrolment flagged
    the two photos too (one face); the certification's own review names the household."""
    client.service.challenges.window_s = CLIPS["d12"]  # type: ignore[attr-defined]
    _, relative = enrol(client, "户甲", frame_of("d12", 20), phone="13766660000")
    idn, me = enrol(client, "户乙", frame_of("d12", 5), phone="13766660000")
    body = submit(client, start(client, idn, "户乙").json()["session_id"], clip("d12")).json()
    assert body["outcome"] == "review", body
    listed = client.get("/v1/reviews", headers=h(client, "staff")).json()
    [review] = [r for r in listed if r["person_id"] == me and r["kind"] == "possible_impersonation"]
    assert review["detail"]["scope"] == "same_household"
    assert review["detail"]["other_person_id"] == relative
    assert certifications(client, me, relative) == 0


def test_the_check_searches_the_register_index_and_never_names_a_withdrawn_photo(register) -> None:  # type: ignore[no-untyped-def]
    """The same check on the index backends themselves (tests/test_register_index.py's register
    of 1,500 random templates: in-process usearch on SQLite, pgvector HNSW on PostgreSQL)."""
    svc, templates, ids = register
    rng = np.random.default_rng(21)

    def enrolled(template: np.ndarray) -> Review | None:
        with svc.db.transaction() as s:
            person = s.get(Person, add_person(svc, s, template))
            ref = s.execute(select(FaceReference).where(FaceReference.person_id == person.id)).scalar_one()
            return duplicates.flag(svc, s, person, ref, template, "test")

    review = enrolled(near(templates[300], 0.85, rng))  # person ids[300]'s face, another record
    assert review is not None and review.detail["other_person_id"] == ids[300]
    assert review.detail["other_score"] == pytest.approx(0.85, abs=0.01)
    assert enrolled(unit(rng, 1)[0]) is None  # a stranger's face
    with svc.db.transaction() as s:
        s.execute(update(FaceReference).where(FaceReference.person_id == ids[300]).values(source=WITHDRAWN))
    again = enrolled(near(templates[300], 0.85, rng))
    assert again is not None and ids[300] not in {c["person_id"] for c in again.detail["candidates"]}
    assert again.detail["other_person_id"] == review.person_id  # the first copy, still matchable


def test_two_enrolments_of_one_face_at_the_same_moment_flag_each_other(register, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Two photos of one face enrolled on two records at the same moment, each in its own
    transaction. A search sees only committed references, so if both searched before either
    committed, both would find nothing. Here each search first waits (up to 2 s) for the other
    enrolment to reach its search too: without an order between the checks they meet and both
    miss; with it the second one searches only after the first has committed, and flags it."""
    svc, _, _ = register
    rng = np.random.default_rng(34)
    face = unit(rng, 1)[0]
    copies = [near(face, 0.9, rng), near(face, 0.9, rng)]  # two photos of one face, ~0.81 apart
    index = register_index.index_for(svc)
    with svc.db.transaction() as s:  # opened and ready first: creating pgvector's HNSW index
        index.search(s, face, 1, exclude_person=-1)  # locks its table, which would order them too
    meeting = threading.Barrier(2)
    search = type(index).search

    def search_together(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        # The other enrolment cannot get here before this one commits: then go on alone.
        with contextlib.suppress(threading.BrokenBarrierError):
            meeting.wait(timeout=2.0)
        return search(self, *args, **kwargs)

    monkeypatch.setattr(type(index), "search", search_together)
    flagged: list[Review | None] = []
    failed: list[BaseException] = []

    def enrol_copy(template: np.ndarray) -> None:
        try:
            with svc.db.transaction() as s:
                person = s.get(Person, add_person(svc, s, template))
                mine = select(FaceReference).where(FaceReference.person_id == person.id)
                ref = s.execute(mine).scalar_one()
                flagged.append(duplicates.flag(svc, s, person, ref, template, "test"))
        except BaseException as exc:  # pragma: no cover - reported below
            failed.append(exc)

    workers = [threading.Thread(target=enrol_copy, args=(c,)) for c in copies]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert not failed and len(flagged) == 2
    [review] = [r for r in flagged if r is not None]  # exactly one: the later check saw the first
    assert review.detail["other_score"] == pytest.approx(float(copies[0] @ copies[1]), abs=0.01)


def test_a_household_members_face_is_flagged_at_the_1to1_threshold(register) -> None:  # type: ignore[no-untyped-def]
    """At enrolment too, the household (persons on the same phone number) is searched at the
    1:1 threshold: a photo at 0.548 to a household member's (above 1:1 0.5425, below the
    register floor 0.55) opens a review with scope same_household; on another number none."""
    svc, _, _ = register
    rng = np.random.default_rng(77)
    face = unit(rng, 1)[0]
    copies = [near(face, 0.548, rng) for _ in range(2)]  # ~0.3 to each other

    def enrolled(template: np.ndarray, phone: str) -> tuple[int, Review | None]:
        with svc.db.transaction() as s:
            person = s.get(Person, add_person(svc, s, template))
            assert person is not None
            person.phone = phone
            mine = select(FaceReference).where(FaceReference.person_id == person.id)
            return person.id, duplicates.flag(svc, s, person, s.execute(mine).scalar_one(), template, "test")

    first, none = enrolled(face, "13688880000")
    assert none is None
    _, elsewhere = enrolled(copies[0], "13688880001")
    assert elsewhere is None  # the register scope alone: below its threshold
    _, review = enrolled(copies[1], "13688880000")
    assert review is not None and review.detail["scope"] == "same_household"
    assert review.detail["other_person_id"] == first and review.detail["threshold"] == 0.5425
