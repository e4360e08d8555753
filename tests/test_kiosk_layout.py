"""The kiosk page on ten screens, 360×640 up to 1920×1080, portrait and landscape (issue 14 d),
with the live capture (the kiosk default) and with the recorded upload.

On every screen of the path (identify, consent, who, the helper's form, the camera ready, the
six digits being read, a result) the current prompt, the digits and the primary button lie
wholly inside the viewport (bounding boxes), nothing scrolls sideways, and axe-core finds no
WCAG 2.x A/AA violation. Elder mode (the kiosk default, the largest type) throughout.

axe-core comes from npm into build/axe (git-ignored; `make browser` fetches it); without it
the axe half is skipped and the layout half still runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest

from liveness.video import read_video
from tests.conftest import ROOT
from tests.test_kiosk_browser import (
    CLIP,
    QUICK,
    SCREENS,
    DigitsOnly,
    enrol,
    launch,
    playwright_api,
    pytestmark,  # noqa: F401 (the same skips: data and Chromium)
    running_server,
    to_y4m,
)

AXE = ROOT / "build" / "axe" / "package" / "axe.min.js"
SIZES = [
    (360, 640), (390, 664), (390, 844), (412, 915), (768, 1024),
    (1080, 1920), (844, 390), (1024, 768), (1366, 768), (1920, 1080),
]  # fmt: skip


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, matcher) -> Iterator[tuple]:  # type: ignore[no-untyped-def,type-arg]
    frames = read_video(CLIP, with_audio=False).frames
    camera = to_y4m(frames, tmp_path_factory.mktemp("cam") / "live.y4m")
    with running_server(tmp_path_factory.mktemp("layout-home"), matcher) as server:
        server.app.state.service.challenges = DigitsOnly(digits="481623", window_s=30.0)  # type: ignore[attr-defined]
        person = (enrol(server, "欧阳长寿", cv2.imencode(".jpg", frames[10])[1].tobytes()), "欧阳长寿")
        with playwright_api.sync_playwright() as pw:
            browser = launch(pw, camera)
            yield server, browser, person
            browser.close()


def inside(page, selector: str, where: str) -> None:  # type: ignore[no-untyped-def]
    vw, vh = page.evaluate("[innerWidth, innerHeight]")
    for i, box in enumerate(page.locator(selector).evaluate_all(
        "els => els.filter(e => e.offsetParent).map(e => { const r = e.getBoundingClientRect();"
        " return {x: r.left, y: r.top, r: r.right, b: r.bottom}; })"
    )):  # fmt: skip
        assert box["x"] >= -0.5 and box["y"] >= -0.5, (where, selector, i, box, (vw, vh))
        assert box["r"] <= vw + 0.5 and box["b"] <= vh + 0.5, (where, selector, i, box, (vw, vh))


def no_sideways_scroll(page, where: str) -> None:  # type: ignore[no-untyped-def]
    wide = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
    assert wide[0] <= wide[1], (where, wide)


def axe(page, where: str) -> None:  # type: ignore[no-untyped-def]
    if not AXE.exists():
        return
    page.evaluate(AXE.read_text(encoding="utf-8"))  # by the test's own channel, not the page's CSP
    found = page.evaluate(
        "() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',"
        " 'wcag22aa']}}).then(r => r.violations.map(v => [v.id, v.nodes.map(n => n.target.join(' '))]))"
    )
    assert found == [], (where, json.dumps(found, ensure_ascii=False))


def check(page, where: str, *selectors: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(SCREENS / f"layout-{where}.png"))
    for sel in selectors:
        inside(page, sel, where)
    no_sideways_scroll(page, where)
    axe(page, where)


# The live capture shows the same elements with the same style sheet as the upload (no rule
# depends on the phase), so it is walked on the smallest portrait, a landscape phone and the
# kiosk; the upload on all ten.
LIVE_SIZES = [(360, 640), (844, 390), (1080, 1920)]
CASES = [(w, h, "upload") for w, h in SIZES] + [(w, h, "live") for w, h in LIVE_SIZES]


@pytest.mark.parametrize(("width", "height", "capture"), CASES, ids=[f"{w}x{h}-{c}" for w, h, c in CASES])
def test_every_screen_fits_and_passes_axe(setup, width: int, height: int, capture: str) -> None:  # type: ignore[no-untyped-def]
    """Both captures: live (the kiosk's default: the service prompts the digits) and the
    recorded upload (phones, and the fallback: a spoken plan, a count, then the digits)."""
    server, browser, (idn, name) = setup
    SCREENS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    config = {**QUICK, "live": False} if capture == "upload" else QUICK
    page.add_init_script(f"window.lifecertConfig = {json.dumps(config)};")
    size = f"{width}x{height}-{capture}"
    try:
        page.goto(f"{server.url}/kiosk/#key={server.keys['kiosk']}")
        page.wait_for_selector("#step-identify:not([hidden])")
        assert page.get_attribute("#elder", "aria-pressed") == "true"
        check(page, f"{size}-identify", "#identify-next", "#step-identify h2")
        page.fill("#id-number", idn)
        page.fill("#name", name)
        page.click("#identify-next")
        page.wait_for_selector("#step-consent:not([hidden])")
        check(page, f"{size}-consent", "#consent-yes")
        page.click("#consent-yes")
        check(page, f"{size}-who", "#who-self")
        page.click("#who-proxy")
        check(page, f"{size}-proxy", "#proxy-next")
        page.click("#proxy-back")
        page.click("#who-self")
        page.wait_for_selector("#step-capture:not([hidden])")
        page.wait_for_function(
            "() => document.querySelector('#feedback').textContent.length > 0", timeout=20_000
        )
        check(page, f"{size}-camera", "#capture-start", "#feedback", ".guide")
        page.click("#capture-start")
        if capture == "upload":
            page.wait_for_function("() => document.body.dataset.phase === 'plan'", timeout=20_000)
            inside(page, "#prompt", f"{size}-plan")
            inside(page, "#capture-cancel", f"{size}-plan")
        else:
            page.wait_for_function("() => document.body.dataset.phase === 'recording'", timeout=20_000)
            inside(page, "#prompt", f"{size}-lining-up")
            inside(page, "#capture-cancel", f"{size}-lining-up")
        page.wait_for_selector("#digits:not([hidden])", timeout=30_000)
        check(page, f"{size}-digits", "#digits span", "#prompt", "#capture-cancel")
        tops = page.locator("#digits span").evaluate_all("els => els.map(e => e.getBoundingClientRect().top)")
        assert len(tops) == 6 and max(tops) - min(tops) < 1, (size, tops)  # six digits, one line
        page.click("#capture-cancel")
        page.wait_for_function("() => document.body.dataset.phase === 'ready'")
        page.click("#capture-back")
        page.click("#who-back")
        page.click("#consent-back")
        page.fill("#name", "不是此人")
        page.click("#identify-next")
        page.wait_for_selector("#step-result:not([hidden])")
        check(page, f"{size}-result", "#result-again", "#result-title")
        page.click("#lang")
        check(page, f"{size}-result-en", "#result-again", "#result-title")
    finally:
        context.close()


def test_axe_is_there_when_make_browser_ran() -> None:
    # Not a gate (a machine without npm still runs the layout half), a signpost.
    if not AXE.exists():
        pytest.skip("axe-core not fetched: `make browser` puts it in build/axe")
    assert "axe" in Path(AXE).read_text(encoding="utf-8")[:2000].lower()
