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


# The page's layout in one script call: the viewport, how wide the document is, the boxes of
# the visible elements each selector finds, and the phase (so a moment's screen is read whole).
MEASURE = """(selectors) => {
  const boxes = {};
  for (const sel of selectors) {
    boxes[sel] = [...document.querySelectorAll(sel)].filter(e => e.offsetParent).map(e => {
      const r = e.getBoundingClientRect(); return {x: r.left, y: r.top, r: r.right, b: r.bottom}; });
  }
  return {phase: document.body.dataset.phase, digits_hidden: document.querySelector("#digits").hidden,
          vw: innerWidth, vh: innerHeight, scroll: document.documentElement.scrollWidth, boxes};
}"""


def fits(seen: dict, where: str, *, shown: bool = False) -> None:  # type: ignore[type-arg]
    """Every box ``MEASURE`` found lies inside the viewport and nothing scrolls sideways;
    ``shown``: each selector must also find something visible."""
    label = (where, (seen["vw"], seen["vh"]))
    assert seen["scroll"] <= seen["vw"], (label, seen["scroll"])
    for sel, boxes in seen["boxes"].items():
        assert boxes or not shown, (label, sel, "not shown")
        for i, box in enumerate(boxes):
            assert box["x"] >= -0.5 and box["y"] >= -0.5, (label, sel, i, box)
            assert box["r"] <= seen["vw"] + 0.5 and box["b"] <= seen["vh"] + 0.5, (label, sel, i, box)


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
    fits(page.evaluate(MEASURE, list(selectors)), where)
    axe(page, where)


# The live capture shows the same elements with the same style sheet as the upload (no rule
# depends on the phase), so it is walked on the smallest portrait, a landscape phone and the
# kiosk; the upload on all ten. The layout is CSS only (media queries, no script reads the
# window's size), so each capture is walked once and every screen is checked at every size
# by resizing the viewport there: one walk instead of one per size (the walks cost ~6 s each).
LIVE_SIZES = [(360, 640), (844, 390), (1080, 1920)]
Size = tuple[int, int]
# The screens that last only a moment (the spoken plan before an upload's count, the live
# capture's lining up before the digits) are measured in one script call per size, with the
# phase read in the same call; sizes the phase did not last for are measured on a new try.
TRANSIENT_TRIES = 3
PLAN_HOLD_MS = 4000  # the plan screen waits for its spoken prompt up to this long


def at_every_size(page, sizes: list[Size], where: str, *selectors: str) -> None:  # type: ignore[no-untyped-def]
    for width, height in sizes:
        page.set_viewport_size({"width": width, "height": height})
        check(page, f"{width}x{height}-{where}", *selectors)


def while_it_lasts(page, phase: str, sizes: list[Size], where: str, *selectors: str) -> list[Size]:  # type: ignore[no-untyped-def]
    """Check ``selectors`` at each size while the page stays in ``phase`` ("plan", or
    "lining-up": recording with no digits shown yet); returns the sizes it ended before."""
    for n, (width, height) in enumerate(sizes):
        page.set_viewport_size({"width": width, "height": height})
        seen = page.evaluate(MEASURE, list(selectors))
        lining_up = seen["phase"] == "recording" and seen["digits_hidden"]
        if not (seen["phase"] == phase or (phase == "lining-up" and lining_up)):
            return sizes[n:]
        fits(seen, f"{width}x{height}-{where}", shown=True)
    return []


@pytest.mark.parametrize("capture", ["upload", "live"])
def test_every_screen_fits_and_passes_axe(setup, capture: str) -> None:  # type: ignore[no-untyped-def]
    """Both captures: live (the kiosk's default: the service prompts the digits) and the
    recorded upload (phones, and the fallback: a spoken plan, a count, then the digits)."""
    server, browser, (idn, name) = setup
    sizes = SIZES if capture == "upload" else LIVE_SIZES
    SCREENS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": sizes[0][0], "height": sizes[0][1]}, locale="zh-CN")
    page = context.new_page()
    config = {**QUICK, "live": False, "planMaxMs": PLAN_HOLD_MS} if capture == "upload" else QUICK
    page.add_init_script(f"window.lifecertConfig = {json.dumps(config)};")
    try:
        page.goto(f"{server.url}/kiosk/#key={server.keys['kiosk']}")
        page.wait_for_selector("#step-identify:not([hidden])")
        assert page.get_attribute("#elder", "aria-pressed") == "true"
        at_every_size(page, sizes, f"{capture}-identify", "#identify-next", "#step-identify h2")
        page.fill("#id-number", idn)
        page.fill("#name", name)
        page.click("#identify-next")
        page.wait_for_selector("#step-consent:not([hidden])")
        at_every_size(page, sizes, f"{capture}-consent", "#consent-yes")
        page.click("#consent-yes")
        at_every_size(page, sizes, f"{capture}-who", "#who-self")
        page.click("#who-proxy")
        at_every_size(page, sizes, f"{capture}-proxy", "#proxy-next")
        page.click("#proxy-back")
        page.click("#who-self")
        page.wait_for_selector("#step-capture:not([hidden])")
        page.wait_for_function(
            "() => document.querySelector('#feedback').textContent.length > 0", timeout=20_000
        )
        at_every_size(page, sizes, f"{capture}-camera", "#capture-start", "#feedback", ".guide")
        phase = "plan" if capture == "upload" else "lining-up"
        left = sizes
        for _ in range(TRANSIENT_TRIES):
            page.click("#capture-start")
            page.wait_for_function(
                f"() => document.body.dataset.phase === '{'plan' if capture == 'upload' else 'recording'}'",
                timeout=20_000,
            )
            left = while_it_lasts(page, phase, left, f"{capture}-{phase}", "#prompt", "#capture-cancel")
            if not left:
                break
            page.click("#capture-cancel")  # try again for the sizes the screen did not last for
            page.wait_for_function("() => document.body.dataset.phase === 'ready'")
        assert not left, (phase, "did not last long enough to be measured at", left)
        page.wait_for_selector("#digits:not([hidden])", timeout=30_000)
        at_every_size(page, sizes, f"{capture}-digits", "#digits span", "#prompt", "#capture-cancel")
        for width, height in sizes:  # six digits, on one line
            page.set_viewport_size({"width": width, "height": height})
            tops = page.locator("#digits span").evaluate_all(
                "els => els.map(e => e.getBoundingClientRect().top)"
            )
            assert len(tops) == 6 and max(tops) - min(tops) < 1, (f"{width}x{height}-{capture}", tops)
        page.click("#capture-cancel")
        page.wait_for_function("() => document.body.dataset.phase === 'ready'")
        page.click("#capture-back")
        page.click("#who-back")
        page.click("#consent-back")
        page.fill("#name", "不是此人")
        page.click("#identify-next")
        page.wait_for_selector("#step-result:not([hidden])")
        at_every_size(page, sizes, f"{capture}-result", "#result-again", "#result-title")
        page.click("#lang")
        at_every_size(page, sizes, f"{capture}-result-en", "#result-again", "#result-title")
    finally:
        context.close()


def test_axe_is_there_when_make_browser_ran() -> None:
    # Not a gate (a machine without npm still runs the layout half), a signpost.
    if not AXE.exists():
        pytest.skip("axe-core not fetched: `make browser` puts it in build/axe")
    assert "axe" in Path(AXE).read_text(encoding="utf-8")[:2000].lower()
