"""Typed view of ``models/manifest.toml``: packages, weight files and matcher presets."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class PackageSpec:
    """A registry package that carries weights, pinned by version and archive hash."""

    key: str
    registry: str  # "npm" or "pypi"
    name: str
    version: str
    sha256: str
    license: str = ""

    @property
    def pinned(self) -> str:
        return f"{self.name}@{self.version}" if self.registry == "npm" else f"{self.name}=={self.version}"


@dataclass(frozen=True)
class ModelSpec:
    """One weight file inside a package, with the hash it must have."""

    key: str
    package: str
    path: str  # path of the file inside the package archive
    sha256: str
    role: str

    @property
    def filename(self) -> str:
        return self.key + Path(self.path).suffix


@dataclass(frozen=True)
class PresetSpec:
    """A matcher configuration: which embedders, their fusion weights, flip TTA, threshold.

    The threshold lives next to the embedders it was calibrated for, so that a
    change of model can never silently keep an old threshold.
    """

    key: str
    embedders: tuple[str, ...]
    weights: tuple[float, ...]
    flip: bool
    threshold: float
    calibration: str = ""
    description: str = ""


@dataclass(frozen=True)
class Manifest:
    packages: dict[str, PackageSpec]
    models: dict[str, ModelSpec]
    presets: dict[str, PresetSpec] = field(default_factory=dict)
    default_preset: str = "fast"


def _manifest_text() -> str:
    return resources.files("models").joinpath("manifest.toml").read_text(encoding="utf-8")


def load_manifest(text: str | None = None) -> Manifest:
    """Parse the manifest shipped with the package (or ``text`` for tests)."""
    data = tomllib.loads(text if text is not None else _manifest_text())
    packages = {k: PackageSpec(key=k, **v) for k, v in data.get("packages", {}).items()}
    models = {k: ModelSpec(key=k, **v) for k, v in data.get("models", {}).items()}
    for spec in models.values():
        if spec.package not in packages:
            raise ValueError(f"model {spec.key!r} names unknown package {spec.package!r}")
    presets = {}
    for k, v in data.get("presets", {}).items():
        preset = PresetSpec(
            key=k,
            embedders=tuple(v["embedders"]),
            weights=tuple(float(w) for w in v["weights"]),
            flip=bool(v["flip"]),
            threshold=float(v["threshold"]),
            calibration=v.get("calibration", ""),
            description=v.get("description", ""),
        )
        if len(preset.embedders) != len(preset.weights):
            raise ValueError(f"preset {k!r}: one weight per embedder")
        unknown = [e for e in preset.embedders if e not in models]
        if unknown:
            raise ValueError(f"preset {k!r} names unknown embedders {unknown}")
        presets[k] = preset
    default = data.get("default_preset", next(iter(presets), ""))
    return Manifest(packages=packages, models=models, presets=presets, default_preset=default)
