"""From pixels to a verdict: detect -> choose the face -> mesh -> quality -> align -> embed.

One ``FaceMatcher`` owns the loaded models (loading takes ~100 ms; reuse the object).
Two roles: a *reference* photo (ID or enrolment) must hold exactly one clear face; a
*probe* (live capture) uses the largest face near the centre, as a kiosk frame or a
phone selfie does, and as LFW's labelled centre person does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum

import cv2
import numpy as np

from matcher import errors
from matcher.alignment import align_face
from matcher.calibration import Calibration, load_calibration
from matcher.detection import Detection, FaceDetector
from matcher.embedding import FrFeatureEmbedder, FusedEmbedder, InsightFaceEmbedder, MobileFaceNetEmbedder
from matcher.eyes import EyeStateEstimator
from matcher.landmarks import FaceMesh, MeshPredictor, roi_from_detection
from matcher.quality import PROBE_LIMITS, REFERENCE_LIMITS, QualityReport, assess
from models import ModelStore, load_runner
from models.manifest import PresetSpec
from models.runtime import default_threads

# A second face counts when its box area is at least this share of the largest face.
COMPANION_FACE_AREA = 0.25


class Role(StrEnum):
    REFERENCE = "reference"
    PROBE = "probe"


@dataclass
class FaceResult:
    """Everything learnt about the chosen face of one image."""

    detection: Detection
    mesh: FaceMesh
    five_points: np.ndarray
    crop: np.ndarray
    quality: QualityReport
    embedding: np.ndarray | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass
class Verdict:
    score: float
    threshold: float
    match: bool
    reference: FaceResult
    probe: FaceResult
    per_model_scores: dict[str, float]


def choose_face(faces: list[Detection], image_shape: tuple[int, ...]) -> Detection:
    """Of the faces at least a quarter the size of the largest, the one nearest the centre."""
    largest = max(f.width * f.height for f in faces)
    candidates = [f for f in faces if f.width * f.height >= COMPANION_FACE_AREA * largest]
    centre = np.array([image_shape[1] / 2, image_shape[0] / 2])
    return min(candidates, key=lambda f: float(np.linalg.norm(f.centre - centre)))


def _embedder_for(key: str, store: ModelStore, threads: int | None) -> object:
    if store.manifest.models[key].package == "local":
        return InsightFaceEmbedder(str(store.verified_path(key)))
    runner = load_runner(store, key, threads)
    if key == "fr_feature":
        return FrFeatureEmbedder(runner)
    if key == "mobilefacenet":
        return MobileFaceNetEmbedder(runner)
    raise errors.MatcherError(
        errors.Reason("unknown_embedder", f"No embedder wiring for {key!r}.", f"未知的特征模型 {key}。")
    )


class FaceMatcher:
    def __init__(
        self,
        store: ModelStore | None = None,
        preset: str | None = None,
        threads: int | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        """``calibration``: the threshold table in force; by default the deployment's
        ``$LIFECERT_HOME/calibration.toml``, else the shipped default (matcher/calibration.py)."""
        self.store = store or ModelStore()
        threads = threads if threads is not None else default_threads()
        # OpenCV's thread pool is the process's, not this matcher's: the models' thread count
        # is applied to it too, or its idle threads cost more CPU than the models' (models/
        # runtime.py, default_threads).
        cv2.setNumThreads(threads)
        manifest = self.store.manifest
        self.preset: PresetSpec = manifest.presets[preset or manifest.default_preset]
        self.detector = FaceDetector(
            load_runner(self.store, "blazeface_short", threads),
            load_runner(self.store, "blazeface_full", threads),
        )
        self.mesh = MeshPredictor(load_runner(self.store, "facemesh", threads))
        self.eyes = EyeStateEstimator(load_runner(self.store, "iris", threads))
        parts = [_embedder_for(k, self.store, threads) for k in self.preset.embedders]
        self.embedder = FusedEmbedder(parts, self.preset.weights, self.preset.flip)
        self.calibration = calibration or load_calibration(
            self.store.home, self.preset.key, self.preset.threshold, models=self.models_fingerprint
        )

    @property
    def models_fingerprint(self) -> str:
        """Which embedder weights the scores come from: a calibration holds only for these."""
        models = self.store.manifest.models
        return ",".join(f"{k}:{models[k].sha256[:12]}" for k in self.preset.embedders)

    @property
    def threshold(self) -> float:
        """The operating threshold of the calibration in force (not the LFW preset value)."""
        return self.calibration.threshold  # NaN for a local model never calibrated

    def analyse(self, image_bgr: np.ndarray, role: Role, *, embed: bool = True) -> FaceResult:
        """The chosen face with its quality report; raises MatcherError when there is none."""
        timings: dict[str, float] = {}
        t = time.perf_counter()
        faces = self.detector(image_bgr)
        timings["detect"] = _ms_since(t)
        if not faces:
            raise errors.MatcherError(errors.NO_FACE)
        chosen = choose_face(faces, image_bgr.shape)
        largest = max(f.width * f.height for f in faces)
        companions = sum(1 for f in faces if f.width * f.height >= COMPANION_FACE_AREA * largest)

        t = time.perf_counter()
        mesh = self.mesh(image_bgr, roi_from_detection(chosen))
        five = mesh.five_points()
        timings["landmarks"] = _ms_since(t)

        t = time.perf_counter()
        crop = align_face(image_bgr, five)
        timings["align"] = _ms_since(t)

        t = time.perf_counter()
        limits = REFERENCE_LIMITS if role is Role.REFERENCE else PROBE_LIMITS
        eye_aspect = self.eyes(image_bgr, mesh).mean_ear if limits.check_eyes else None
        quality = assess(
            crop_bgr=crop,
            inter_ocular_px=mesh.inter_ocular(),
            pose=mesh.pose_degrees(),
            presence=mesh.presence,
            faces=companions,
            eye_aspect=eye_aspect,
            limits=limits,
        )
        timings["quality"] = _ms_since(t)
        result = FaceResult(chosen, mesh, five, crop, quality, timings_ms=timings)
        if embed:
            t = time.perf_counter()
            result.embedding = self.embedder(crop)
            timings["embed"] = _ms_since(t)
        return result

    def compare(self, a: np.ndarray, b: np.ndarray) -> float:
        """Cosine of two (fused) embeddings: the weighted mean of per-model cosines."""
        return float(np.dot(a, b))

    def verify(self, reference_bgr: np.ndarray, probe_bgr: np.ndarray) -> Verdict:
        """1:1 match. Raises MatcherError when either face fails the quality gate."""
        if self.threshold != self.threshold:  # NaN: a local model not yet calibrated
            raise errors.MatcherError(
                errors.Reason(
                    "preset_not_calibrated",
                    f"Preset {self.preset.key!r} has no threshold yet: run `lifecert bench --preset "
                    f"{self.preset.key}` and add it again with --threshold.",
                    f"特征模型 {self.preset.key} 尚未标定阈值。",
                )
            )
        ref = self.analyse(reference_bgr, Role.REFERENCE)
        probe = self.analyse(probe_bgr, Role.PROBE)
        for label, res in (("ID photo", ref), ("live photo", probe)):
            if not res.quality.passed:
                first = res.quality.reasons[0]
                raise errors.MatcherError(
                    first, f"{label}: " + ", ".join(r.code for r in res.quality.reasons)
                )
        assert ref.embedding is not None and probe.embedding is not None
        score = self.compare(ref.embedding, probe.embedding)
        per_model = {
            key: float(np.dot(x, y))
            for key, x, y in zip(
                self.preset.embedders,
                self.embedder.split(ref.embedding),
                self.embedder.split(probe.embedding),
                strict=True,
            )
        }
        return Verdict(score, self.threshold, score >= self.threshold, ref, probe, per_model)


def _ms_since(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0
