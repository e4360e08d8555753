"""Face embedders: aligned 112x112 crop -> L2-normalised vector; cosine compares two.

Two registry models are wired in: ``fr_feature`` (512-d, ONNX, onnxruntime) and
``mobilefacenet`` (192-d, TFLite, LiteRT). A preset may fuse both and add the mirrored
face ("flip" test-time augmentation). Fusion concatenates each normalised embedding
scaled by the square root of its weight, so the cosine of two fused vectors is exactly
the weighted mean of the per-model cosines, and a person's template stays one vector.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from models import ModelRunner


def l2_normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(l2_normalise(a), l2_normalise(b)))


class FrFeatureEmbedder:
    """faceplugin ``fr_feature``: 1x3x112x112, (x - 127) / 128, BGR channel order.

    BGR was measured against RGB on the LFW folds (BENCHMARKS.md); keep whichever wins.
    """

    dims = 512

    def __init__(self, runner: ModelRunner, channel_order: str = "bgr") -> None:
        self._runner = runner
        self._rgb = channel_order == "rgb"

    def raw(self, crop_bgr: np.ndarray) -> np.ndarray:
        img = crop_bgr[:, :, ::-1] if self._rgb else crop_bgr
        blob = (img.astype(np.float32) - 127.0) / 128.0
        return self._runner(blob.transpose(2, 0, 1)[None])[0][0]

    def __call__(self, crop_bgr: np.ndarray, flip: bool) -> np.ndarray:
        vec = l2_normalise(self.raw(crop_bgr))
        if flip:
            vec = vec + l2_normalise(self.raw(np.ascontiguousarray(crop_bgr[:, ::-1])))
        return l2_normalise(vec)


class MobileFaceNetEmbedder:
    """expo ``MobileFaceNet``: 2x112x112x3 NHWC RGB, (x - 127.5) / 128, fixed batch of 2.

    The fixed batch of two is used rather than fought: the face and its mirror image go
    through in one call, so flip augmentation costs nothing extra here.
    """

    dims = 192

    def __init__(self, runner: ModelRunner) -> None:
        self._runner = runner

    def __call__(self, crop_bgr: np.ndarray, flip: bool) -> np.ndarray:
        rgb = crop_bgr[:, :, ::-1]
        pair = np.stack([rgb, rgb[:, ::-1] if flip else rgb])
        out = self._runner((pair.astype(np.float32) - 127.5) / 128.0)[0]
        vecs = l2_normalise(out)
        return l2_normalise(vecs[0] + vecs[1]) if flip else vecs[0]


class InsightFaceEmbedder:
    """A locally licensed ArcFace ONNX file (`lifecert models add`), run by insightface's
    own model-zoo class, which reads the file's normalisation and channel order itself."""

    def __init__(self, path: str) -> None:
        try:
            from insightface.model_zoo import get_model
        except ImportError as exc:
            raise ImportError(
                "local ArcFace models need insightface: `make install` installs it "
                "(pip install --no-deps insightface onnx scikit-image requests)"
            ) from exc
        self._model = get_model(path, providers=["CPUExecutionProvider"])
        if type(self._model).__name__ != "ArcFaceONNX":
            raise ValueError(f"{path} is not an ArcFace recognition model ({type(self._model).__name__})")
        self.dims = int(self._model.get_feat(np.zeros((112, 112, 3), np.uint8)).shape[-1])

    def __call__(self, crop_bgr: np.ndarray, flip: bool) -> np.ndarray:
        crops = [crop_bgr, np.ascontiguousarray(crop_bgr[:, ::-1])] if flip else [crop_bgr]
        vecs = l2_normalise(self._model.get_feat(crops).astype(np.float32))
        return l2_normalise(vecs.sum(axis=0))


class FusedEmbedder:
    """Weighted concatenation of several embedders (see the module docstring)."""

    def __init__(self, parts: Sequence[object], weights: Sequence[float], flip: bool) -> None:
        total = float(sum(weights))
        self._parts = list(parts)
        self._scales = [np.sqrt(w / total) for w in weights]
        self.flip = flip
        self.dims = sum(p.dims for p in self._parts)  # type: ignore[attr-defined]

    def __call__(self, crop_bgr: np.ndarray) -> np.ndarray:
        pieces = [s * part(crop_bgr, self.flip) for part, s in zip(self._parts, self._scales, strict=True)]  # type: ignore[operator]
        return np.concatenate(pieces).astype(np.float32)

    def split(self, vec: np.ndarray) -> list[np.ndarray]:
        """Per-model normalised pieces of a fused vector (for per-model scores in reports)."""
        out, start = [], 0
        for part in self._parts:
            end = start + part.dims  # type: ignore[attr-defined]
            out.append(l2_normalise(vec[start:end]))
            start = end
        return out
