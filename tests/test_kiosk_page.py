"""The kiosk page's behaviour, screen by screen (issue 14), in Debian's Chromium against the
real service. Each test names the defect it guards against; where a test needs the service to
answer something it cannot be made to answer on cue (a verdict with four reasons, a stalled
upload, a lockout), the browser's request is answered by the test (``page.route``), and
everything else is the real page on the real service.

The page reads ``window.lifecertConfig`` for its timings; tests shorten the idle reset and
the upload timeout that way instead of waiting minutes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import pytest
from sqlalchemy import func, select

from api.certification.storage.schema import Attempt, ChallengeSession
from liveness.challenge import FixedWindowChallenges
from liveness.video import read_video
from tests.conftest import random_id_number
from tests.test_kiosk_browser import (
    CLIP,
    ESPEAK,
    QUICK,
    SCREENS,
    DigitsOnly,
    Server,
    enrol,
    launch,
    playwright_api,
    pytestmark,  # noqa: F401 (the same skips: data and Chromium)
    running_server,
    to_y4m,
)

PHONE = {"width": 390, "height": 844}
KIOSK = {"width": 1080, "height": 1920}
FAILED_FOUR_REASONS = {
    "outcome": "failed",
    "attempt_id": 1,
    "match_score": None,
    "reasons": [
        {
            "code": "blink_not_seen",
            "zh": "未检测到眨眼，请按提示眨眼。",
            "en": "No blink was seen: blink when asked.",
        },
        {
            "code": "no_live_motion",
            "zh": "未检测到真人动作，不能使用照片或屏幕翻拍。",
            "en": "No natural movement.",
        },
        {
            "code": "face_not_visible",
            "zh": "人脸未持续出现在画面中，请保持在取景框内。",
            "en": "Face not visible.",
        },
        {"code": "face_mismatch", "zh": "人脸与登记照片不一致。", "en": "The face does not match."},
    ],
}


@dataclass
class Env:
    server: Server
    browser: object
    people: list[tuple[str, str]]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, matcher) -> Iterator[Env]:  # type: ignore[no-untyped-def]
    frames = read_video(CLIP, with_audio=False).frames
    camera = to_y4m(frames, tmp_path_factory.mktemp("cam") / "live.y4m")
    with running_server(tmp_path_factory.mktemp("page-home"), matcher) as server:
        # Short challenges: these tests are about the page, not the verdict.
        server.app.state.service.challenges = FixedWindowChallenges(window_s=1.5)  # type: ignore[attr-defined]
        photo = cv2.imencode(".jpg", frames[10])[1].tobytes()
        people = [(enrol(server, f"页面{i}", photo), f"页面{i}") for i in range(8)]
        with playwright_api.sync_playwright() as pw:
            browser = launch(pw, camera)
            yield Env(server, browser, people)
            browser.close()


@contextmanager
def opened(env: Env, *, viewport=PHONE, role="kiosk", config=None, key=True, init=""):  # type: ignore[no-untyped-def]
    """The page on one device. These tests capture with the recorded upload (``live: false``:
    how phones capture, and what every device falls back to) unless ``config`` says otherwise;
    the live capture has tests/test_kiosk_live.py."""
    context = env.browser.new_context(viewport=viewport, locale="zh-CN")  # type: ignore[attr-defined]
    page = context.new_page()
    page.dialogs = []  # window.prompt / alert / confirm: none are used any more
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    settings = {**QUICK, "idleMs": 600_000, "live": False, **(config or {})}
    page.add_init_script(f"window.lifecertConfig = {json.dumps(settings)};{init}")
    page.goto(f"{env.server.url}/kiosk/" + (f"#key={env.server.keys[role]}" if key else ""))
    if key:
        page.wait_for_selector("#step-identify:not([hidden])")
    try:
        yield page
    finally:
        context.close()


def visible(page, selector: str) -> bool:  # type: ignore[no-untyped-def]
    return page.is_visible(selector)


def to_consent(page, person: tuple[str, str]) -> None:  # type: ignore[no-untyped-def]
    page.fill("#id-number", person[0])
    page.fill("#name", person[1])
    page.click("#identify-next")
    page.wait_for_selector("#step-consent:not([hidden])")


def to_capture(page, person: tuple[str, str]) -> None:  # type: ignore[no-untyped-def]
    to_consent(page, person)
    page.click("#consent-yes")
    page.click("#who-self")
    page.wait_for_selector("#step-capture:not([hidden])")
    page.wait_for_function("() => document.querySelector('#feedback').textContent.length > 0", timeout=20_000)


def failed_verdict(page, env: Env, person: tuple[str, str], body: dict = FAILED_FOUR_REASONS) -> None:  # type: ignore[no-untyped-def,type-arg]
    page.route(
        "**/v1/sessions/*/response",
        lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps(body)),
    )
    if not visible(page, "#step-capture"):
        to_capture(page, person)
    page.click("#capture-start")
    page.wait_for_selector("#step-result:not([hidden])", timeout=60_000)


def attempts(env: Env) -> int:
    service = env.server.app.state.service  # type: ignore[attr-defined]
    with service.db.transaction() as s:
        return s.execute(select(func.count(Attempt.id))).scalar_one()


def spoken(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [key for key, how in page.evaluate("window.lifecertSpoken") if how != "file-failed"]


# ---- 3. retry goes where it can help ------------------------------------------------------


def test_unknown_person_goes_back_to_the_details_kept_never_to_the_camera(env: Env) -> None:
    with opened(env) as page:
        page.fill("#id-number", random_id_number("19500101"))
        page.fill("#name", "无此人")
        page.click("#identify-next")
        page.wait_for_selector("#step-result:not([hidden])")
        assert "没找到此人" in page.inner_text("#step-result")
        assert page.inner_text("#result-again") == "修改身份信息"
        page.click("#result-again")
        page.wait_for_selector("#step-identify:not([hidden])")
        assert page.input_value("#name") == "无此人" and len(page.input_value("#id-number")) == 18
        assert page.evaluate("document.querySelector('#video').srcObject === null")  # no camera opened


def test_no_retry_after_too_many_failures(env: Env) -> None:
    locked = {"type": "about:blank", "title": "x", "status": 429, "code": "too_many_attempts",
              "message_zh": "失败次数过多。", "message_en": "Too many failed attempts."}  # fmt: skip
    with opened(env) as page:
        page.route("**/v1/sessions", lambda r: r.fulfill(status=429, content_type="application/json",
                                                          body=json.dumps(locked)))  # fmt: skip
        to_capture(page, env.people[0])
        page.click("#capture-start")
        page.wait_for_selector("#step-result:not([hidden])")
        assert "失败次数过多" in page.inner_text("#step-result")
        assert not visible(page, "#result-again")
        assert visible(page, "#result-done")


# ---- 4. one reason, spoken, with a picture and the tries left ---------------------------


def test_failure_shows_one_reason_with_a_picture_says_it_and_counts_the_tries(env: Env) -> None:
    with opened(env) as page:
        failed_verdict(page, env, env.people[1])
        body = page.inner_text("#step-result")
        assert page.locator("#result-body .headline").count() == 1
        assert "没看到眨眼" in body and "未检测到真人动作" not in body  # the others wait under 详细原因
        assert not page.is_visible("#result-body details p")
        assert page.get_attribute("#result-icon use", "href") == "#i-eye"
        assert "本机还可以再试 4 次" in body
        assert page.inner_text("#result-again") == "再试一次"
        if ESPEAK is not None:
            page.wait_for_function("() => window.lifecertSpoken.some(([k]) => k === 'reason_blink_not_seen')")
            assert spoken(page)[-2:] == ["failed_title", "reason_blink_not_seen"]
        for left in (3, 2, 1):
            page.click("#result-again")
            failed_verdict(page, env, env.people[1])
            assert f"本机还可以再试 {left} 次" in page.inner_text("#step-result")
        page.click("#result-again")
        failed_verdict(page, env, env.people[1])
        assert "本机暂时不能再试了" in page.inner_text("#step-result")
        assert not visible(page, "#result-again")
        page.screenshot(path=str(SCREENS / "page-failed-no-tries.png"), full_page=True)


def test_live_advice_is_shown_on_the_ring_and_said(env: Env) -> None:
    advice = {"code": "face_too_small", "message_zh": "请靠近一些", "message_en": "Move closer"}
    with opened(env) as page:
        page.route("**/v1/preview", lambda r: r.fulfill(status=200, content_type="application/json",
                                                        body=json.dumps(advice)))  # fmt: skip
        to_capture(page, env.people[2])
        assert page.inner_text("#feedback") == "请靠近一些"
        assert page.get_attribute(".camera", "data-advice") == "face_too_small"
        if ESPEAK is not None:
            page.wait_for_function("() => window.lifecertSpoken.some(([k]) => k === 'advice_face_too_small')")


# ---- 5. back and cancel everywhere --------------------------------------------------------


def test_every_step_has_a_way_back_with_the_details_kept(env: Env) -> None:
    with opened(env) as page:
        to_consent(page, env.people[2])
        page.click("#consent-back")
        assert visible(page, "#step-identify") and page.input_value("#name") == env.people[2][1]
        page.click("#identify-next")
        page.click("#consent-yes")
        page.click("#who-proxy")
        page.fill("#proxy-name", "女儿")
        page.click("#proxy-back")
        assert visible(page, "#step-who")
        page.click("#who-back")
        assert visible(page, "#step-consent")
        page.click("#consent-yes")
        page.click("#who-proxy")
        assert page.input_value("#proxy-name") == "女儿"
        page.click("#proxy-back")
        page.click("#who-self")
        page.wait_for_selector("#step-capture:not([hidden])")
        page.click("#capture-back")
        assert visible(page, "#step-who")
        assert page.evaluate("document.querySelector('#video').srcObject === null")  # camera off


def test_cancel_during_the_plan_countdown_and_recording_records_nothing(env: Env) -> None:
    before = attempts(env)
    with opened(env) as page:
        to_capture(page, env.people[3])
        for phase in ("plan", "countdown", "recording"):
            page.click("#capture-start")
            page.wait_for_function(f"() => document.body.dataset.phase === '{phase}'", timeout=20_000)
            assert visible(page, "#capture-cancel") and not visible(page, "#capture-start")
            page.click("#capture-cancel")
            page.wait_for_function("() => document.body.dataset.phase === 'ready'")
            assert visible(page, "#capture-start") and visible(page, "#step-capture")
            time.sleep(0.5)
            assert page.inner_text("#prompt") == "" and not visible(page, "#digits")
    assert attempts(env) == before


def test_a_stalled_upload_can_be_cancelled_and_a_slow_one_blames_the_connection(env: Env) -> None:
    held: list[object] = []
    with opened(env, config={"uploadSlowMs": 500, "uploadTimeoutMs": 600_000}) as page:
        page.route("**/v1/sessions/*/response", lambda route: held.append(route))  # never answered
        to_capture(page, env.people[3])
        page.click("#capture-start")
        page.wait_for_selector("#step-upload:not([hidden])", timeout=30_000)
        page.wait_for_function(
            "() => document.querySelector('#upload-slow').textContent.includes('网络较慢')"
        )
        assert "不是您操作的问题" in page.inner_text("#upload-slow")
        page.click("#upload-cancel")
        page.wait_for_selector("#step-capture:not([hidden])")
        assert visible(page, "#capture-start")
    with opened(env, config={"uploadTimeoutMs": 1500}) as page:
        page.route("**/v1/sessions/*/response", lambda route: held.append(route))
        to_capture(page, env.people[3])
        page.click("#capture-start")
        page.wait_for_selector("#step-result:not([hidden])", timeout=30_000)
        text = page.inner_text("#step-result")
        assert "网络太慢" in text and "不是您操作的问题" in text and visible(page, "#result-again")


# ---- 7. the service gone ------------------------------------------------------------------


def test_service_gone_while_lining_up_is_said_and_start_waits(env: Env) -> None:
    with opened(env, config={"previewMs": 300}) as page:
        to_capture(page, env.people[4])
        page.route("**/v1/**", lambda r: r.abort("connectionrefused"))
        page.wait_for_function("() => document.querySelector('#feedback').textContent.includes('连不上服务')")
        assert "good" not in (page.get_attribute("#feedback", "class") or "")
        assert page.is_disabled("#capture-start")
        page.unroute("**/v1/**")
        page.wait_for_function("() => !document.querySelector('#capture-start').disabled", timeout=20_000)


def test_service_gone_during_recording_stops_it_at_once(env: Env) -> None:
    service = env.server.app.state.service  # type: ignore[attr-defined]
    longer, service.challenges = service.challenges, FixedWindowChallenges(window_s=20.0)
    uploads: list[str] = []
    try:
        with opened(env, config={"heartbeatMs": 400}) as page:
            page.on("request", lambda r: uploads.append(r.url) if r.url.endswith("/response") else None)
            to_capture(page, env.people[4])
            page.click("#capture-start")
            page.wait_for_function("() => document.body.dataset.phase === 'recording'", timeout=20_000)
            began = time.monotonic()
            page.route("**/healthz", lambda r: r.abort("connectionrefused"))
            page.route("**/v1/**", lambda r: r.abort("connectionrefused"))
            page.wait_for_selector("#step-result:not([hidden])", timeout=15_000)
            stopped_after = time.monotonic() - began
            assert "连不上服务" in page.inner_text("#step-result")
    finally:
        service.challenges = longer
    assert stopped_after < 5.0, stopped_after  # not the 20 s of the challenge
    assert uploads == []


def test_session_expired_after_a_slow_upload_says_it_was_the_connection(env: Env) -> None:
    service = env.server.app.state.service  # type: ignore[attr-defined]
    service.challenges.ttl_s = 1.0
    try:
        with opened(env, config={"slowHintMs": 0}) as page:  # any upload counts as slow here
            to_capture(page, env.people[5])
            page.click("#capture-start")
            page.wait_for_selector("#step-result:not([hidden])", timeout=60_000)
            text = page.inner_text("#step-result")
    finally:
        service.challenges.ttl_s = 120.0
    assert "认证已超时" in text and "多半是网络较慢，不是您操作的问题" in text, text


# ---- 6. shared kiosk hygiene ----------------------------------------------------------------


def test_idle_kiosk_warns_then_wipes_the_person(env: Env) -> None:
    with opened(env, config={"idleMs": 3000, "idleWarnMs": 2000}) as page:
        to_consent(page, env.people[5])
        assert env.people[5][1] in page.inner_text("#person-line")
        page.wait_for_selector("#idle:not([hidden])", timeout=5000)
        assert "秒后将清除信息" in page.inner_text("#idle")
        page.click("#idle-stay")  # still here
        assert visible(page, "#step-consent") and not visible(page, "#idle")
        page.wait_for_selector("#step-identify:not([hidden])", timeout=6000)
        assert page.input_value("#id-number") == "" and page.input_value("#name") == ""
        assert env.people[5][1] not in page.inner_text("body")


def test_staff_mode_is_signed_in_masked_shown_and_ends_with_done(env: Env) -> None:
    with opened(env) as page:
        page.click("#staff-mode")
        assert page.get_attribute("#staff-key", "type") == "password"
        page.fill("#staff-key", "not-a-key")
        page.click("#staff-login")
        page.wait_for_function("() => document.querySelector('#staff-error').textContent.length > 0")
        assert page.evaluate("sessionStorage.getItem('lifecert-staff-key')") is None
        page.fill("#staff-key", env.server.keys["admin"])  # says why, instead of "not a staff key"
        page.click("#staff-login")
        page.wait_for_function(
            "() => document.querySelector('#staff-error').textContent.includes('管理员密钥')"
        )
        assert page.evaluate("sessionStorage.getItem('lifecert-staff-key')") is None
        page.fill("#staff-key", env.server.keys["staff"])
        page.click("#staff-login")
        page.wait_for_selector("#staff-badge:not([hidden])")
        assert visible(page, "#home-visit-row")
        to_consent(page, env.people[6])
        page.click("#consent-no")
        page.click("#result-done")
        page.wait_for_selector("#staff-badge", state="hidden")
        assert page.evaluate("sessionStorage.getItem('lifecert-staff-key')") is None
        assert not visible(page, "#home-visit-row")
        page.click("#staff-mode")
        page.fill("#staff-key", env.server.keys["staff"])
        page.click("#staff-login")
        page.wait_for_selector("#staff-badge:not([hidden])")
        page.click("#staff-exit")
        page.wait_for_selector("#staff-badge", state="hidden")
        assert page.dialogs == []


def test_a_mistyped_device_key_is_not_saved(env: Env) -> None:
    with opened(env, key=False) as page:
        page.wait_for_selector("#step-setup:not([hidden])")
        page.fill("#setup-key", "mistyped")
        page.click("#setup-save")
        page.wait_for_function("() => document.querySelector('#setup-error').textContent.includes('未保存')")
        assert page.evaluate("localStorage.getItem('lifecert-key')") is None
        page.goto("about:blank")
        page.goto(f"{env.server.url}/kiosk/#key=also-wrong")
        page.wait_for_selector("#step-setup:not([hidden])")
        assert page.evaluate("localStorage.getItem('lifecert-key')") is None
        page.fill("#setup-key", env.server.keys["kiosk"])
        page.click("#setup-save")
        page.wait_for_selector("#step-identify:not([hidden])")
        assert page.evaluate("localStorage.getItem('lifecert-key')") == env.server.keys["kiosk"]


# ---- 8. consent, language, the guide, text size, focus, the challenge's language -----------


def test_consent_names_the_voice(env: Env) -> None:
    with opened(env) as page:
        to_consent(page, env.people[6])
        assert "声音" in page.inner_text("#step-consent")
        page.click("#lang")
        assert "voice" in page.inner_text("#step-consent")


def test_language_switch_on_the_result_redoes_title_and_reason(env: Env) -> None:
    with opened(env) as page:
        failed_verdict(page, env, env.people[6])
        page.click("#lang")
        text = page.inner_text("#step-result")
        assert "Not certified this time" in text and "No blink was seen" in text and "4 more tries" in text
        assert "认证未通过" not in text and "没看到眨眼" not in text, text
        assert page.inner_text("#result-again") == "Try again"


def test_focus_moves_to_the_heading_of_each_new_step(env: Env) -> None:
    with opened(env) as page:
        focused = "() => document.activeElement && document.activeElement.closest('.step:not([hidden])') && document.activeElement.tagName"  # noqa: E501
        assert page.evaluate(focused) == "H2"
        to_consent(page, env.people[6])
        assert page.evaluate(focused) == "H2" and page.evaluate("document.activeElement.id") == ""
        page.click("#consent-yes")
        assert page.evaluate(focused) == "H2"
        page.click("#who-proxy")
        assert page.evaluate(focused) == "H2"


def test_type_follows_the_system_text_size(env: Env) -> None:
    with opened(env, viewport=PHONE, role="app") as page:
        base = page.evaluate(
            "parseFloat(getComputedStyle(document.querySelector('#step-identify h2')).fontSize)"
        )
        cdp = page.context.new_cdp_session(page)
        cdp.send(
            "Page.setFontSizes", {"fontSizes": {"standard": 24, "fixed": 20}}
        )  # the phone's "large text"
        page.reload()
        page.wait_for_selector("#step-identify:not([hidden])")
        large = page.evaluate(
            "parseFloat(getComputedStyle(document.querySelector('#step-identify h2')).fontSize)"
        )
    assert large == pytest.approx(base * 1.5, rel=0.05), (base, large)


def test_guide_is_face_shaped_on_every_screen_shape(env: Env) -> None:
    for viewport in (PHONE, {"width": 1920, "height": 1080}):
        with opened(env, viewport=viewport) as page:
            to_capture(page, env.people[7])
            box = page.locator(".guide").bounding_box()
            assert box["width"] / box["height"] == pytest.approx(100 / 130, rel=0.03), (viewport, box)


def test_english_page_asks_for_digits_read_in_english(env: Env) -> None:
    service = env.server.app.state.service  # type: ignore[attr-defined]
    blink_only, service.challenges = service.challenges, DigitsOnly(window_s=1.5)
    try:
        with opened(env, viewport=KIOSK) as page:
            page.click("#lang")
            to_capture(page, env.people[7])
            with page.expect_request("**/v1/sessions") as opened_session:
                page.click("#capture-start")
            assert opened_session.value.post_data_json["language"] == "en"
            page.wait_for_selector("#digits:not([hidden])", timeout=20_000)
            prompt = page.inner_text("#prompt")
            assert "Read these digits aloud" in prompt and "in Chinese" not in prompt
            page.click("#capture-cancel")
    finally:
        service.challenges = blink_only


# ---- (c) less typing: an ID-card reader, saved helpers on a phone ----------------------------

# A simulated reader: what a kiosk shell's bridge posts (see README "ID-card reader").
READER = (
    "window.addEventListener('load', () => window.postMessage("
    "{type: 'lifecert-id-card-reader', ready: true}, location.origin));"
)
CARD = "([id, name]) => window.postMessage({type: 'lifecert-id-card', id_number: id, name}, location.origin)"


def test_id_card_reader_fills_the_person_with_no_typing(env: Env) -> None:
    idn, name = env.people[7]
    with opened(env, viewport=KIOSK, init=READER) as page:
        page.evaluate("document.addEventListener('keydown', (e) => window.__keys = (window.__keys || 0) + 1)")
        page.wait_for_selector("#reader-hint:not([hidden])")
        assert "读卡器" in page.inner_text("#reader-hint")
        page.evaluate(CARD, [idn, name])
        page.wait_for_selector("#step-consent:not([hidden])")
        assert name in page.inner_text("#person-line") and idn not in page.inner_text("body")
        assert page.evaluate("window.__keys || 0") == 0
        stored = page.evaluate("JSON.stringify(localStorage) + JSON.stringify(sessionStorage)")
        assert idn not in stored
        # a card from another origin's frame, or a plain string, is ignored
        page.click("#consent-back")
        page.fill("#id-number", "")
        page.evaluate("window.postMessage('lifecert-id-card', location.origin)")
        assert visible(page, "#step-identify")


def test_phone_remembers_helper_and_relative_without_the_id_number_in_clear(env: Env) -> None:
    idn, name = env.people[0]
    helper_id = random_id_number("19800101")
    with opened(env, viewport=PHONE, role="app") as page:
        to_consent(page, (idn, name))
        page.click("#consent-yes")
        page.click("#who-proxy")
        assert page.is_checked("#remember")
        page.fill("#proxy-id", helper_id)
        page.fill("#proxy-name", "王女士")
        page.fill("#proxy-phone", "13712345678")
        page.fill("#proxy-relation", "女儿")
        page.click("#proxy-next")
        page.wait_for_selector("#step-capture:not([hidden])")
        page.click("#capture-back")
        page.click("#proxy-back")
        page.click("#who-back")
        page.click("#consent-back")
        page.fill("#id-number", "")
        page.fill("#name", "")
        page.reload()  # next time
        page.wait_for_selector("#saved:not([hidden])")
        stored = page.evaluate("JSON.stringify(localStorage)")
        assert idn not in stored and helper_id not in stored and "13712345678" not in stored
        assert "137****5678" in stored
        button = page.locator(".saved-person").first
        assert name in button.inner_text() and idn not in page.inner_text("body")
        button.click()
        page.wait_for_selector("#step-consent:not([hidden])")
        page.click("#consent-yes")  # straight to the camera: the helper is known
        page.wait_for_selector("#step-capture:not([hidden])")
        page.wait_for_function(
            "() => document.querySelector('#feedback').textContent.length > 0", timeout=20_000
        )
        page.click("#capture-start")
        page.wait_for_selector("#step-result:not([hidden])", timeout=60_000)
        page.click("#result-done")
        page.click(".forget")
        assert not visible(page, "#saved")
    service = env.server.app.state.service  # type: ignore[attr-defined]
    with service.db.transaction() as s:
        sess = s.execute(
            select(ChallengeSession).order_by(ChallengeSession.created_at.desc()).limit(1)
        ).scalar_one()
        assert sess.mode == "proxy" and sess.proxy_id is not None


def test_kiosk_defaults_to_elder_mode_and_a_phone_does_not(env: Env) -> None:
    with opened(env, viewport=KIOSK) as page:
        assert page.get_attribute("#elder", "aria-pressed") == "true"
        kiosk_h2 = page.evaluate("parseFloat(getComputedStyle(document.querySelector('h2')).fontSize)")
    with opened(env, viewport=KIOSK, role="app") as page:
        assert page.get_attribute("#elder", "aria-pressed") == "false"
        phone_h2 = page.evaluate("parseFloat(getComputedStyle(document.querySelector('h2')).fontSize)")
        page.click("#elder")
        assert page.evaluate("document.documentElement.classList.contains('elder')")
    assert kiosk_h2 > phone_h2
