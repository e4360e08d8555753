"""The model store refuses tampered weights; install is idempotent and hash-checked.

These tests reuse the package archives that ``lifecert models install`` already cached,
so they never touch the network.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import pytest

from matcher import FaceMatcher
from models import ModelError, ModelStore, load_manifest, load_runner
from models.install import install_models
from models.manifest import _manifest_text
from models.runtime import default_threads


def _home_with_cached_archives(tmp_path: Path, store: ModelStore) -> Path:
    home = tmp_path / "home"
    shutil.copytree(store.package_cache, home / "packages", ignore=shutil.ignore_patterns("tmp*"))
    return home


def test_every_shipped_model_is_installed_and_intact(store: ModelStore) -> None:
    for key in store.manifest.models:
        assert store.check(key) == (True, "ok"), key


def test_tampered_weight_is_refused(tmp_path: Path, store: ModelStore) -> None:
    home = _home_with_cached_archives(tmp_path, store)
    local = ModelStore(home)
    result = install_models(local, ["fr_liveness"], log=lambda _m: None)
    assert result.installed == ["fr_liveness"]
    path = local.path_of(local.manifest.models["fr_liveness"])
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    fresh = ModelStore(home)
    assert fresh.check("fr_liveness")[0] is False
    with pytest.raises(ModelError, match="SHA-256 mismatch"):
        load_runner(fresh, "fr_liveness")
    # Installing again repairs it from the verified archive.
    assert install_models(fresh, ["fr_liveness"], log=lambda _m: None).installed == ["fr_liveness"]
    assert ModelStore(home).check("fr_liveness") == (True, "ok")


def test_install_is_idempotent(tmp_path: Path, store: ModelStore) -> None:
    local = ModelStore(_home_with_cached_archives(tmp_path, store))
    install_models(local, ["iris"], log=lambda _m: None)
    again = install_models(local, ["iris"], log=lambda _m: None)
    assert again.installed == [] and again.already_present == ["iris"]


def test_weight_whose_hash_differs_from_manifest_is_not_placed(tmp_path: Path, store: ModelStore) -> None:
    spec = store.manifest.models["iris"]
    text = _manifest_text().replace(spec.sha256, "0" * 64)
    local = ModelStore(_home_with_cached_archives(tmp_path, store), load_manifest(text))
    with pytest.raises(ModelError, match="does not match the manifest"):
        install_models(local, ["iris"], log=lambda _m: None)
    assert not local.path_of(spec).exists()


def test_unknown_model_names_are_refused(store: ModelStore) -> None:
    with pytest.raises(ModelError, match="unknown model"):
        store.verified_path("nope")


def test_manifest_rejects_preset_with_unknown_embedder() -> None:
    text = (
        _manifest_text()
        + '\n[presets.bad]\nembedders = ["ghost"]\nweights = [1.0]\nflip = false\nthreshold = 0.3\n'
    )
    with pytest.raises(ValueError, match="unknown embedders"):
        load_manifest(text)


def test_models_and_opencv_run_on_one_thread_unless_asked(
    store: ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service's parallelism is its processes, one clip per core: a second thread inside
    every model and OpenCV call cost 28-33 % more CPU per clip (BENCHMARKS.md). OpenCV's pool
    belongs to the process, so the matcher has to set it along with its models'."""
    monkeypatch.delenv("LIFECERT_THREADS", raising=False)
    assert default_threads() == 1
    before = cv2.getNumThreads()
    try:
        cv2.setNumThreads(4)
        FaceMatcher(store)
        assert cv2.getNumThreads() == 1
        FaceMatcher(store, threads=2)
        assert cv2.getNumThreads() == 2
        monkeypatch.setenv("LIFECERT_THREADS", "3")
        assert default_threads() == 3
        for bad in ("two", "0", ""):
            monkeypatch.setenv("LIFECERT_THREADS", bad)
            with pytest.raises(ValueError, match="LIFECERT_THREADS must be a whole number"):
                default_threads()
    finally:
        cv2.setNumThreads(before)
