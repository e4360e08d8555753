"""`lifecert models add`: a locally licensed ArcFace file, loaded through insightface's model zoo.

We hold no ArcFace licence and download nothing, so the stand-in file is the installed
fr_feature.onnx: it has the same form (one 3x112x112 input on the ArcFace template, one
512-d embedding). The test checks the registration, the hash check and the loading path,
not the accuracy of any ArcFace model.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from matcher import FaceMatcher, MatcherError
from models import ModelError, ModelStore
from tests.conftest import FACES, load

pytest.importorskip("insightface.model_zoo", reason="insightface is not installed (`make install` adds it)")
pytestmark = pytest.mark.needs_data
runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, store: ModelStore, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LIFECERT_HOME", str(tmp_path))
    shutil.copytree(store.model_dir, tmp_path / "models", ignore=shutil.ignore_patterns("local"))
    return tmp_path


def test_add_uncalibrated_then_calibrated(home: Path, store: ModelStore) -> None:
    stand_in = store.verified_path("fr_feature")
    r = runner.invoke(app, ["models", "add", str(stand_in), "--name", "arcface_local"])
    assert r.exit_code == 0, r.output
    assert "no threshold yet" in r.stdout
    local = ModelStore(home)
    assert local.check("arcface_local") == (True, "ok")
    with pytest.raises(MatcherError) as info:
        FaceMatcher(local, "arcface_local").verify(
            load("faces/deepface/img1.jpg"), load("faces/deepface/img2.jpg")
        )
    assert info.value.reason.code == "preset_not_calibrated"

    r = runner.invoke(app, ["models", "add", str(stand_in), "--name", "arcface_local", "--threshold", "0.3"])
    assert r.exit_code == 0, r.output
    matcher = FaceMatcher(ModelStore(home), "arcface_local")
    same = matcher.verify(load("faces/deepface/img1.jpg"), load("faces/deepface/img2.jpg"))
    other = matcher.verify(load("faces/deepface/img1.jpg"), load("faces/deepface/img3.jpg"))
    assert same.match and not other.match
    assert json.loads((home / "models/local/local.json").read_text())["arcface_local"]["threshold"] == 0.3


def test_tampered_local_file_is_refused(home: Path, store: ModelStore) -> None:
    runner.invoke(
        app, ["models", "add", str(store.verified_path("fr_feature")), "--name", "mine", "--threshold", "0.3"]
    )
    target = home / "models/local/mine.onnx"
    data = bytearray(target.read_bytes())
    data[-100] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="SHA-256 mismatch"):
        FaceMatcher(ModelStore(home), "mine")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["models", "add", "/nonexistent.onnx"], "does not exist"),
        (["models", "add", "{liveness}", "--name", "x_live"], "expected one 1x3x112x112 input"),
        (["models", "add", "{faces}/deepface/img1.jpg", "--name", "photo"], "not a readable ONNX model"),
        (["models", "add", "{feature}", "--name", "fast"], "use 2-32 lowercase"),
    ],
)
def test_bad_files_and_names_are_refused(
    home: Path, store: ModelStore, args: list[str], message: str
) -> None:
    paths = {
        "liveness": store.verified_path("fr_liveness"),
        "feature": store.verified_path("fr_feature"),
        "faces": FACES,
    }
    r = runner.invoke(app, [a.format(**paths) for a in args])
    assert r.exit_code == 2
    assert message in r.output
