"""Locally licensed models a user adds by hand (never downloaded): `lifecert models add FILE`.

insightface's ArcFace models (e.g. buffalo_l ``w600k_r50.onnx``) are non-commercial by
default; an operator who holds a licence can add the file. It is checked to be an
ArcFace-style embedder (one 3x112x112 input, one embedding output), hashed, copied under
``$LIFECERT_HOME/models/local/`` and recorded in ``local.json`` there; from then on it is
verified by that hash like every packaged model, and offered as a matcher preset of the
same name once it has a threshold (calibrate it with `lifecert bench --preset NAME`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from models.integrity import ModelError, sha256_of
from models.manifest import Manifest, ModelSpec, PackageSpec, PresetSpec

LOCAL_PACKAGE = PackageSpec(
    key="local",
    registry="local",
    name="added by the operator",
    version="-",
    sha256="-",
    license="the operator's own licence",
)
NAME = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


@dataclass(frozen=True)
class LocalModel:
    key: str
    sha256: str
    source: str
    added_at: str
    dims: int
    threshold: float | None = None

    def spec(self) -> ModelSpec:
        return ModelSpec(
            key=self.key, package="local", path=f"local/{self.key}.onnx", sha256=self.sha256, role="embedder"
        )

    def preset(self) -> PresetSpec:
        return PresetSpec(
            key=self.key,
            embedders=(self.key,),
            weights=(1.0,),
            flip=False,
            threshold=float("nan") if self.threshold is None else self.threshold,
            calibration="set by the operator",
            description=f"local model from {self.source}",
        )


def registry_file(model_dir: Path) -> Path:
    return model_dir / "local" / "local.json"


def read_local(model_dir: Path) -> dict[str, LocalModel]:
    path = registry_file(model_dir)
    if not path.exists():
        return {}
    return {k: LocalModel(**v) for k, v in json.loads(path.read_text(encoding="utf-8")).items()}


def with_local(manifest: Manifest, model_dir: Path) -> Manifest:
    """The packaged manifest plus the operator's local models and their presets."""
    local = read_local(model_dir)
    if not local:
        return manifest
    return Manifest(
        packages={**manifest.packages, "local": LOCAL_PACKAGE},
        models={**manifest.models, **{k: m.spec() for k, m in local.items()}},
        presets={**manifest.presets, **{k: m.preset() for k, m in local.items()}},
        default_preset=manifest.default_preset,
    )


def _embedding_dims(path: Path) -> int:
    """The output size if ``path`` is an ArcFace-style ONNX embedder, else a ModelError."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises several types for unreadable graphs
        raise ModelError(f"{path} is not a readable ONNX model ({exc.__class__.__name__})") from exc
    inputs, outputs = session.get_inputs(), session.get_outputs()
    shape = list(inputs[0].shape) if len(inputs) == 1 else []
    if len(shape) != 4 or shape[1:] != [3, 112, 112]:
        raise ModelError(f"{path.name}: expected one 1x3x112x112 input (an ArcFace embedder), got {shape}")
    dims = outputs[0].shape[-1] if len(outputs) == 1 else None
    if not isinstance(dims, int) or dims < 64:
        raise ModelError(f"{path.name}: expected one embedding output, got {[o.shape for o in outputs]}")
    return dims


def add_local_model(
    model_dir: Path, source: Path, key: str, threshold: float | None, reserved: set[str]
) -> LocalModel:
    if not NAME.match(key) or key in reserved:
        raise ModelError(
            f"name {key!r}: use 2-32 lowercase letters, digits or _, not one of {sorted(reserved)}"
        )
    if not source.is_file():
        raise ModelError(f"{source} does not exist")
    if source.stat().st_size > 1 << 30:
        raise ModelError(f"{source} is larger than 1 GiB")
    dims = _embedding_dims(source)
    digest = sha256_of(source)
    local = read_local(model_dir)
    if key in local and local[key].sha256 != digest:
        raise ModelError(f"a different file is already registered as {key!r}; choose another name")
    target = model_dir / "local" / f"{key}.onnx"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    shutil.copyfile(source, tmp)
    if sha256_of(tmp) != digest:
        tmp.unlink()
        raise ModelError(f"{source} changed while it was being copied")
    os.replace(tmp, target)
    entry = LocalModel(
        key,
        digest,
        str(source.resolve()),
        datetime.now(UTC).isoformat(timespec="seconds"),
        dims,
        threshold if threshold is not None else (local[key].threshold if key in local else None),
    )
    local[key] = entry
    registry = registry_file(model_dir)
    tmp_reg = registry.with_suffix(".part")
    tmp_reg.write_text(json.dumps({k: asdict(v) for k, v in local.items()}, indent=2), encoding="utf-8")
    os.replace(tmp_reg, registry)
    return entry
