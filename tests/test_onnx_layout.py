"""The ONNX layout choice: both layouts give the same embedding, the faster one is kept only when
clearly faster, the choice is remembered per machine, and a broken or read-only home costs a
measurement, never a failure. No timing is asserted: the clock is a fake where it matters."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from models import ModelStore, load_runner
from models.onnx_layout import CHOICES_FILE, LayoutChoices, cpu_identity, faster_layout, probe_input
from models.runtime import OnnxRunner
from tests.conftest import load


def _home(tmp_path: Path, store: ModelStore) -> ModelStore:
    """A fresh home whose models are the installed ones (a link: nothing is copied)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "models").symlink_to(store.model_dir)
    return ModelStore(home)


def _onnx(store: ModelStore, key: str = "fr_liveness", threads: int = 1) -> OnnxRunner:
    runner = load_runner(store, key, threads)
    assert isinstance(runner, OnnxRunner)
    return runner


class FakeClock:
    """Each call to a run advances the clock by that run's cost: timings without waiting."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def run(self, cost_s: float) -> Callable[[], None]:
        def go() -> None:
            self.now += cost_s

        return go


@pytest.mark.parametrize(
    ("nchwc_s", "plain_s", "chosen"),
    [(0.100, 0.040, "plain"), (0.040, 0.100, "nchwc"), (0.100, 0.095, "nchwc"), (0.100, 0.085, "plain")],
)
def test_the_plain_layout_is_chosen_only_when_clearly_faster(
    nchwc_s: float, plain_s: float, chosen: str
) -> None:
    clock = FakeClock()
    layout, ms = faster_layout({"nchwc": clock.run(nchwc_s), "plain": clock.run(plain_s)}, clock)
    assert layout == chosen
    assert ms == {"nchwc": pytest.approx(nchwc_s * 1000), "plain": pytest.approx(plain_s * 1000)}


def test_both_layouts_embed_a_real_face_alike(store: ModelStore) -> None:
    path = store.verified_path("fr_feature")
    crop = cv2.resize(load("faces/lfw/Aaron_Eckhart/Aaron_Eckhart_0001.jpg")[70:180, 70:180], (112, 112))
    blob = ((crop.astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1)[None]
    a = OnnxRunner(path, 1, "nchwc")(blob)[0][0]
    b = OnnxRunner(path, 1, "plain")(blob)[0][0]
    cos = float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    assert cos > 1 - 1e-6 and np.abs(a - b).max() < 1e-4


def test_plain_is_the_graph_without_the_blocked_layout(tmp_path: Path, store: ModelStore) -> None:
    onnx = pytest.importorskip("onnx")
    domains = {}
    for layout in ("nchwc", "plain"):
        OnnxRunner(store.verified_path("fr_feature"), 1, layout, optimised_copy=tmp_path / f"{layout}.onnx")
        graph = onnx.load(str(tmp_path / f"{layout}.onnx")).graph
        domains[layout] = {node.domain for node in graph.node}
    assert "com.microsoft.nchwc" in domains["nchwc"]
    assert "com.microsoft.nchwc" not in domains["plain"]


def test_the_first_load_measures_and_later_loads_remember(tmp_path: Path, store: ModelStore) -> None:
    local = _home(tmp_path, store)
    first = _onnx(local)
    assert first.choice.how == "measured"
    assert set(first.choice.ms) == {"nchwc", "plain"}
    saved = json.loads((local.home / CHOICES_FILE).read_text())
    (entry,) = saved.values()
    assert entry["layout"] == first.choice.layout and entry["model"] == "fr_liveness"
    assert cpu_identity() in next(iter(saved))
    again = _onnx(ModelStore(local.home))
    assert again.choice.how == "remembered" and again.choice.layout == first.choice.layout
    # Another thread count is another measurement (the kernels differ).
    assert _onnx(local, threads=2).choice.how == "measured"
    assert len(json.loads((local.home / CHOICES_FILE).read_text())) == 2


def test_a_corrupt_choices_file_is_measured_over(tmp_path: Path, store: ModelStore) -> None:
    local = _home(tmp_path, store)
    (local.home / CHOICES_FILE).write_text("{not json")
    runner = _onnx(local)
    assert runner.choice.how == "measured"
    assert len(json.loads((local.home / CHOICES_FILE).read_text())) == 1
    # An entry naming no known layout is not believed either.
    key = next(iter(json.loads((local.home / CHOICES_FILE).read_text())))
    (local.home / CHOICES_FILE).write_text(json.dumps({key: {"layout": "fastest"}}))
    assert _onnx(ModelStore(local.home)).choice.how == "measured"


def test_a_read_only_home_still_loads(
    tmp_path: Path, store: ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = _home(tmp_path, store)

    def refuse(*_a: object, **_k: object) -> tuple[int, str]:
        raise PermissionError("read-only file system")

    monkeypatch.setattr("models.onnx_layout.tempfile.mkstemp", refuse)
    runner = _onnx(local)
    assert runner.choice.how == "measured"
    assert not (local.home / CHOICES_FILE).exists()
    assert LayoutChoices(local.home).put("k", {"layout": "plain"}) is False


@pytest.mark.parametrize("layout", ["nchwc", "plain"])
def test_the_setting_overrides_the_measurement(
    layout: str, tmp_path: Path, store: ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = _home(tmp_path, store)
    monkeypatch.setenv("LIFECERT_ONNX_LAYOUT", layout)
    runner = _onnx(local)
    assert runner.choice.layout == layout and runner.choice.how.startswith("set by")
    assert not (local.home / CHOICES_FILE).exists()  # nothing measured, nothing remembered


def test_a_mistyped_setting_is_refused(store: ModelStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFECERT_ONNX_LAYOUT", "nchw")
    with pytest.raises(ValueError, match="LIFECERT_ONNX_LAYOUT must be one of auto, nchwc, plain"):
        load_runner(store, "fr_liveness", 1)


def test_a_probe_sets_symbolic_dimensions_to_one() -> None:
    assert probe_input(["batch", 3, 112, 112]).shape == (1, 3, 112, 112)
    assert probe_input([None, 0, 4]).shape == (1, 1, 4)
