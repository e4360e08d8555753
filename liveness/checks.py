"""The result of one liveness check: pass/fail, a score, a reason people can act on, evidence."""

from __future__ import annotations

from dataclasses import dataclass, field

from matcher.errors import Reason


@dataclass
class CheckResult:
    name: str
    passed: bool
    score: float
    reason: Reason | None = None
    evidence: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "passed": self.passed,
            "score": round(float(self.score), 4),
            "reason": None if self.reason is None else self.reason.as_dict(),
            "evidence": self.evidence,
        }


NO_BLINK = Reason("blink_not_seen", "No blink was seen: blink when asked.", "未检测到眨眼，请按提示眨眼。")
DIGITS_NOT_READ = Reason(
    "digits_not_read",
    "The digits were not read aloud as shown: read them clearly, one by one.",
    "未检测到按要求读数，请逐个清晰读出屏幕上的数字。",
)
AV_MISMATCH = Reason(
    "voice_not_in_sync",
    "The voice does not match the mouth movement.",
    "声音与口型不一致，请本人正对镜头读数。",
)
DIFFERENT_PEOPLE = Reason(
    "face_changed", "The face changed during the recording.", "录制过程中人脸发生变化，请本人重新认证。"
)
STILL_IMAGE = Reason(
    "no_live_motion",
    "No natural movement was seen: a photo or screen cannot be used.",
    "未检测到真人动作，不能使用照片或屏幕翻拍。",
)
MOTION_BROKEN = Reason(
    "video_discontinuous", "The video is not one continuous recording.", "视频不连续，请重新录制。"
)
SEVERAL_PEOPLE = Reason(
    "several_faces_in_video",
    "More than one face was visible: only one person may be in view.",
    "画面中出现多张人脸，请仅保留一人。",
)
FACE_LOST = Reason(
    "face_not_visible",
    "The face was not visible for long enough: stay in the frame.",
    "人脸未持续出现在画面中，请保持在取景框内。",
)
