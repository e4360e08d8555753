"""The face-quality gate: measured values, and a reason for every refusal.

Limits are physical, not fitted to our test photos: a face needs enough pixels between
the eyes for the embedder's 112x112 crop, enough fine detail (variance of the Laplacian
of the aligned crop), light inside the sensor's useful range, a head turned little enough
for a frontal-trained embedder, and, on an ID photo, open eyes and a single face.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from matcher.errors import Reason

TOO_SMALL = Reason(
    "face_too_small", "The face is too small: move closer to the camera.", "人脸过小，请靠近镜头。"
)
BLURRED = Reason(
    "face_blurred", "The face is blurred: hold still and clean the lens.", "人脸模糊，请保持不动并擦拭镜头。"
)
TOO_DARK = Reason("too_dark", "The face is too dark: find more light.", "光线太暗，请到光线充足处。")
TOO_BRIGHT = Reason(
    "too_bright", "The face is over-exposed: avoid direct light or glare.", "光线过强，请避开强光直射。"
)
TURNED = Reason(
    "face_turned", "The head is turned too far: look straight at the camera.", "头部偏转过大，请正对镜头。"
)
EYES_CLOSED = Reason("eyes_closed", "The eyes are closed: keep your eyes open.", "检测到闭眼，请睁开眼睛。")
SEVERAL_FACES = Reason(
    "several_faces",
    "More than one face is visible: only one person may be in view.",
    "画面中有多张人脸，请仅保留一人。",
)
LOW_CONFIDENCE = Reason(
    "face_unclear", "The face cannot be seen clearly: remove any covering.", "人脸不清晰，请摘除遮挡物。"
)


@dataclass(frozen=True)
class QualityLimits:
    """Limits of the gate. ``reference`` photos (ID/enrolment) get the strict set."""

    min_inter_ocular_px: float = 28.0
    min_sharpness: float = 40.0  # variance of Laplacian on the grey 112x112 aligned crop
    min_brightness: float = 45.0
    max_brightness: float = 215.0
    max_yaw_deg: float = 35.0
    max_pitch_deg: float = 30.0
    min_eye_aspect: float = 0.10
    min_presence: float = 0.5
    check_eyes: bool = False
    single_face: bool = False


REFERENCE_LIMITS = QualityLimits(max_yaw_deg=25.0, max_pitch_deg=25.0, check_eyes=True, single_face=True)
PROBE_LIMITS = QualityLimits()

# FaceMesh's brow-to-chin line leans back about 8 degrees on frontal portraits (measured on
# the deepface photos, which are frontal); pitch is reported relative to that.
PITCH_ZERO_DEG = -8.0


@dataclass
class QualityReport:
    inter_ocular_px: float
    sharpness: float
    brightness: float
    yaw_deg: float
    pitch_deg: float
    roll_deg: float
    presence: float
    faces: int
    eye_aspect: float | None = None
    reasons: list[Reason] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.reasons

    def as_dict(self) -> dict[str, object]:
        return {
            "passed": self.passed,
            "reasons": [r.as_dict() for r in self.reasons],
            "inter_ocular_px": round(self.inter_ocular_px, 1),
            "sharpness": round(self.sharpness, 1),
            "brightness": round(self.brightness, 1),
            "yaw_deg": round(self.yaw_deg, 1),
            "pitch_deg": round(self.pitch_deg, 1),
            "roll_deg": round(self.roll_deg, 1),
            "presence": round(self.presence, 3),
            "faces": self.faces,
            "eye_aspect": None if self.eye_aspect is None else round(self.eye_aspect, 3),
        }


def sharpness_of(crop_bgr: np.ndarray) -> float:
    grey = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def brightness_of(crop_bgr: np.ndarray) -> float:
    """Mean grey level of the central face region (ignores background and hair)."""
    grey = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY)
    return float(grey[30:100, 24:88].mean())


def assess(
    *,
    crop_bgr: np.ndarray,
    inter_ocular_px: float,
    pose: tuple[float, float, float],
    presence: float,
    faces: int,
    eye_aspect: float | None,
    limits: QualityLimits,
) -> QualityReport:
    yaw, pitch, roll = pose
    report = QualityReport(
        inter_ocular_px=inter_ocular_px,
        sharpness=sharpness_of(crop_bgr),
        brightness=brightness_of(crop_bgr),
        yaw_deg=yaw,
        pitch_deg=pitch - PITCH_ZERO_DEG,
        roll_deg=roll,
        presence=presence,
        faces=faces,
        eye_aspect=eye_aspect,
    )
    checks = [
        (faces > 1 and limits.single_face, SEVERAL_FACES),
        (presence < limits.min_presence, LOW_CONFIDENCE),
        (inter_ocular_px < limits.min_inter_ocular_px, TOO_SMALL),
        (report.brightness < limits.min_brightness, TOO_DARK),
        (report.brightness > limits.max_brightness, TOO_BRIGHT),
        (report.sharpness < limits.min_sharpness, BLURRED),
        (abs(yaw) > limits.max_yaw_deg or abs(report.pitch_deg) > limits.max_pitch_deg, TURNED),
        (limits.check_eyes and eye_aspect is not None and eye_aspect < limits.min_eye_aspect, EYES_CLOSED),
    ]
    report.reasons = [reason for failed, reason in checks if failed]
    return report
