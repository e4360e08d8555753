"""Service errors with stable codes and messages in Chinese and English (RFC 9457 bodies).

A failed verification never suspends anyone by itself: every message says what to do next.
No HTTP here: ``api.http.problems`` maps each ``Kind`` to a status, once.
"""

from __future__ import annotations

from enum import StrEnum

from matcher.errors import Reason

NEXT_STEP_ZH = "请重试，或前往社区服务中心、社保经办窗口办理。"
NEXT_STEP_EN = "Please retry, or go to your community service centre or social-insurance counter."


class Kind(StrEnum):
    """What went wrong, in the domain's words; the HTTP layer maps each kind to one status."""

    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    GONE = "gone"
    INVALID = "invalid"
    TOO_LARGE = "too_large"
    UNSUPPORTED = "unsupported"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"


class DomainError(Exception):
    """A refusal with a stable reason. ``keep_work``: the transaction it interrupts is still
    committed, for refusals that must leave a trace (a deceased person's attempt is flagged
    for review and audited, then refused)."""

    def __init__(
        self, kind: Kind, reason: Reason, detail: str = "", *, keep_work: bool = False, **extra: object
    ) -> None:
        self.kind = kind
        self.reason = reason
        self.detail = detail
        self.keep_work = keep_work
        self.extra = extra
        super().__init__(f"{reason.code}: {detail or reason.en}")

    def __reduce__(self) -> tuple[object, ...]:
        # Raised in a worker process, it must cross back whole (the default pickling of an
        # exception replays only its message).
        return (_rebuild, (self.kind, self.reason, self.detail, self.keep_work, self.extra))


def _rebuild(
    kind: Kind, reason: Reason, detail: str, keep_work: bool, extra: dict[str, object]
) -> DomainError:
    return DomainError(kind, reason, detail, keep_work=keep_work, **extra)


UNAUTHENTICATED = Reason("unauthenticated", "A valid API key is required.", "需要有效的接入密钥。")
FORBIDDEN = Reason("forbidden", "This client may not do that.", "该终端无权执行此操作。")
RATE_LIMITED = Reason("rate_limited", "Too many requests: wait a moment.", "请求过于频繁，请稍后再试。")
NOT_FOUND = Reason(
    "person_not_found",
    "No person with that ID number and name. " + NEXT_STEP_EN,
    "未找到该身份证号与姓名对应的人员。" + NEXT_STEP_ZH,
)
DECEASED = Reason(
    "person_deceased",
    "This person cannot be certified: please go to the social-insurance counter.",
    "该人员无法认证，请前往社保经办窗口办理。",
)
NO_REFERENCE = Reason(
    "no_reference_photo",
    "No ID photo is on file yet: please go to the counter to enrol.",
    "尚未登记身份照片，请前往窗口办理登记。",
)
SESSION_UNKNOWN = Reason("session_unknown", "Unknown certification session.", "认证会话不存在。")
SESSION_EXPIRED = Reason(
    "session_expired", "The session has expired: start again.", "认证已超时，请重新开始。"
)
SESSION_USED = Reason(
    "session_used", "This session was already used: start again.", "该认证已完成或已失效，请重新开始。"
)
TOO_MANY_ATTEMPTS = Reason(
    "too_many_attempts",
    "Too many failed attempts: " + NEXT_STEP_EN,
    "失败次数过多。" + NEXT_STEP_ZH,
)
CONSENT_REQUIRED = Reason(
    "consent_required",
    "Consent to the personal-information rules is required before the face scan.",
    "人脸采集前须同意《个人信息处理规则》。",
)
BAD_UPLOAD = Reason(
    "bad_upload", "The upload is not an accepted video or image.", "上传的文件不是可接受的视频或图片。"
)
UPLOAD_TOO_LARGE = Reason("upload_too_large", "The upload is too large.", "上传文件过大。")
NOT_LINKED = Reason(
    "proxy_not_linked",
    "This helper is not registered for this person.",
    "该代办人未登记为此人员的代认证人。",
)
INVALID = Reason("invalid_request", "The request is invalid.", "请求参数有误。")
RUN_DONE = Reason("payment_run_done", "That month's payment run is already recorded.", "该月待遇发放已处理。")
RUN_NOT_DUE = Reason(
    "payment_run_not_due",
    "That month's payment run cannot be decided before its cut-off day.",
    "未到该月发放截止日，不能处理该月发放。",
)
NO_SUCH_PROMPT = Reason("prompt_not_found", "No spoken prompt by that name.", "没有该语音提示。")
FACE_MISMATCH = Reason(
    "face_mismatch",
    "The face does not match the photo on file. " + NEXT_STEP_EN,
    "人脸与登记照片不一致。" + NEXT_STEP_ZH,
)
NEEDS_STAFF_REVIEW = Reason(
    "needs_staff_review",
    "Passed, but staff must review the case before payments change; you will be contacted.",
    "认证已提交，需工作人员审核后生效，请留意通知。",
)
BUSY = Reason(
    "service_busy",
    "The service is busy checking other people: please try again in a few seconds.",
    "系统繁忙，请稍等几秒后重试。",
)
LIVE_FULL = Reason(
    "live_capture_full",
    "Every live capture place is taken: the recorded capture is used instead.",
    "实时采集名额已满，改用录制方式。",
)
STORAGE_UNAVAILABLE = Reason(
    "storage_unavailable",
    "Records cannot be written right now; nothing was lost. Please try again in a few minutes.",
    "暂时无法保存记录，已提交的信息不会丢失，请几分钟后重试。",
)
FOUR_EYES = Reason(
    "four_eyes",
    "Another staff member must decide a case you submitted.",
    "您提交的材料须由另一名工作人员审核。",
)
PROXY_ELSEWHERE = Reason(
    "proxy_registered_elsewhere",
    "This helper is registered through another device or app: certify from there, or at the counter.",
    "该代办人已在其他设备或应用登记，请在原设备办理或前往窗口。",
)
CHANNEL_NOT_ALLOWED = Reason(
    "channel_not_allowed",
    "This device cannot open a certification on that channel.",
    "该终端不能以此方式发起认证。",
)
CAPTURE_MISMATCH = Reason(
    "session_capture_mismatch",
    "This session was opened for the other way of capturing (live or upload): start again.",
    "该认证会话的采集方式不符，请重新开始。",
)
