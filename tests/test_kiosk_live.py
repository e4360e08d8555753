"""The kiosk page's live, guided capture in a real browser (Debian's Chromium, Playwright).

The fake camera loops the 3.1 s d0 clip, which blinks once per loop, and the service issues
blink-only challenges with a 6.5 s window (tests/test_kiosk_browser.py does the same for
the upload flow): whatever moment the service picks for the prompt, the looping clip blinks
inside the window, which is how a recorded clip can stand in for a person here. Everything
else is real: the page streams JPEG frames and the fake microphone over the WebSocket, the
service tracks, prompts, confirms, judges and records.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import pytest
from sqlalchemy import func, select

from api.certification.live import MIN_JUDGED_FPS, TOO_FEW_FRAMES, LiveSetup
from api.certification.storage.schema import Attempt, ChallengeSession, Person
from liveness.video import read_video
from matcher import FaceMatcher
from tests import test_kiosk_browser as kb

pytestmark = kb.pytestmark
playwright_api = kb.playwright_api


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, matcher: FaceMatcher) -> Iterator[kb.Server]:
    with kb.running_server(tmp_path_factory.mktemp("kiosk-live-home"), matcher) as srv:
        yield srv


@pytest.fixture(scope="module")
def camera(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return kb.to_y4m(
        read_video(kb.CLIP, with_audio=False).frames, tmp_path_factory.mktemp("cam") / "live.y4m"
    )


def enrol(server: kb.Server, name: str, frame: int) -> str:
    """A person whose ID photo is one frame of the camera's clip."""
    photo = cv2.imencode(".jpg", read_video(kb.CLIP, with_audio=False).frames[frame])[1].tobytes()
    return kb.enrol(server, name, photo)


def watch(page) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    """The live sockets the page opens and the uploads it makes, as they happen."""
    sockets: list[str] = []
    uploads: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.on("request", lambda r: uploads.append(r.url) if r.url.endswith("/response") else None)
    return sockets, uploads


def test_the_live_flow_prompts_confirms_and_certifies(server: kb.Server, camera: Path) -> None:
    """On a kiosk key the page captures live by default: no configuration is given here."""
    idn = enrol(server, "直播老人", 10)
    with playwright_api.sync_playwright() as pw:
        browser, page = kb.browser_page(pw, camera, {"width": 1080, "height": 1920}, live=None)
        sockets: list[str] = []
        page.on("websocket", lambda ws: sockets.append(ws.url))
        shown: list[str] = []
        page.expose_function("notePrompt", lambda text: shown.append(text))
        page.add_init_script(
            "new MutationObserver(() => { const p = document.querySelector('#prompt');"
            " if (p && p.textContent) window.notePrompt(p.textContent); })"
            ".observe(document, {subtree: true, childList: true, characterData: true});"
        )
        text = kb.run_flow(page, server, idn, "直播老人", "live-kiosk")
        timings = page.evaluate("window.lifecertTimings")
        browser.close()
    if TOO_FEW_FRAMES.zh in text:
        # The service, Chromium and its fake camera share this machine's cores. On a slow one
        # (session 10's VM: 2 of 4 suite runs, one beside other work) fewer than MIN_JUDGED_FPS
        # frames a second arrive, and the service asks to start again, as designed; that answer
        # has its own test below. The live path's speed is measured by benchmarks/load_live.py.
        pytest.skip(f"this machine kept fewer than {MIN_JUDGED_FPS:.0f} frames/s beside Chromium")
    assert "认证成功" in text, (text, kb.last_attempt(server))
    assert len(sockets) == 1 and sockets[0].endswith("/live"), sockets
    assert timings["live"] is True and timings["video_bytes"] > 0
    assert "请眨眼" in shown and "✓ 好的" in shown, shown  # the prompt, then the confirmation


def test_without_a_websocket_the_page_records_and_uploads_instead(server: kb.Server, camera: Path) -> None:
    """A reverse proxy that does not pass WebSocket upgrades: the socket closes before the
    service says anything, and the page goes on with the recorded upload at once."""
    idn = enrol(server, "回退老人", 12)
    with playwright_api.sync_playwright() as pw:
        browser, page = kb.browser_page(pw, camera, {"width": 1080, "height": 1920}, live=True)
        page.route_web_socket("**/live", lambda ws: ws.close())
        uploads: list[str] = []
        page.on("request", lambda r: uploads.append(r.url) if r.url.endswith("/response") else None)
        text = kb.run_flow(page, server, idn, "回退老人", "live-fallback")
        timings = page.evaluate("window.lifecertTimings")
        browser.close()
    # liveness and the match passed
    assert "认证成功" in text or "审核" in text, (text, kb.last_attempt(server))
    assert len(uploads) == 1 and "live" not in timings, timings


def test_a_phone_records_and_uploads_by_default(server: kb.Server, camera: Path) -> None:
    """On an app key (a phone, whose uplink nobody measured) the default is the recorded upload."""
    idn = enrol(server, "手机老人", 16)
    with playwright_api.sync_playwright() as pw:
        browser, page = kb.browser_page(pw, camera, {"width": 390, "height": 844}, live=None)
        sockets: list[str] = []
        page.on("websocket", lambda ws: sockets.append(ws.url))
        text = kb.run_flow(page, server, idn, "手机老人", "live-phone-default", key_role="app")
        timings = page.evaluate("window.lifecertTimings")
        browser.close()
    assert "认证成功" in text or "审核" in text, text
    assert sockets == [] and "live" not in timings, (sockets, timings)


def test_when_every_live_place_is_taken_the_page_uploads_this_time_only(
    server: kb.Server, camera: Path
) -> None:
    """The service's live places full (settings.live_captures): refused before anything is
    claimed, the page records and uploads the same person, and tries live again next time."""
    service = server.app.state.service  # type: ignore[attr-defined]
    idn = enrol(server, "满员老人", 18)
    next_idn = enrol(server, "下一位", 20)
    places = service._live_admission
    service._live_admission = threading.Semaphore(0)  # every place taken
    try:
        with playwright_api.sync_playwright() as pw:
            browser, page = kb.browser_page(pw, camera, {"width": 1080, "height": 1920}, live=None)
            sockets, uploads = watch(page)
            text = kb.run_flow(page, server, idn, "满员老人", "live-full")
            timings = page.evaluate("window.lifecertTimings")
            service._live_admission = places  # a place again; the next person, same page
            page.click("#result-done")
            page.wait_for_selector("#step-identify:not([hidden])")
            page.fill("#id-number", next_idn)
            page.fill("#name", "下一位")
            page.click("#identify-next")
            page.click("#consent-yes")
            page.click("#who-self")
            page.wait_for_function("() => document.querySelector('#feedback').textContent.length > 0")
            page.click("#capture-start")
            page.wait_for_selector("#step-result:not([hidden])", timeout=90_000)
            again = page.evaluate("window.lifecertTimings")
            again_text = page.inner_text("#step-result")
            browser.close()
    finally:
        service._live_admission = places
    assert "认证成功" in text or "审核" in text, text
    assert "live" not in timings, timings  # the full service: this capture was recorded and uploaded
    # The next capture went live again: a second socket, and no second upload.
    assert len(sockets) == 2 and len(uploads) == 1, (sockets, uploads, again_text)
    if TOO_FEW_FRAMES.zh in again_text:
        # A slow machine (CI's, 2 cores shared with Chromium) kept fewer than MIN_JUDGED_FPS
        # frames/s: the service asked to start again, which has its own test; the page did go
        # live, which is what this test is about. No verdict, so no new timings to read.
        return
    assert again.get("live") is True, (again, again_text, kb.last_attempt(server))


def test_after_too_few_frames_the_next_try_records_and_uploads(
    server: kb.Server, camera: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link that cannot carry the live frames (here: the service asks for more frames a
    second than any camera sends): the person is told to start again, not failed, and the
    retry on the same page records and uploads instead of meeting the same wall."""
    from api.certification import live

    monkeypatch.setattr(live, "MIN_JUDGED_FPS", 1000.0)
    idn = enrol(server, "慢网老人", 22)
    with playwright_api.sync_playwright() as pw:
        browser, page = kb.browser_page(pw, camera, {"width": 1080, "height": 1920}, live=None)
        sockets, uploads = watch(page)
        first = kb.run_flow(page, server, idn, "慢网老人", "live-too-few")
        assert "画面传输不够流畅" in first and uploads == [], first
        page.click("#result-again")
        page.wait_for_function("() => document.querySelector('#feedback').textContent.length > 0")
        page.click("#capture-start")
        page.wait_for_selector("#step-result:not([hidden])", timeout=90_000)
        again = page.inner_text("#step-result")
        browser.close()
    assert len(sockets) == 1 and len(uploads) == 1, (sockets, uploads)
    assert "认证成功" in again or "审核" in again, again


@dataclass
class Later:
    """Prompts only after a long pause: the test cancels while the person is still lining up."""

    def pause_s(self, challenge: object, action: str, now_s: float) -> float:
        return 25.0


def test_cancel_during_the_live_capture_records_nothing_and_releases_the_session(
    server: kb.Server, camera: Path
) -> None:
    service = server.app.state.service  # type: ignore[attr-defined]
    idn = enrol(server, "取消老人", 14)
    before = service.live
    service.live = LiveSetup(planner=Later())
    try:
        with playwright_api.sync_playwright() as pw:
            browser, page = kb.browser_page(pw, camera, {"width": 390, "height": 844}, live=True)
            page.goto(f"{server.url}/kiosk/#key={server.keys['kiosk']}")
            page.wait_for_selector("#step-identify:not([hidden])")
            page.fill("#id-number", idn)
            page.fill("#name", "取消老人")
            page.click("#identify-next")
            page.click("#consent-yes")
            page.click("#who-self")
            page.wait_for_function("() => document.querySelector('#feedback').textContent.length > 0")
            page.click("#capture-start")
            page.wait_for_function(
                "() => document.querySelector('#feedback').dataset.zh === '位置合适，请保持不动'"
            )
            page.click("#capture-cancel")
            page.wait_for_function("() => document.body.dataset.phase === 'ready'")
            assert page.is_visible("#capture-start")
            browser.close()
    finally:
        service.live = before
    for _ in range(50):  # the service handles the page's "stop" on its own time: wait for it
        with service.db.transaction() as s:
            person = s.execute(select(Person.id).where(Person.name == "取消老人")).scalar_one()
            cs = s.execute(select(ChallengeSession).where(ChallengeSession.person_id == person)).scalar_one()
            attempts = s.execute(
                select(func.count(Attempt.id)).where(Attempt.person_id == person)
            ).scalar_one()
        if cs.consumed_at is None:
            break
        time.sleep(0.1)
    assert cs.consumed_at is None and attempts == 0  # nothing was shown: released, nothing recorded
