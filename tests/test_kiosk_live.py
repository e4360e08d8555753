"""The kiosk page's live, guided capture in a real browser (Debian's Chromium, Playwright).

The fake camera loops the 3.1 s d0 clip, which blinks once per loop, and the service issues
blink-only challenges with a 4 s window (tests/test_kiosk_browser.py does the same for the
upload flow): whatever moment the service picks for the prompt, the looping clip blinks inside
the window, which is how a recorded clip can stand in for a person here. Everything else is
real: the page streams JPEG frames and the fake microphone over the WebSocket, the service
tracks, prompts, confirms, judges and records.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest

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


def test_the_live_flow_prompts_confirms_and_certifies(server: kb.Server, camera: Path) -> None:
    frame = cv2.imencode(".jpg", read_video(kb.CLIP, with_audio=False).frames[10])[1].tobytes()
    idn = kb.enrol(server, "直播老人", frame)
    with playwright_api.sync_playwright() as pw:
        browser, page = kb.browser_page(pw, camera, {"width": 1080, "height": 1920})
        page.add_init_script("window.lifecertConfig = {live: true};")
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
    assert "认证成功" in text, text
    assert len(sockets) == 1 and sockets[0].endswith("/live"), sockets
    assert timings["live"] is True and timings["video_bytes"] > 0
    assert "请眨眼" in shown and "✓ 好的" in shown, shown  # the prompt, then the confirmation
