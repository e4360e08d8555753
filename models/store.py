"""Where installed weights live and how they are verified before use."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from models.integrity import ModelError, sha256_of
from models.local import with_local
from models.manifest import Manifest, ModelSpec, load_manifest

__all__ = ["ModelError", "ModelStore", "default_home", "sha256_of"]


def default_home() -> Path:
    """``$LIFECERT_HOME`` or the user's cache directory: one place for models and data."""
    env = os.environ.get("LIFECERT_HOME")
    return Path(env) if env else Path(platformdirs.user_cache_dir("lifecert"))


class ModelStore:
    """The installed model directory. Every path it hands out has been hash-checked once."""

    def __init__(self, home: Path | None = None, manifest: Manifest | None = None) -> None:
        self.home = home or default_home()
        self.manifest = with_local(manifest or load_manifest(), self.model_dir)
        self._verified: set[str] = set()

    @property
    def model_dir(self) -> Path:
        return self.home / "models"

    @property
    def package_cache(self) -> Path:
        return self.home / "packages"

    def path_of(self, spec: ModelSpec) -> Path:
        if spec.package == "local":
            return self.model_dir / spec.path
        return self.model_dir / spec.filename

    def check(self, key: str) -> tuple[bool, str]:
        """(ok, reason) for one model, without raising: used by ``models verify``."""
        spec = self.manifest.models[key]
        path = self.path_of(spec)
        if not path.is_file():
            return False, "not installed"
        actual = sha256_of(path)
        if actual != spec.sha256:
            return False, f"SHA-256 mismatch (expected {spec.sha256[:12]}…, found {actual[:12]}…)"
        return True, "ok"

    def verified_path(self, key: str) -> Path:
        """The file for ``key``, refusing anything whose hash differs from the manifest."""
        if key not in self.manifest.models:
            raise ModelError(f"unknown model {key!r}; known: {', '.join(self.manifest.models)}")
        path = self.path_of(self.manifest.models[key])
        if key not in self._verified:
            ok, reason = self.check(key)
            if not ok:
                how = (
                    "Add the file again with `lifecert models add`"
                    if self.manifest.models[key].package == "local"
                    else "Run `lifecert models install` (it re-fetches the package, checking every hash)"
                )
                raise ModelError(f"model {key!r} at {path}: {reason}. {how}.")
            self._verified.add(key)
        return path
