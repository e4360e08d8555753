"""The service end to end over HTTP, on SQLite and on a real PostgreSQL server.

Clips and photos are real (../shared/data). The person is enrolled with a still frame from
the same footage as the clip they later submit: an end-to-end test of the chain, not an
accuracy claim (accuracy is measured on LFW by `lifecert bench`).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from dateutil.relativedelta import relativedelta
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from api.certification.settings import load_settings
from api.certification.storage.schema import (
    Attempt,
    AuditEntry,
    Certification,
    ChallengeSession,
    PaymentEvent,
    Person,
)
from api.demo import ensure_client
from api.http.app import create_app
from liveness import attacks
from liveness.challenge import ChallengeFactory, FixedWindowChallenges
from liveness.tracking import track_face
from liveness.video import Clip, read_video, write_mp4
from matcher import FaceMatcher
from tests import postgres
from tests.conftest import DATA, random_id_number

pytestmark = pytest.mark.needs_data
TALKING = DATA / "videos/talking"
# Hand-labelled blinks (tests/data/blink_labels.csv): d0 at frames 64-67 of 78, d18 at
# 94-97 and 185-187 of 216, d12 at 48-50 and 134-137 of 183.
CLIPS = {"d0": 3.0, "d18": 7.0, "d12": 7.0}
PHOTOS = DATA / "faces/deepface"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, matcher: FaceMatcher
) -> Iterator[TestClient]:
    home = tmp_path_factory.mktemp(f"home-{request.param}")
    import os

    previous = os.environ.get("LIFECERT_HOME")
    os.environ["LIFECERT_HOME"] = str(home)
    try:
        if request.param == "postgresql":
            reason = postgres.available()
            if reason:
                pytest.skip(f"PostgreSQL tests skipped: {reason}")
            with postgres.temporary_server() as url:
                yield from _client(load_settings(database_url=url), matcher)
        else:
            yield from _client(load_settings(database_url=f"sqlite:///{home / 'test.db'}"), matcher)
    finally:
        if previous is None:
            os.environ.pop("LIFECERT_HOME", None)
        else:  # the user's own LIFECERT_HOME is theirs to keep
            os.environ["LIFECERT_HOME"] = previous


def _client(settings, matcher: FaceMatcher) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    # The register curve of LFW, not the default East-Asian one: the look-alike tests stand a
    # Western face (the d12 clip) under two names, whose pairs score where LFW's tail puts the
    # register threshold for a small register (tests/test_register_index.py tests the default).
    settings = replace(settings, rate_per_minute=10_000, max_video_bytes=5_000_000, register_curve="lfw")
    app = create_app(settings, matcher)
    service = app.state.service
    service.challenges = FixedWindowChallenges()  # real clips cannot follow random digits
    keys = {role: ensure_client(service, f"test-{role}", role) for role in ("kiosk", "app", "staff", "admin")}
    with TestClient(app) as tc:
        tc.keys = keys  # type: ignore[attr-defined]
        tc.service = service  # type: ignore[attr-defined]
        yield tc
    app.state.db.engine.dispose()


def h(tc: TestClient, role: str) -> dict[str, str]:
    return {"X-API-Key": tc.keys[role]}  # type: ignore[attr-defined]


def new_id() -> str:
    return random_id_number()


def jpeg(image) -> bytes:  # type: ignore[no-untyped-def]
    return cv2.imencode(".jpg", image)[1].tobytes()


def recent_start() -> str:
    # Benefits began half a year ago: a first certification is due, with no 24-month review.
    return (date.today() - timedelta(days=180)).isoformat()


def enrol(
    tc: TestClient,
    name: str,
    photo: bytes,
    category: str = "retiree",
    start: str | None = None,
    phone: str | None = None,
) -> tuple[str, int]:
    """A person imported and enrolled with ``photo``; a phone number of their own unless
    ``phone`` is given (persons sharing one are a household to the look-alike screening)."""
    idn = new_id()
    begun = start or recent_start()
    phone = phone or f"139{secrets.randbelow(10**8):08d}"
    csv_text = f"id_number,name,category,benefit_start,phone\n{idn},{name},{category},{begun},{phone}\n"
    r = tc.post("/v1/persons/import", headers=h(tc, "staff"), files={"file": ("p.csv", csv_text)})
    assert r.status_code == 200 and r.json()["imported"] == 1, r.text
    person_id = tc.post("/v1/persons/search", headers=h(tc, "staff"), json={"q": idn}).json()[0]["person_id"]
    r = tc.post(
        f"/v1/persons/{person_id}/id-photo", headers=h(tc, "staff"), files={"photo": ("id.jpg", photo)}
    )
    assert r.status_code == 200, r.text
    return idn, person_id


def clip(name: str) -> bytes:
    return (TALKING / f"liveportrait_driving_{name}.mp4").read_bytes()


def frame_of(name: str, index: int = 5) -> bytes:
    """A frame from the start of the footage; the clip's best frame comes from elsewhere in it."""
    return jpeg(read_video(TALKING / f"liveportrait_driving_{name}.mp4", with_audio=False).frames[index])


def photo(name: str) -> bytes:
    return (PHOTOS / name).read_bytes()


def certifications(tc: TestClient, *persons: int) -> int:
    with tc.service.db.transaction() as s:  # type: ignore[attr-defined]
        counted = select(func.count(Certification.id)).where(Certification.person_id.in_(persons))
        return int(s.execute(counted).scalar_one())


def submit(tc: TestClient, sid: str, data: bytes, role: str = "kiosk", window: float = 3.0):  # type: ignore[no-untyped-def]
    return tc.post(
        f"/v1/sessions/{sid}/response", headers=h(tc, role), files={"video": ("clip.mp4", data, "video/mp4")}
    )


def start(tc: TestClient, idn: str, name: str, role: str = "kiosk", channel: str = "kiosk", **extra: object):  # type: ignore[no-untyped-def]
    return tc.post(
        "/v1/sessions",
        headers=h(tc, role),
        json={"id_number": idn, "name": name, "channel": channel, "consent": True, **extra},
    )


def test_every_endpoint_needs_a_key_and_the_right_role(client: TestClient) -> None:
    r = client.post("/v1/lookup", json={"id_number": new_id(), "name": "x"})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "unauthenticated" and r.json()["message_zh"]
    assert client.get("/v1/lists/overdue", headers=h(client, "kiosk")).status_code == 403
    assert client.get("/v1/audit", headers=h(client, "staff")).status_code == 403
    assert client.get("/v1/lists/overdue", headers={"X-API-Key": "lc_forged"}).status_code == 401
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["calibration"]["threshold"] == client.service.matcher.threshold  # type: ignore[attr-defined]
    assert health["calibration"]["source"]  # which calibration decides matches
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/sessions/{session_id}/response" in paths
    # Every /v1 operation: no key -> 401; a kiosk key on a back-office (staff-tagged) one -> 403.
    fill = {"person_id": "1", "session_id": "x", "month": "2026-01", "which": "overdue", "review_id": "1"}
    fill["proxy_id"] = "1"
    checked = 0
    for path, operations in paths.items():
        if not path.startswith("/v1/"):
            continue
        url = path.format(**fill)
        for method, op in operations.items():
            assert client.request(method, url).status_code == 401, (method, path)
            if "staff" in op.get("tags", []):
                assert client.request(method, url, headers=h(client, "kiosk")).status_code == 403, (
                    method,
                    path,
                )
            checked += 1
    assert checked >= 20  # 21 operations when this was written


def test_csv_import_reports_bad_rows_and_imports_the_good_ones(client: TestClient) -> None:
    good = new_id()
    text = (
        "id_number,name,category,benefit_start,phone\n"
        f"{good},孙大爷,retiree,2016-01-01,13900000001\n"
        "12345,短号,retiree,2016-01-01,\n"
        f"{new_id()},未知类别,pensioner,2016-01-01,\n"
        f"{new_id()},坏日期,retiree,2016-13-01,\n"
        f"{good},重复,retiree,2016-01-01,\n"
    )
    r = client.post("/v1/persons/import", headers=h(client, "staff"), files={"file": ("p.csv", text)})
    body = r.json()
    assert body["imported"] == 1
    assert [e["line"] for e in body["errors"]] == [3, 4, 5, 6]
    bad = client.post(
        "/v1/persons/import", headers=h(client, "staff"), files={"file": ("p.csv", "a,b\n1,2\n")}
    )
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"


def test_id_photo_is_quality_gated(client: TestClient) -> None:
    idn = new_id()
    client.post(
        "/v1/persons/import",
        headers=h(client, "staff"),
        files={"file": ("p.csv", f"id_number,name,category,benefit_start\n{idn},周,retiree,2016-01-01\n")},
    )
    pid = client.post("/v1/persons/search", headers=h(client, "staff"), json={"q": idn}).json()[0][
        "person_id"
    ]
    a, b = (
        cv2.imread(str(DATA / "faces/deepface/img1.jpg")),
        cv2.imread(str(DATA / "faces/deepface/img3.jpg")),
    )
    two = cv2.hconcat([cv2.resize(a, (500, 676)), cv2.resize(b, (500, 676))])
    r = client.post(
        f"/v1/persons/{pid}/id-photo", headers=h(client, "staff"), files={"photo": ("x.jpg", jpeg(two))}
    )
    assert r.status_code == 422 and r.json()["code"] == "several_faces"
    r = client.post(
        f"/v1/persons/{pid}/id-photo", headers=h(client, "staff"), files={"photo": ("x.jpg", b"GIF89a")}
    )
    assert r.status_code == 422 and r.json()["code"] == "not_an_image"


def test_self_certification_passes_once_and_sets_due_and_payment(client: TestClient) -> None:
    clip_bytes = clip("d0")
    client.service.challenges.window_s = CLIPS["d0"]  # type: ignore[attr-defined]
    idn, pid = enrol(client, "钱老师", frame_of("d0"))
    r = start(client, idn, "钱老师")
    assert r.status_code == 200, r.text
    session_id = r.json()["session_id"]
    r = client.post(
        f"/v1/sessions/{session_id}/response",
        headers=h(client, "kiosk"),
        files={"video": ("clip.mp4", clip_bytes, "video/mp4")},
    )
    body = r.json()
    assert r.status_code == 200 and body["outcome"] == "passed", body
    today = date.today()
    assert date.fromisoformat(body["next_due"]) >= today + timedelta(days=360)
    assert date.fromisoformat(body["payment_date"]) >= today
    again = client.post(
        f"/v1/sessions/{session_id}/response",
        headers=h(client, "kiosk"),
        files={"video": ("clip.mp4", clip_bytes, "video/mp4")},
    )
    assert again.status_code == 409 and again.json()["code"] == "session_used"
    assert certifications(client, pid) == 1
    history = client.get(f"/v1/persons/{pid}", headers=h(client, "staff")).json()
    assert history["certifications"][0]["channel"] == "kiosk"
    with client.service.db.transaction() as s:  # type: ignore[attr-defined]
        evidence = s.execute(select(Attempt.evidence).where(Attempt.person_id == pid)).scalar_one()
    assert evidence["reference"]["kind"] == "id_photo" and evidence["reference"]["age_years"] == 0.0
    assert evidence["threshold"] == client.service.matcher.threshold  # type: ignore[attr-defined]
    assert {r["source"] for r in history["references"]} == {"id_photo", "live_capture"}


def test_photo_held_up_fails_with_a_reason_and_no_certification(client: TestClient, tmp_path: Path) -> None:
    client.service.challenges.window_s = 3.0  # type: ignore[attr-defined]
    idn, pid = enrol(client, "吴阿姨", photo("img15.jpg"))
    still = attacks.photo_video(cv2.imread(str(PHOTOS / "img15.jpg")), 3.0, moving=True)
    path = tmp_path / "still.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, still.frames[0].shape[1::-1])
    for f in still.frames:
        writer.write(f)
    writer.release()
    session_id = start(client, idn, "吴阿姨").json()["session_id"]
    r = client.post(
        f"/v1/sessions/{session_id}/response",
        headers=h(client, "kiosk"),
        files={"video": ("still.mp4", path.read_bytes(), "video/mp4")},
    )
    body = r.json()
    assert body["outcome"] == "failed"
    codes = {reason["code"] for reason in body["reasons"]}
    assert "no_live_motion" in codes and "blink_not_seen" in codes
    assert all(reason["zh"] for reason in body["reasons"])
    assert certifications(client, pid) == 0


def test_preview_advises_on_a_frame_and_refuses_a_file_that_is_no_image(client: TestClient) -> None:
    frame = frame_of("d18")  # a camera frame, the size the page sends
    advice = client.post("/v1/preview", headers=h(client, "kiosk"), files={"frame": ("f.jpg", frame)})
    assert advice.status_code == 200 and advice.json()["code"], advice.text
    for junk in (b"true", b"", b"%PDF-1.4 not a photo"):
        r = client.post("/v1/preview", headers=h(client, "kiosk"), files={"frame": ("f.jpg", junk)})
        assert r.status_code == 422, (junk, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] in ("not_an_image", "file_empty") and r.json()["message_zh"]


def test_uploads_are_checked_by_bytes_and_size(client: TestClient) -> None:
    idn, _ = enrol(client, "郑先生", photo("img18.jpg"))
    sid = start(client, idn, "郑先生").json()["session_id"]
    r = client.post(
        f"/v1/sessions/{sid}/response",
        headers=h(client, "kiosk"),
        files={"video": ("clip.mp4", b"this is not a video at all", "video/mp4")},
    )
    assert r.status_code == 415 and r.json()["code"] == "bad_upload"
    big = b"\x00\x00\x00\x18ftypmp42" + b"0" * 5_000_100
    r = client.post(
        f"/v1/sessions/{sid}/response", headers=h(client, "kiosk"), files={"video": ("c.mp4", big)}
    )
    assert r.status_code == 413


def test_expired_session_is_refused(client: TestClient) -> None:
    clip_bytes = clip("d0")
    idn, _ = enrol(client, "冯奶奶", photo("img20.jpg"))
    sid = start(client, idn, "冯奶奶").json()["session_id"]
    with client.service.db.transaction() as s:  # type: ignore[attr-defined]
        s.execute(
            update(ChallengeSession)
            .where(ChallengeSession.id == sid)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    r = client.post(
        f"/v1/sessions/{sid}/response",
        headers=h(client, "kiosk"),
        files={"video": ("clip.mp4", clip_bytes, "video/mp4")},
    )
    assert r.status_code == 410 and r.json()["code"] == "session_expired"


def test_proxy_certifies_a_linked_person_with_the_persons_face(client: TestClient) -> None:
    clip_bytes = clip("d18")
    client.service.challenges.window_s = CLIPS["d18"]  # type: ignore[attr-defined]
    idn, pid = enrol(client, "陈爷爷", frame_of("d18"))
    proxy = client.post(
        "/v1/proxies",
        headers=h(client, "app"),
        json={"id_number": new_id(), "name": "陈小明", "phone": "13700000000"},
    ).json()["proxy_id"]
    other = client.post(
        "/v1/proxies",
        headers=h(client, "app"),
        json={"id_number": new_id(), "name": "路人", "phone": "13700000001"},
    ).json()["proxy_id"]
    assert start(client, idn, "陈爷爷", role="app", channel="phone", proxy_id=other).status_code == 403
    r = client.post(
        f"/v1/proxies/{proxy}/persons",
        headers=h(client, "app"),
        json={"id_number": idn, "name": "陈爷爷", "relationship": "son", "consent": True},
    )
    assert r.status_code == 200
    sid = start(client, idn, "陈爷爷", role="app", channel="phone", proxy_id=proxy).json()["session_id"]
    body = client.post(
        f"/v1/sessions/{sid}/response",
        headers=h(client, "app"),
        files={"video": ("clip.mp4", clip_bytes, "video/mp4")},
    ).json()
    assert body["outcome"] == "passed", body
    with client.service.db.transaction() as s:  # type: ignore[attr-defined]
        cert = s.execute(select(Certification).where(Certification.person_id == pid)).scalar_one()
        assert cert.proxy_id == proxy and cert.channel == "phone"


def test_deceased_person_is_refused_and_flagged(client: TestClient) -> None:
    idn, pid = enrol(client, "褚先生", photo("img22.jpg"))
    r = client.post(
        "/v1/deaths/import",
        headers=h(client, "staff"),
        files={"file": ("d.csv", f"id_number,died_on,source\n{idn},2025-01-02,hospital\n")},
    )
    assert r.json()["recorded"] == 1
    r = start(client, idn, "褚先生")
    assert r.status_code == 409 and r.json()["code"] == "person_deceased"
    reviews = client.get("/v1/reviews", headers=h(client, "staff")).json()
    assert any(rv["person_id"] == pid and rv["kind"] == "deceased_attempt" for rv in reviews)


def test_remote_assisted_form_is_approved_by_staff(client: TestClient) -> None:
    _, pid = enrol(client, "卫女士", photo("img24.jpg"))
    fake = client.post(
        f"/v1/persons/{pid}/remote-form",
        headers=h(client, "staff"),
        files={"scan": ("form.pdf", b"%PDF-1.4 scanned form")},
    )
    assert fake.status_code == 415 and fake.json()["code"] == "bad_upload"
    scan = scanned_form()
    r = client.post(
        f"/v1/persons/{pid}/remote-form",
        headers=h(client, "staff"),
        files={"scan": ("form.pdf", scan)},
        data={"note": "agency in Hainan"},
    )
    review_id = r.json()["review_id"]
    own = client.post(f"/v1/reviews/{review_id}/decision", headers=h(client, "staff"), json={"approve": True})
    assert own.status_code == 403 and own.json()["code"] == "four_eyes"  # not the uploader
    second = {"X-API-Key": ensure_client(client.service, f"test-staff-{secrets.token_hex(4)}", "staff")}  # type: ignore[attr-defined]
    opened = client.get(f"/v1/reviews/{review_id}/scan", headers=second)
    assert opened.status_code == 200 and opened.content == scan
    assert opened.headers["content-type"] == "application/pdf"
    r = client.post(f"/v1/reviews/{review_id}/decision", headers=second, json={"approve": True})
    assert r.json()["status"] == "approved" and r.json()["certification_id"]
    again = client.post(f"/v1/reviews/{review_id}/decision", headers=second, json={"approve": True})
    assert again.status_code == 409


def scanned_form() -> bytes:
    """A real one-page PDF, as a scanner writes one (matplotlib's PDF backend)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.27, 11.69))
    fig.text(0.1, 0.9, "Remote certification form / assisted certification", fontsize=14)
    buf = io.BytesIO()
    fig.savefig(buf, format="pdf")
    return buf.getvalue()


def test_status_lists_and_csv_export(client: TestClient) -> None:
    idn = new_id()
    client.post(
        "/v1/persons/import",
        headers=h(client, "staff"),
        files={
            "file": (
                "p.csv",
                f"id_number,name,category,benefit_start,phone\n{idn},蒋,retiree,2015-01-01,13911112222\n",
            )
        },
    )
    overdue = client.get("/v1/lists/overdue", headers=h(client, "staff")).json()
    assert any(row["name"] == "蒋" and row["status"] in ("suspended", "needs_review") for row in overdue)
    csv_text = client.get("/v1/lists/overdue", headers=h(client, "staff"), params={"format": "csv"}).text
    assert csv_text.splitlines()[0].startswith("person_id,name,phone") and "13911112222" in csv_text
    soon = client.get("/v1/lists/due-soon", headers=h(client, "staff"), params={"on": "2016-01-20"}).json()
    assert any(row["name"] == "蒋" for row in soon)


def test_audit_chain_is_intact_and_holds_no_id_numbers(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    idn = new_id()
    client.post(
        "/v1/persons/import",
        headers=h(client, "staff"),
        files={"file": ("p.csv", f"id_number,name,category,benefit_start\n{idn},沈,retiree,2015-01-01\n")},
    )
    client.post("/v1/lookup", headers=h(client, "kiosk"), json={"id_number": idn, "name": "沈"})
    body = client.get("/v1/audit", headers=h(client, "admin")).json()
    assert body["chain_intact"] is True and body["entries"]
    assert idn not in str(body) and idn not in caplog.text
    with client.service.db.transaction() as s:  # type: ignore[attr-defined]
        person = s.execute(select(Person).where(Person.name == "沈")).scalar_one()
        assert idn not in person.id_encrypted and idn != person.id_hash
        assert s.execute(select(func.count(AuditEntry.id))).scalar() >= 2


def test_failed_import_leaves_nothing_half_written(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.certification import audit

    idn = new_id()

    def broken_append(*_a: object, **_k: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit, "append", broken_append)
    with pytest.raises(RuntimeError):
        client.post(
            "/v1/persons/import",
            headers=h(client, "staff"),
            files={
                "file": ("p.csv", f"id_number,name,category,benefit_start\n{idn},韩,retiree,2015-01-01\n")
            },
        )
    monkeypatch.undo()
    assert client.post("/v1/persons/search", headers=h(client, "staff"), json={"q": idn}).json() == []


def test_a_face_that_matches_another_persons_photo_goes_to_review(client: TestClient) -> None:
    """Impersonation: the live face matches someone else on the register as well as its own."""
    client.service.challenges.window_s = CLIPS["d12"]  # type: ignore[attr-defined]
    # The other person's photo is the frame nearer the clip's best one: it scores ~0.61 against
    # the 0.55 register threshold (frame 5 scored 0.557 before issue 13's tracking, 0.545 after).
    enrol(client, "楚甲", frame_of("d12", 20))
    idn, pid = enrol(client, "楚乙", frame_of("d12", 5))
    sid = start(client, idn, "楚乙").json()["session_id"]
    body = submit(client, sid, clip("d12")).json()
    assert body["outcome"] == "review", body
    assert any(r["code"] == "needs_staff_review" for r in body["reasons"])
    reviews = client.get("/v1/reviews", headers=h(client, "staff")).json()
    # Both are ID photos of one face, so 楚乙's enrolment also opened a duplicate_reference
    # review (tests/test_duplicates.py); the certification's own review is the one decided here.
    review = next(r for r in reviews if r["person_id"] == pid and r["kind"] != "duplicate_reference")
    assert review["kind"] == "possible_impersonation" and review["detail"]["scope"] == "register"
    assert certifications(client, pid) == 0
    approved = client.post(
        f"/v1/reviews/{review['id']}/decision",
        headers=h(client, "staff"),
        json={"approve": True, "note": "twins; checked ID at the counter"},
    ).json()
    assert approved["certification_id"]


def test_a_cutout_photo_that_passes_every_check_goes_to_staff_not_to_a_certificate(
    client: TestClient, tmp_path: Path
) -> None:
    """抠洞照片: lbbc2a's still, enrolled as the ID photo, with bbaf2n's real eyes and mouth
    behind the holes reading a sentence (GRID). It passes every deciding check and matches the
    ID photo; only the chin standing still while the mouth reads (jaw_motion) gives it away,
    so the attempt goes to staff, and staff decide."""
    matcher = client.service.matcher  # type: ignore[attr-defined]
    reader = read_video(DATA / "videos/grid/bbaf2n.mpg")
    other = read_video(DATA / "videos/grid/lbbc2a.mpg", with_audio=False)
    still = other.frames[len(other.frames) // 2]
    still_shape = track_face(matcher, Clip([still], np.zeros(1))).frames[0].shape
    shapes = [f.shape for f in track_face(matcher, reader).frames]
    attack = attacks.cutout_photo(still, still_shape, reader, shapes, moving=False)
    path = write_mp4(tmp_path / "cutout.mp4", attack.frames, attack.fps, audio=attack.audio)
    client.service.challenges = FixedWindowChallenges(  # type: ignore[attr-defined]
        window_s=attack.duration_s, blinks=0, digits="481639", language="en"
    )
    try:
        idn, pid = enrol(client, "抠洞", jpeg(other.frames[0]))
        sid = start(client, idn, "抠洞").json()["session_id"]
        body = submit(client, sid, path.read_bytes()).json()
    finally:
        client.service.challenges = FixedWindowChallenges()  # type: ignore[attr-defined]
    assert body["outcome"] == "review", body
    assert [r["code"] for r in body["reasons"]] == ["jaw_not_moving", "needs_staff_review"]
    assert body["match_score"] is None and body["certification_id"] is None  # a kiosk never sees a score
    reviews = client.get("/v1/reviews", headers=h(client, "staff")).json()
    review = next(r for r in reviews if r["person_id"] == pid)
    assert review["kind"] == "possible_presentation_attack"
    assert review["detail"]["reasons"] == ["jaw_not_moving"]
    assert review["detail"]["checks"]["jaw_motion"]["jaw_coupling"] < 0.4
    assert certifications(client, pid) == 0
    refused = client.post(
        f"/v1/reviews/{review['id']}/decision",
        headers=h(client, "staff"),
        json={"approve": False, "note": "paper edges around the mouth in the recording"},
    ).json()
    assert refused.get("certification_id") is None
    assert certifications(client, pid) == 0


def test_a_clerk_registers_a_helper_at_the_counter_and_opens_a_proxy_session(client: TestClient) -> None:
    idn, pid = enrol(client, "钱奶奶", photo("img26.jpg"))
    proxy = client.post(
        "/v1/proxies",
        headers=h(client, "staff"),
        json={"id_number": new_id(), "name": "钱小红", "phone": "13700000002"},
    )
    assert proxy.status_code == 200, proxy.text
    proxy_id = proxy.json()["proxy_id"]
    linked = client.post(
        f"/v1/proxies/{proxy_id}/persons",
        headers=h(client, "staff"),
        json={"id_number": idn, "name": "钱奶奶", "relationship": "daughter", "consent": True},
    )
    assert linked.status_code == 200, linked.text
    r = start(client, idn, "钱奶奶", role="staff", channel="counter", proxy_id=proxy_id)
    assert r.status_code == 200, r.text
    with client.service.db.transaction() as s:  # type: ignore[attr-defined]
        cs = s.get(ChallengeSession, r.json()["session_id"])
        assert cs is not None and cs.mode == "proxy" and cs.proxy_id == proxy_id and cs.person_id == pid


def test_a_session_reads_the_digits_in_the_language_asked_for(client: TestClient) -> None:
    idn, _ = enrol(client, "Lee", photo("img26.jpg"))
    service = client.service  # type: ignore[attr-defined]
    fixed, service.challenges = service.challenges, ChallengeFactory()
    try:
        r = start(client, idn, "Lee", language="en")
        assert r.status_code == 200, r.text
        assert r.json()["language"] == "en" and r.json()["digits"].isdigit()
        with service.db.transaction() as s:
            assert s.get(ChallengeSession, r.json()["session_id"]).challenge["language"] == "en"
        assert start(client, idn, "Lee").json()["language"] == "zh"  # the default: Mandarin
        refused = start(client, idn, "Lee", language="fr")
        assert refused.status_code == 422 and refused.json()["code"]
    finally:
        service.challenges = fixed


def test_counter_certification_is_staff_only(client: TestClient) -> None:
    idn, _ = enrol(client, "秦", photo("img26.jpg"))
    r = start(client, idn, "秦", role="kiosk", channel="counter")
    assert r.status_code == 403
    assert start(client, idn, "秦", role="staff", channel="counter").status_code == 200


def test_data_comparison_counts_where_the_policy_allows(client: TestClient) -> None:
    idn, ida = new_id(), new_id()
    text = (
        "id_number,name,category,benefit_start,policy\n"
        f"{idn},数据甲,retiree,{recent_start()},national-default\n"
        f"{ida},数据乙,retiree,{recent_start()},arxan-2023\n"
    )
    client.post("/v1/persons/import", headers=h(client, "staff"), files={"file": ("p.csv", text)})
    seen = (date.today() - timedelta(days=3)).isoformat()
    records = (
        f"id_number,seen_on,source\n{idn},{seen},hospital settlement\n{ida},{seen},hospital settlement\n"
    )
    r = client.post(
        "/v1/alive-records/import", headers=h(client, "staff"), files={"file": ("a.csv", records)}
    )
    body = r.json()
    assert body["certified"] == 1
    assert body["errors"] == [{"line": 3, "error": "policy arxan-2023 does not accept data comparison"}]


def test_staff_fix_a_wrong_phone_number(client: TestClient) -> None:
    idn = new_id()
    client.post(
        "/v1/persons/import",
        headers=h(client, "staff"),
        files={
            "file": (
                "p.csv",
                f"id_number,name,category,benefit_start,phone\n{idn},电话,retiree,2016-01-01,13000000000\n",
            )
        },
    )
    pid = client.post("/v1/persons/search", headers=h(client, "staff"), json={"q": idn}).json()[0][
        "person_id"
    ]
    assert (
        client.patch(
            f"/v1/persons/{pid}/phone", headers=h(client, "staff"), json={"phone": "abc"}
        ).status_code
        == 422
    )
    assert client.patch(
        f"/v1/persons/{pid}/phone", headers=h(client, "staff"), json={"phone": "13122223333"}
    ).json()
    assert client.get(f"/v1/persons/{pid}", headers=h(client, "staff")).json()["phone"] == "13122223333"
    assert (
        client.patch(
            f"/v1/persons/{pid}/phone", headers=h(client, "kiosk"), json={"phone": "13122223333"}
        ).status_code
        == 403
    )


def test_each_client_is_rate_limited(
    tmp_path: Path, matcher: FaceMatcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIFECERT_HOME", str(tmp_path))
    settings = replace(load_settings(database_url=f"sqlite:///{tmp_path / 'r.db'}"), rate_per_minute=3)
    app = create_app(settings, matcher)
    kiosk = ensure_client(app.state.service, "kiosk-1", "kiosk")
    other = ensure_client(app.state.service, "kiosk-2", "kiosk")
    body = {"id_number": new_id(), "name": "x"}
    with TestClient(app) as tc:
        codes = [tc.post("/v1/lookup", headers={"X-API-Key": kiosk}, json=body).status_code for _ in range(4)]
        assert codes == [404, 404, 404, 429]
        assert tc.post("/v1/lookup", headers={"X-API-Key": other}, json=body).status_code == 404
    app.state.db.engine.dispose()


def test_no_more_clips_are_judged_at_once_than_allowed(
    tmp_path: Path, matcher: FaceMatcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each judgement holds a clip's frames in memory: a burst of uploads must queue."""
    import threading
    from types import SimpleNamespace

    monkeypatch.setenv("LIFECERT_HOME", str(tmp_path))
    settings = replace(load_settings(database_url=f"sqlite:///{tmp_path / 'j.db'}"), max_parallel_analyses=2)
    service = create_app(settings, matcher).state.service
    lock, two_running, release = threading.Lock(), threading.Event(), threading.Event()
    running, peak = 0, 0

    def judging(*_args: object) -> dict[str, object]:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            if running == 2:
                two_running.set()
        release.wait(timeout=10)  # every judgement that got in holds its slot
        with lock:
            running -= 1
        return {}

    monkeypatch.setattr(service, "_judge", judging)
    session = SimpleNamespace(challenge=service.challenges.issue(blinks=1).to_dict())
    threads = [threading.Thread(target=service.judge, args=(session, b"", [])) for _ in range(6)]
    for t in threads:
        t.start()
    assert two_running.wait(timeout=10)
    for t in threads:
        t.join(timeout=0.2)  # time for the other four to get in, were they let in
    release.set()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert peak == 2


def test_register_screening_threshold_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIFECERT_HOME", str(tmp_path))
    assert load_settings().register_match_threshold == 0.55
    monkeypatch.setenv("LIFECERT_REGISTER_MATCH_THRESHOLD", "0.58")
    assert load_settings().register_match_threshold == 0.58
    for bad in ("1.5", "0", "high"):
        monkeypatch.setenv("LIFECERT_REGISTER_MATCH_THRESHOLD", bad)
        with pytest.raises(ValueError, match="LIFECERT_REGISTER_MATCH_THRESHOLD must be a score"):
            load_settings()


def test_payment_run_withholds_overdue_months_and_certifying_pays_them_back(client: TestClient) -> None:
    idn = new_id()
    begun = (date.today() - relativedelta(months=16)).replace(day=1)  # first due passed ~4 months ago
    text = f"id_number,name,category,benefit_start\n{idn},钱大伯,retiree,{begun.isoformat()}\n"
    client.post("/v1/persons/import", headers=h(client, "staff"), files={"file": ("p.csv", text)})
    last = date.today().replace(day=1) - timedelta(days=1)
    month = last.strftime("%Y-%m")

    assert (
        client.post("/v1/payment-runs", headers=h(client, "staff"), json={"month": month}).status_code == 403
    )
    r = client.post("/v1/payment-runs", headers=h(client, "admin"), json={"month": month})
    assert r.status_code == 200, r.text
    assert r.json()["counts"]["suspended"] >= 1
    again = client.post("/v1/payment-runs", headers=h(client, "admin"), json={"month": month})
    assert again.status_code == 409 and again.json()["code"] == "payment_run_done"
    ahead = (date.today() + relativedelta(months=1)).strftime("%Y-%m")
    early = client.post("/v1/payment-runs", headers=h(client, "admin"), json={"month": ahead})
    assert early.status_code == 409 and early.json()["code"] == "payment_run_not_due"
    bad = client.post("/v1/payment-runs", headers=h(client, "admin"), json={"month": "2026-13"})
    assert bad.status_code == 422

    listed = client.get(f"/v1/payment-runs/{month}", headers=h(client, "staff")).json()
    assert {"name": "钱大伯", "category": "retiree", "withheld": "suspended"}.items() <= next(
        row for row in listed["withheld"] if row["name"] == "钱大伯"
    ).items()
    csv_text = client.get(
        f"/v1/payment-runs/{month}", headers=h(client, "staff"), params={"format": "csv"}
    ).text
    assert csv_text.splitlines()[0] == "person_id,name,category,withheld" and "钱大伯" in csv_text
    assert client.get("/v1/payment-runs/1999-01", headers=h(client, "staff")).status_code == 404

    # The person turns up (a trusted alive record today): the withheld month is paid back.
    records = f"id_number,seen_on,source\n{idn},{date.today().isoformat()},hospital settlement\n"
    client.post("/v1/alive-records/import", headers=h(client, "staff"), files={"file": ("a.csv", records)})
    with client.service.db.transaction() as s:  # type: ignore[attr-defined]
        pid = s.execute(select(Person.id).where(Person.name == "钱大伯")).scalar_one()
        events = s.execute(select(PaymentEvent).where(PaymentEvent.person_id == pid)).scalars().all()
        kinds = sorted(e.kind for e in events)
        restored = next(e for e in events if e.kind == "restored")
        assert kinds == ["restored", "suspended"]
        assert [last.year, last.month] in restored.back_paid_months


def test_a_live_face_that_is_not_the_persons_fails_as_a_mismatch(client: TestClient) -> None:
    """Liveness passes (a real person is there), but it is someone else: failed, and says so."""
    client.service.challenges.window_s = CLIPS["d0"]  # type: ignore[attr-defined]
    idn, pid = enrol(client, "孙某", photo("img15.jpg"))
    body = submit(client, start(client, idn, "孙某").json()["session_id"], clip("d0")).json()
    assert body["outcome"] == "failed", body
    assert [r["code"] for r in body["reasons"]] == ["face_mismatch"]
    with client.service.db.transaction() as s:  # type: ignore[attr-defined]
        certified = select(func.count(Certification.id)).where(Certification.person_id == pid)
        assert s.execute(certified).scalar() == 0


def test_a_passed_upload_after_24_months_waits_for_staff_review(
    tmp_path: Path, matcher: FaceMatcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 24-month proof rule: the face passes, but payments resume only after a review.
    A register of its own: elsewhere in this module the same face is enrolled for others."""
    monkeypatch.setenv("LIFECERT_HOME", str(tmp_path))
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'r.db'}")
    client = next(_client(settings, matcher))
    client.service.challenges.window_s = CLIPS["d0"]  # type: ignore[attr-defined]
    long_ago = (date.today() - relativedelta(months=30)).isoformat()
    idn, pid = enrol(client, "周老", frame_of("d0"), start=long_ago)
    body = submit(client, start(client, idn, "周老").json()["session_id"], clip("d0")).json()
    assert body["outcome"] == "review", body
    assert body["certification_id"] is None
    reviews = client.get("/v1/reviews", headers=h(client, "staff")).json()
    review = next(r for r in reviews if r["person_id"] == pid)
    assert review["kind"] == "24_month_rule"
    assert review["detail"]["months_since_certification"] >= 24


def test_too_many_failed_attempts_refuse_new_sessions_for_the_day(client: TestClient) -> None:
    idn, _pid = enrol(client, "郑", photo("img26.jpg"))
    unreadable = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 2000  # an MP4 header and nothing playable
    for _ in range(5):
        body = submit(client, start(client, idn, "郑").json()["session_id"], unreadable).json()
        assert body["outcome"] == "failed", body
    r = start(client, idn, "郑")
    assert r.status_code == 429 and r.json()["code"] == "too_many_attempts"
    assert r.json()["message_zh"]


def test_a_person_without_a_reference_photo_is_sent_to_the_counter(client: TestClient) -> None:
    idn = new_id()
    csv_text = f"id_number,name,category,benefit_start\n{idn},冯,retiree,{recent_start()}\n"
    files = {"file": ("p.csv", csv_text)}
    imported = client.post("/v1/persons/import", headers=h(client, "staff"), files=files)
    assert imported.json()["imported"] == 1
    r = start(client, idn, "冯")
    assert r.status_code == 409 and r.json()["code"] == "no_reference_photo"


def test_unknown_paths_and_methods_are_problems_too(client: TestClient) -> None:
    r = client.get("/v1/nothing-here", headers=h(client, "staff"))
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "not_found" and r.json()["message_zh"]
    r = client.delete("/v1/lookup", headers=h(client, "staff"))
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"
