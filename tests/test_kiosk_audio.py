"""The kiosk page's spoken prompts: made with espeak-ng, the same words as on screen, served
by the service, and absent without harm."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import av
import pytest
from fastapi.testclient import TestClient

from api import kiosk_audio
from api.certification.settings import load_settings
from api.http.app import create_app
from api.kiosk_audio import PHRASES, KioskAudioError, audio_dir, build_prompts
from matcher import FaceMatcher
from tests.conftest import ROOT

ESPEAK = shutil.which("espeak-ng")
needs_espeak = pytest.mark.skipif(
    ESPEAK is None, reason="espeak-ng not installed (`make test` installs it as root)"
)
PAGE = (ROOT / "api/web/kiosk.js").read_text(encoding="utf-8")


def test_every_spoken_phrase_is_also_on_screen() -> None:
    # Sound off must lose nothing: the page shows each phrase it can speak, in both languages.
    for key, (zh, en) in PHRASES.items():
        if key.startswith("count_"):
            continue  # the countdown shows the numeral itself
        assert zh in PAGE, (key, zh)
        assert en in PAGE, (key, en)


def _duration_s(path: Path) -> float:
    with av.open(str(path)) as container:
        return float(container.duration or 0) / av.time_base


@pytest.fixture(scope="module")
def prompts_made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, str]]]:
    """Every prompt made once (88 espeak-ng runs, ~12 s on a slow machine), for both tests
    (both carry ``needs_espeak``, so this never runs without espeak-ng)."""
    out = tmp_path_factory.mktemp("prompts")
    return out, build_prompts(out)


@needs_espeak
def test_prompts_are_made_once_in_both_languages(
    prompts_made: tuple[Path, dict[str, dict[str, str]]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(prompts_made[0], tmp_path, dirs_exist_ok=True)  # copy2: the times stay the maker's
    index = prompts_made[1]
    assert set(index) == {"zh", "en"} and all(set(v) == set(PHRASES) for v in index.values())
    for lang in ("zh", "en"):
        for key in PHRASES:
            path = tmp_path / lang / f"{key}.mp3"
            assert 0.3 < _duration_s(path) < 8.0, path
    assert json.loads((tmp_path / "index.json").read_text(encoding="utf-8")) == index
    assert not list(tmp_path.rglob("*.part"))

    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.mp3")}
    build_prompts(tmp_path)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.mp3")} == stamps  # nothing redone

    changed = dict(PHRASES, blink=("请眨一下眼睛", "Blink once, please."))
    monkeypatch.setattr(kiosk_audio, "PHRASES", changed)
    build_prompts(tmp_path)
    redone = [p.name for p in tmp_path.rglob("*.mp3") if p.stat().st_mtime_ns != stamps[p]]
    assert sorted(redone) == ["blink.mp3", "blink.mp3"]


def test_missing_espeak_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kiosk_audio.shutil, "which", lambda _name: None)
    with pytest.raises(KioskAudioError, match="apt-get install espeak-ng"):
        build_prompts(tmp_path)
    with pytest.raises(KioskAudioError, match="could not make"):
        build_prompts(tmp_path, espeak=str(tmp_path / "no-such-espeak"))
    assert not list(tmp_path.rglob("*.mp3")) and not list(tmp_path.rglob("*.part"))


@pytest.fixture
def client(tmp_path: Path, matcher: FaceMatcher, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("LIFECERT_HOME", str(tmp_path))
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'a.db'}")
    app = create_app(replace(settings, rate_per_minute=10_000), matcher)
    with TestClient(app) as tc:
        yield tc
    app.state.db.engine.dispose()


def test_without_prompts_the_page_is_told_there_are_none(client: TestClient) -> None:
    assert client.get("/kiosk/audio/index.json").json() == {}
    missing = client.get("/kiosk/audio/zh/blink.mp3")
    assert missing.status_code == 404 and missing.json()["code"] == "prompt_not_found"


@needs_espeak
def test_service_serves_the_made_prompts_and_nothing_else(
    client: TestClient, tmp_path: Path, prompts_made: tuple[Path, dict[str, dict[str, str]]]
) -> None:
    shutil.copytree(prompts_made[0], audio_dir(tmp_path), dirs_exist_ok=True)
    index = client.get("/kiosk/audio/index.json").json()
    assert index == {lang: sorted(PHRASES) for lang in ("zh", "en")}
    r = client.get("/kiosk/audio/zh/blink.mp3")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/mpeg" and len(r.content) > 1000
    (tmp_path / "secrets.mp3").write_bytes(b"not a prompt")
    for bad in (
        "/kiosk/audio/zh/nosuch.mp3",
        "/kiosk/audio/fr/blink.mp3",
        "/kiosk/audio/zh/..%2F..%2Fsecrets.mp3",
    ):
        assert client.get(bad).status_code == 404, bad
