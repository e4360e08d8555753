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
    advisory: bool = False  # reported, but does not decide the verdict
    # An advisory check whose failure sends the attempt to staff instead of certifying it:
    # evidence strong enough to doubt the presentation, not to refuse an elderly person on it.
    refers_to_staff: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "passed": self.passed,
            "score": round(float(self.score), 4),
            "reason": None if self.reason is None else self.reason.as_dict(),
            "evidence": self.evidence,
            "advisory": self.advisory,
            "refers_to_staff": self.refers_to_staff,
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
NO_TURN = Reason(
    "head_turn_not_seen",
    "The head was not turned as asked: turn your head to the side shown when prompted.",
    "未检测到按提示转头，请在提示出现后向指定方向转头。",
)
# The chin did not move with the mouth while the digits were read (liveness/jaw.py). Worded for
# the person in front of the camera, who may well be genuine: the code and the evidence say
# what was seen, for staff; the text does not coach an attacker (as scores are not shown).
JAW_STILL = Reason(
    "jaw_not_moving",
    "A member of staff will look at this recording before it counts.",
    "本次录像需由工作人员复核后生效。",
)
# What the rendered-face model saw, per signal (liveness/rendering.py): en, zh.
RENDERED_SEEN = {
    "texture_reuse": (
        "the skin's fine detail repeats from frame to frame, as when one photo is re-painted",
        "皮肤细节逐帧重复，像由同一张照片反复生成",
    ),
    "background_reuse": ("the background does not change as a camera's does", "背景没有真实摄像头的变化"),
    "head_tremor": (
        "the head moves too smoothly, without a living head's small movements",
        "头部运动过于平滑，缺少真人的细微晃动",
    ),
    "pulse_snr": ("no pulse was seen in the skin's colour", "未从肤色中检测到脉搏变化"),
    "mouth_detail": (
        "the open mouth lacks the contrast of real teeth and mouth",
        "张嘴时口腔内部缺少牙齿等真实细节",
    ),
    "jaw_coupling": ("the lips move without the jaw", "嘴唇运动与下巴不协调"),
    "shape_jitter": (
        "the face's shape wavers from frame to frame, as a face drawn anew each frame does",
        "人脸形状逐帧细微抖动，像逐帧重新生成的画面",
    ),
}


def rendered_face(seen: str) -> Reason:
    """Refusal by the rendered-face model, naming the signal that counted most against it."""
    en, zh = RENDERED_SEEN.get(seen, ("", ""))
    return Reason(
        "rendered_face",
        "The face looks synthetic or re-rendered from a photo" + (f": {en}." if en else "."),
        "画面疑似合成或翻拍的人脸" + (f"：{zh}。" if zh else "。"),
    )
