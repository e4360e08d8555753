"""The kiosk page in a real browser (Debian's Chromium via Playwright), with a real video as
the camera (Chromium's fake capture device fed a .y4m made from ../shared/data).

The person is enrolled with a still frame from a different part of the same footage: these
are end-to-end tests of the page and the service, not accuracy claims. The server issues
blink-only challenges whose window fits the looping clip (a recorded clip cannot follow
random digits), and once a digits-only challenge, to walk the page's digit path (the clip
reads no digits, so that one must fail); everything else (nonce, expiry, consent, liveness,
matching, rules, storage) is real. The browser has no network but the service's loopback.
Screenshots of each screen are saved under reports/kiosk-screens/.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import uvicorn
from sqlalchemy import func, select

from api.certification.settings import load_settings
from api.certification.storage.schema import Attempt, Certification, ChallengeSession
from api.demo import ensure_client
from api.http.app import create_app
from api.kiosk_audio import audio_dir, build_prompts
from liveness import attacks
from liveness.challenge import Challenge, FixedWindowChallenges, Prompt
from liveness.video import read_video
from matcher import FaceMatcher
from tests.conftest import DATA, ROOT, random_id_number

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ESPEAK = shutil.which("espeak-ng")  # installed with chromium by `make test`
pytestmark = [
    pytest.mark.needs_data,
    pytest.mark.skipif(
        CHROMIUM is None, reason="Debian chromium not installed (`make test` installs it as root)"
    ),
]
SCREENS = ROOT / "reports" / "kiosk-screens"
PROMPT_CACHE = ROOT / "build" / "kiosk-audio-cache"  # git-ignored
CLIP = DATA / "videos/talking/liveportrait_driving_d0.mp4"  # 3.1 s, a blink at 2.6 s (hand label)


def to_y4m(frames: list[np.ndarray], path: Path, fps: int = 25) -> Path:
    with av.open(str(path), "w", format="yuv4mpegpipe") as out:
        stream = out.add_stream("rawvideo", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@dataclass
class Server:
    url: str
    app: object
    keys: dict[str, str]


@contextmanager
def running_server(home: Path, matcher: FaceMatcher) -> Iterator[Server]:
    """The real app on 127.0.0.1 in a thread, SQLite under ``home``, loop-fitted challenges."""
    previous = os.environ.get("LIFECERT_HOME")
    os.environ["LIFECERT_HOME"] = str(home)
    settings = replace(load_settings(database_url=f"sqlite:///{home / 'k.db'}"), rate_per_minute=10_000)
    app = create_app(settings, matcher)
    if ESPEAK is not None:  # the spoken prompts, as `make run` builds them (made once, copied)
        build_prompts(PROMPT_CACHE)
        shutil.copytree(PROMPT_CACHE, audio_dir(home), dirs_exist_ok=True)
    # One blink within 6.5 s: the 3.1 s clip loops in the fake camera, so two of its blinks
    # always fall inside. With 4 s (one blink) CI once saw "no blink" on a genuine upload: a
    # loaded machine's recorder (VP8 in real time drops frames it cannot keep up with) can
    # lose the four frames of one blink; losing both is what a test failure should mean.
    app.state.service.challenges = FixedWindowChallenges(window_s=6.5)
    roles = ("kiosk", "staff", "app", "admin")
    keys = {r: ensure_client(app.state.service, f"kiosk-test-{r}", r) for r in roles}
    port = 8600 + secrets.randbelow(300)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.05)
    try:
        yield Server(f"http://127.0.0.1:{port}", app, keys)  # type: ignore[arg-type]
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        if previous is None:
            os.environ.pop("LIFECERT_HOME", None)
        else:  # the user's own LIFECERT_HOME is theirs to keep
            os.environ["LIFECERT_HOME"] = previous


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, matcher: FaceMatcher) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("kiosk-home"), matcher) as srv:
        yield srv


def enrol(server: Server, name: str, photo: bytes) -> str:
    import httpx

    idn = random_id_number("19600101")
    staff = {"X-API-Key": server.keys["staff"]}
    begun = (date.today() - timedelta(days=200)).isoformat()
    with httpx.Client(base_url=server.url) as http:
        http.post(
            "/v1/persons/import",
            headers=staff,
            files={
                "file": ("p.csv", f"id_number,name,category,benefit_start\n{idn},{name},retiree,{begun}\n")
            },
        )
        pid = http.post("/v1/persons/search", headers=staff, json={"q": idn}).json()[0]["person_id"]
        http.post(
            f"/v1/persons/{pid}/id-photo", headers=staff, files={"photo": ("p.jpg", photo)}
        ).raise_for_status()
    return idn


@pytest.fixture(scope="module")
def live_camera(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return to_y4m(read_video(CLIP, with_audio=False).frames, tmp_path_factory.mktemp("cam") / "live.y4m")


@pytest.fixture(scope="module")
def photo_camera(tmp_path_factory: pytest.TempPathFactory) -> Path:
    still = attacks.photo_video(cv2.imread(str(DATA / "faces/deepface/img30.jpg")), 3.0, moving=True)
    return to_y4m(still.frames, tmp_path_factory.mktemp("cam") / "photo.y4m")


def launch(pw, camera: Path, extra: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    """Debian's Chromium, the clip as its camera, no network but the loopback. ``extra``:
    more switches (the kiosk benchmark gives the fake microphone a clip's sound)."""
    return pw.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={camera}",
            # The network closed: every host name fails to resolve except the loopback the
            # service listens on, so the page must load and work with no outside request.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            *extra,
        ],
    )


# The waits before a recording starts, shortened: the spoken plan is cut off after 0.3 s and
# each step of the 3-2-1 lasts 0.15 s instead of 1.1 s (elder mode). The page's order (plan,
# count, recording) and everything it records and sends are unchanged; only a person's
# reading time goes, which is most of a browser test's wall time (~9 s per recorded upload).
QUICK = {"planMaxMs": 300, "countMs": 150, "countElderMs": 150}


def browser_page(pw, camera: Path, viewport: dict[str, int], live: bool | None = False):  # type: ignore[no-untyped-def]
    """A page in a fresh browser. ``live=False`` (these tests): the recorded upload, as phones
    capture and as every device falls back to; ``None``: the page's own default (live on a
    kiosk key, tests/test_kiosk_live.py)."""
    browser = launch(pw, camera)
    context = browser.new_context(viewport=viewport, locale="zh-CN")
    page = context.new_page()
    config = QUICK if live is None else {**QUICK, "live": live}
    page.add_init_script(f"window.lifecertConfig = {json.dumps(config)};")
    return browser, page


def run_flow(
    page,
    server: Server,
    idn: str,
    name: str,
    shots: str,
    *,
    proxy: bool = False,
    key_role: str = "kiosk",
    tally: dict[str, int] | None = None,
) -> str:  # type: ignore[no-untyped-def]
    """The whole path as a person takes it; ``tally`` counts the taps (a click, or the tap that
    puts the cursor in a field) and the keystrokes (one per character typed)."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    tally = {"taps": 0, "keys": 0} if tally is None else tally

    def click(selector: str) -> None:
        tally["taps"] += 1
        page.click(selector)

    def fill(selector: str, value: str) -> None:
        tally["taps"] += 1
        tally["keys"] += len(value)
        page.fill(selector, value)

    external: list[str] = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(server.url) else None)
    page.goto(f"{server.url}/kiosk/#key={server.keys[key_role]}")
    page.wait_for_selector("#step-identify:not([hidden])")
    page.screenshot(path=str(SCREENS / f"{shots}-1-identify.png"))
    fill("#id-number", idn)
    fill("#name", name)
    click("#identify-next")
    page.wait_for_selector("#step-consent:not([hidden])")
    page.screenshot(path=str(SCREENS / f"{shots}-2-consent.png"))
    click("#consent-yes")
    page.wait_for_selector("#step-who:not([hidden])")
    if proxy:
        click("#who-proxy")
        fill("#proxy-id", random_id_number("19850101"))
        fill("#proxy-name", "协助人")
        fill("#proxy-phone", "13712345678")
        fill("#proxy-relation", "女儿")
        page.screenshot(path=str(SCREENS / f"{shots}-3-proxy.png"))
        click("#proxy-next")
    else:
        page.screenshot(path=str(SCREENS / f"{shots}-3-who.png"))
        click("#who-self")
    page.wait_for_selector("#step-capture:not([hidden])")
    page.wait_for_function("() => document.querySelector('#feedback').textContent.length > 0", timeout=20_000)
    page.screenshot(path=str(SCREENS / f"{shots}-4-camera.png"))
    click("#capture-start")
    page.wait_for_function("() => document.querySelector('#prompt').textContent.length > 0", timeout=20_000)
    page.screenshot(path=str(SCREENS / f"{shots}-5-plan.png"))
    page.wait_for_function(
        "() => document.body.dataset.phase === 'recording' && document.querySelector('#prompt').textContent",
        timeout=30_000,
    )
    page.screenshot(path=str(SCREENS / f"{shots}-6-prompt.png"))
    page.wait_for_selector("#step-result:not([hidden])", timeout=90_000)
    page.screenshot(path=str(SCREENS / f"{shots}-7-result.png"), full_page=True)
    assert external == [], f"the page made external requests: {external}"
    return page.inner_text("#step-result")


def counts(server: Server, idn_person_name: str) -> tuple[int, int]:
    service = server.app.state.service  # type: ignore[attr-defined]
    with service.db.transaction() as s:
        return (
            s.execute(select(func.count(Certification.id))).scalar_one(),
            s.execute(select(func.count(Attempt.id))).scalar_one(),
        )


def last_attempt(server: Server) -> dict[str, object]:
    """The newest attempt's reasons and failed checks with their evidence: what a failed run
    leaves in the CI log, so that a genuine capture refused on a slow machine can be read."""
    with server.app.state.service.db.transaction() as s:  # type: ignore[attr-defined]
        a = s.scalars(select(Attempt).order_by(Attempt.id.desc())).first()
        if a is None:
            return {}
        failed = [c for c in a.evidence.get("checks", []) if not c.get("passed")]
        return {"outcome": a.outcome, "reasons": a.reasons, "failed_checks": failed}


def test_self_certification_passes_and_shows_the_next_due_date(server: Server, live_camera: Path) -> None:
    frame = cv2.imencode(".jpg", read_video(CLIP, with_audio=False).frames[10])[1].tobytes()
    idn = enrol(server, "刘大爷", frame)
    with playwright_api.sync_playwright() as pw:
        browser, page = browser_page(pw, live_camera, {"width": 1080, "height": 1920})
        text = run_flow(page, server, idn, "刘大爷", "self-kiosk")
        spoken = page.evaluate("window.lifecertSpoken")
        browser.close()
    assert "认证成功" in text, (text, last_attempt(server))
    assert "下次认证截止日期" in text and str(date.today().year + 1) in text
    assert "待遇发放日期" in text
    if ESPEAK is not None:  # the install's spoken prompts, played in order; none during the reading
        assert any(key.startswith("advice_") for key, _how in spoken), spoken  # the live advice, said
        assert [s for s in spoken if not s[0].startswith("advice_")] == [
            ["plan_blink", "file"],
            *[[f"count_{n}", "file"] for n in (3, 2, 1)],
            ["blink", "file"],
            ["passed", "file"],
        ], spoken
    else:  # no files and no Chinese voice in headless Chromium: silent, the text is on screen
        assert spoken == [], spoken


def test_still_photo_as_camera_fails_with_a_clear_reason(server: Server, photo_camera: Path) -> None:
    idn = enrol(server, "照片", (DATA / "faces/deepface/img30.jpg").read_bytes())
    before = counts(server, idn)
    with playwright_api.sync_playwright() as pw:
        browser, page = browser_page(pw, photo_camera, {"width": 390, "height": 844})
        text = run_flow(page, server, idn, "照片", "photo-phone")
        browser.close()
    assert "认证未通过" in text
    assert "没看到真人" in text or "没看到眨眼" in text  # one reason, the most useful, in plain words
    assert text.count("请") < 12, text
    assert "不会影响您的待遇发放" in text
    assert counts(server, idn)[0] == before[0]  # no certification written


def test_proxy_mode_certifies_the_person(server: Server, live_camera: Path) -> None:
    frame = cv2.imencode(".jpg", read_video(CLIP, with_audio=False).frames[12])[1].tobytes()
    # The same face is already enrolled for 刘大爷 above, so use a fresh server state check:
    # the register-wide impersonation check would (rightly) send this to review.
    idn = enrol(server, "代办老人", frame)
    with playwright_api.sync_playwright() as pw:
        browser, page = browser_page(pw, live_camera, {"width": 1080, "height": 1920})
        text = run_flow(page, server, idn, "代办老人", "proxy-kiosk", proxy=True)
        browser.close()
    assert "已提交，待工作人员审核" in text or "认证成功" in text, (text, last_attempt(server))
    service = server.app.state.service  # type: ignore[attr-defined]
    with service.db.transaction() as s:
        sess = s.execute(
            select(ChallengeSession).order_by(ChallengeSession.created_at.desc()).limit(1)
        ).scalar_one()
        assert sess.mode == "proxy" and sess.proxy_id is not None


def test_expired_challenge_says_start_again(server: Server, live_camera: Path) -> None:
    frame = cv2.imencode(".jpg", read_video(CLIP, with_audio=False).frames[14])[1].tobytes()
    idn = enrol(server, "超时", frame)
    server.app.state.service.challenges.ttl_s = 2.0  # type: ignore[attr-defined]
    try:
        with playwright_api.sync_playwright() as pw:
            browser, page = browser_page(pw, live_camera, {"width": 1080, "height": 1920})
            text = run_flow(page, server, idn, "超时", "expired-kiosk")
            browser.close()
    finally:
        server.app.state.service.challenges.ttl_s = 120.0  # type: ignore[attr-defined]
    assert "认证已超时，请重新开始" in text


def test_service_down_during_upload_keeps_nothing_half_done(server: Server, live_camera: Path) -> None:
    frame = cv2.imencode(".jpg", read_video(CLIP, with_audio=False).frames[16])[1].tobytes()
    idn = enrol(server, "断网", frame)
    before = counts(server, idn)
    with playwright_api.sync_playwright() as pw:
        browser, page = browser_page(pw, live_camera, {"width": 1080, "height": 1920})
        page.route("**/v1/sessions/*/response", lambda route: route.abort("connectionrefused"))
        text = run_flow(page, server, idn, "断网", "down-kiosk")
        browser.close()
    assert "连不上服务" in text and "不是您操作的问题" in text
    assert counts(server, idn) == before  # no attempt, no certification


def test_page_is_small_and_self_contained() -> None:
    web = ROOT / "api" / "web"
    total = sum(p.stat().st_size for p in web.iterdir() if p.suffix in {".html", ".js", ".css"})
    # 26 KB before issue 14; ~60 KB with back/cancel, idle reset, staff sign-in, spoken reasons,
    # the reader bridge and saved helpers. Still three files, no build step, fetched once.
    assert total < 72_000, f"kiosk page is {total} bytes"
    for p in web.iterdir():
        text = p.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text, f"{p.name} references an external URL"


def test_english_switch_and_unconfigured_device(server: Server, live_camera: Path) -> None:
    with playwright_api.sync_playwright() as pw:
        browser, page = browser_page(pw, live_camera, {"width": 390, "height": 844})
        page.goto(f"{server.url}/kiosk/")
        page.wait_for_selector("#step-setup:not([hidden])")  # no key yet: staff must set the device up
        page.fill("#setup-key", server.keys["kiosk"])
        page.click("#setup-save")
        page.wait_for_selector("#step-identify:not([hidden])")
        assert "核对身份" in page.inner_text("#step-identify")
        page.click("#lang")
        assert "Step 1: who is being certified" in page.inner_text("#step-identify")
        assert "never asks for bank card numbers" in page.inner_text("#step-identify")
        page.fill("#id-number", "123")
        page.fill("#name", "x")
        page.click("#identify-next")
        assert "Enter the full ID number" in page.inner_text("#step-identify")
        page.screenshot(path=str(SCREENS / "english-phone-identify.png"))
        browser.close()


def test_the_browser_under_test_has_no_network_but_the_service(server: Server, live_camera: Path) -> None:
    # The proof that the flows above ran with the network closed, not merely without asking.
    with playwright_api.sync_playwright() as pw:
        browser, page = browser_page(pw, live_camera, {"width": 390, "height": 844})
        page.goto(f"{server.url}/kiosk/")
        # "localhost" reaches this same service in an open browser (checked by hand: an opaque
        # response without the resolver rule); here any name but the loopback address fails.
        by_name = server.url.replace("127.0.0.1", "localhost") + "/healthz"
        outside = page.evaluate(
            f"fetch('{by_name}', {{mode: 'no-cors'}}).then(() => 'reached', (e) => 'failed: ' + e)"
        )
        inside = page.evaluate(f"fetch('{server.url}/healthz').then((r) => r.status)")
        browser.close()
    assert outside.startswith("failed"), outside
    assert inside == 200


@dataclass
class DigitsOnly:
    """A read-the-digits challenge whose window fits the looping clip (recorded footage cannot
    read random digits, so this test checks the page's digit path, not a pass)."""

    digits: str = "4816"
    window_s: float = 4.0
    ttl_s: float = 120.0

    def issue(self, *, language: str | None = None, **_kw: object) -> Challenge:
        now = datetime.now(UTC)
        return Challenge(
            secrets.token_urlsafe(18),
            0,
            self.digits,
            (Prompt("digits", 0.0, self.window_s),),
            now,
            now + timedelta(seconds=self.ttl_s),
            language=language or "zh",
        )


def test_digit_challenge_shows_the_digits_and_stays_silent_while_they_are_read(
    server: Server, live_camera: Path
) -> None:
    frame = cv2.imencode(".jpg", read_video(CLIP, with_audio=False).frames[18])[1].tobytes()
    idn = enrol(server, "读数", frame)
    service = server.app.state.service  # type: ignore[attr-defined]
    blink_only, service.challenges = service.challenges, DigitsOnly()
    try:
        with playwright_api.sync_playwright() as pw:
            browser, page = browser_page(pw, live_camera, {"width": 1080, "height": 1920})
            seen: dict[str, str] = {}
            page.on(
                "console",
                lambda m: seen.setdefault("digits", m.text) if m.text.startswith("digits:") else None,
            )
            page.add_init_script(
                "new MutationObserver(() => { const d = document.querySelector('#digits');"
                " if (d && !d.hidden && d.textContent) console.log('digits:' + d.textContent); })"
                ".observe(document, {subtree: true, childList: true, attributes: true});"
            )
            text = run_flow(page, server, idn, "读数", "digits-kiosk")
            spoken = page.evaluate("window.lifecertSpoken")
            browser.close()
    finally:
        service.challenges = blink_only
    assert seen.get("digits") == "digits:4816", seen
    said = [key for key, _how in spoken if not key.startswith("advice_")]
    if ESPEAK is not None:  # the plan and the countdown are said; nothing while the digits are read
        assert said[:4] == ["plan_digits", "count_3", "count_2", "count_1"], said
        assert said[4] in ("passed", "failed", "failed_title", "review"), said
    with service.db.transaction() as s:
        attempt = s.execute(select(Attempt).order_by(Attempt.id.desc())).scalars().first()
        judged = {c["name"]: c["passed"] for c in attempt.evidence["checks"]}
    assert "read_digits" in judged and "blink" not in judged
    # The page shows the server's verdict, whichever it is. A man pulling faces to Chromium's
    # fake beeping microphone has not read 4816 aloud, yet in about 3 of 5 runs here his mouth
    # cycles and the beeps fit the digit window (read_digits 0.5, sync 0.17): a chance
    # acceptance of the digits-only challenge by natural speech, reported under issue 10 and
    # not tuned away on this test clip. So the verdict itself is not asserted here.
    shown = {"passed": "认证成功", "failed": "认证未通过", "review": "待工作人员审核"}[attempt.outcome]
    assert shown in text, (attempt.outcome, text)
    if attempt.outcome == "failed":
        assert not (judged["read_digits"] and judged.get("audio_visual_sync", True)), judged
