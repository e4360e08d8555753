"""A live, guided capture: the server watches the frames as they arrive and runs the challenge.

Why: a clip recorded on the device and uploaded whole can have been recorded anywhere, earlier,
against digits shown in advance. Here the page streams the camera (JPEG frames) and the
microphone (16 kHz PCM) while it captures; the server stamps what arrives with its own clock,
tracks the face frame by frame (``FaceTracker.step``), advises while the person lines up,
decides when each prompt appears (a random pause once the face is steady), says "好的" as soon
as the action is seen (liveness/online.py), prompts once more when it was missed, and shows
the digits only when it prompts them. The verdict is the service's usual one: the whole
capture judged by ``LivenessAnalyzer.analyse`` against the challenge with the windows set to
the moments it was actually prompted (reusing the per-frame measures), then matched and
recorded like an upload.

No FastAPI here: ``api/http/routers/live.py`` carries the messages; this module is the state
machine over (bytes, receive time) and the judgement.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

import numpy as np

from api.certification import judging
from api.certification.errors import INVALID, DomainError, Kind
from liveness import jaw, online
from liveness.challenge import PAUSE_S, Challenge, Prompt
from liveness.tracking import FaceTracker, FrameMeasure, Track
from liveness.video import AUDIO_RATE, BAD_SIZE, MAX_ANALYSED_FPS, MIN_SIDE, Clip
from matcher import FaceMatcher, MatcherError, decode_image
from matcher.errors import Reason
from matcher.templates import Reference

if TYPE_CHECKING:
    from api.certification.service import CertificationService

JPEG_MAGIC = b"\xff\xd8\xff"
LIVE_MAX_SIDE = 1280  # as read_video keeps an uploaded clip's frames (ANALYSIS_MAX_SIDE)
MIN_FRAME_GAP_S = 0.8 / MAX_ANALYSED_FPS  # faster than 30 fps: the extra frames are dropped
PROMPTS_PER_ACTION = 2  # the first prompt and one more when the action was missed
MIN_FACE_WIDTH = 0.2  # of the frame's width: smaller, and the person is asked to come closer
MAX_YAW_DEG = 25.0  # while lining up: beyond this the person is asked to face the camera

NOT_JPEG = Reason("live_frame_not_jpeg", "A camera frame must be a JPEG image.", "摄像头画面须为JPEG图片。")
FRAME_TOO_LARGE = Reason("live_frame_too_large", "A camera frame is too large.", "摄像头画面过大。")
AUDIO_INVALID = Reason(
    "live_audio_invalid", "The sound must be 16 kHz mono 16-bit PCM.", "声音须为16kHz单声道16位PCM。"
)
TOO_FEW_FRAMES = Reason(
    "live_too_few_frames",
    "Too few camera frames reached the service to judge fairly: please start again.",
    "画面传输不够流畅，无法公平判断，请重新开始。",
)
# Below this many measured frames a second the blink and mouth checks lose their footing
# (BENCHMARKS.md, liveness under capture conditions) and the smoothness of the motion reads as
# a cut: a service that fell behind its frames failed genuine captures as "discontinuous"
# (benchmarks/load_live.py). Such a capture is not judged: the person is asked to start
# again, and no failed attempt counts against them.
MIN_JUDGED_FPS = 20.0
TOO_LONG = Reason(
    "live_capture_too_long", "The capture took too long: start again.", "采集时间过长，请重新开始。"
)

# Advice while lining up, as the page says it (api/kiosk_audio.py has the same words, spoken).
ADVICE: dict[str, tuple[str, str]] = {
    "no_face": ("未检测到人脸，请正对镜头", "No face seen: look at the camera"),
    "several_faces": ("画面中只能有一个人", "One face only, please"),
    "face_too_small": ("请靠近一些", "Move closer"),
    "face_turned": ("请正对镜头", "Face the camera"),
    "ok": ("位置合适，请保持不动", "Good position: hold still"),
}

Event = dict[str, object]


@dataclass(frozen=True)
class LiveLimits:
    """Everything a live capture may hold or take, checked as it arrives."""

    max_frame_bytes: int = 512 * 1024  # a 1280x720 JPEG at quality 0.9 is ~200 KB
    max_audio_bytes: int = 32 * 1024  # one message: 1 s of 16 kHz 16-bit mono
    max_capture_s: float = 30.0  # frames at most 30 fps: at most 900 frames held
    # A client's own timestamp is believed only this far before the server received the
    # message (never after): enough to undo network jitter, too little to move an action
    # done before a prompt to after it (the reaction rules ask 0.15-0.2 s on top).
    clock_tolerance_s: float = 0.25
    steady_frames: int = 8  # frames in a row with good advice before the first prompt
    tail_s: float = 0.2  # kept after the last confirmation, so the action ends inside the clip


class PromptPlanner(Protocol):
    """When the next prompt appears: the pause after the face is steady (or an action done).
    Given the challenge so that an oracle (tests, the kiosk benchmark) can time a recorded
    clip to it; the service's planner ignores it."""

    def pause_s(self, challenge: Challenge, action: str, now_s: float) -> float: ...


@dataclass
class RandomPauses:
    """The service's planner: the random pauses of ``ChallengeFactory.issue_random``, from
    ``secrets``, so a recorded clip cannot be timed to them."""

    _rng: secrets.SystemRandom = field(default_factory=secrets.SystemRandom)

    def pause_s(self, challenge: Challenge, action: str, now_s: float) -> float:
        return self._rng.uniform(*PAUSE_S)


class Tracker(Protocol):
    def step(self, image: np.ndarray, index: int, t: float) -> FrameMeasure: ...


@dataclass
class LiveSetup:
    """What the service runs live captures with; tests and the kiosk benchmark swap the clock,
    the planner and (to watch the frames go by) the tracker."""

    clock: Callable[[], float] = time.monotonic
    planner: PromptPlanner = field(default_factory=RandomPauses)
    limits: LiveLimits = field(default_factory=LiveLimits)
    tracker: Callable[[FaceMatcher], Tracker] = FaceTracker


class Phase(StrEnum):
    POSITIONING = "positioning"  # advice until the face is steady
    WAITING = "waiting"  # the pause before the next prompt
    PROMPTED = "prompted"  # watching for the action
    TAIL = "tail"  # the last action seen: a few more frames
    DONE = "done"


@dataclass
class Step:
    """One action of the challenge and the windows it was prompted in (at most two)."""

    action: str
    length_s: float
    windows: list[tuple[float, float]] = field(default_factory=list)
    done: bool = False


def advice_for(m: FrameMeasure, width: int) -> str:
    """The advice code for one measured frame (the codes the page already speaks)."""
    if m.faces > 1:
        return "several_faces"
    if not m.tracked or m.box is None:
        return "no_face"
    if float(m.box[2] - m.box[0]) < MIN_FACE_WIDTH * width:
        return "face_too_small"
    if abs(m.yaw) > MAX_YAW_DEG:
        return "face_turned"
    return "ok"


class LiveCapture:
    """One live capture, fed frames and sound in order with their receive times (seconds of
    the service's clock). Not thread-safe: one caller at a time, in arrival order."""

    def __init__(
        self,
        challenge: Challenge,
        tracker: Tracker,
        setup: LiveSetup,
    ) -> None:
        self.challenge = challenge
        self.tracker = tracker
        self.setup = setup
        self.limits = setup.limits
        self.steps = [Step(p.action, p.end_s - p.start_s) for p in challenge.prompts]
        self.phase = Phase.POSITIONING
        self.frames: list[np.ndarray] = []
        self.measures: list[FrameMeasure] = []
        self._audio: list[np.ndarray] = []
        self._audio_samples = 0
        self._t0: float | None = None
        self._steady = 0
        self._advice = ""
        self._current = 0  # index into steps
        self._next_prompt_s = 0.0
        self._tail_until_s = 0.0
        self._judged_from = 0  # the first frame of the steady run that started the challenge

    # -- what arrives -------------------------------------------------------------------------
    def stamp(self, received_s: float, client_s: float | None) -> float:
        """Seconds since the first frame by the service's clock; the client's own time only
        within ``clock_tolerance_s`` before receipt, never later than receipt."""
        if self._t0 is None:
            self._t0 = received_s
        server = received_s - self._t0
        t = server if client_s is None else min(server, max(client_s, server - self.limits.clock_tolerance_s))
        if t > self.limits.max_capture_s:
            raise DomainError(Kind.INVALID, TOO_LONG, f"over {self.limits.max_capture_s:.0f} s")
        return t

    def frame(self, data: bytes, received_s: float, client_s: float | None = None) -> list[Event]:
        """Check, decode and measure one JPEG frame, then move the challenge on."""
        if len(data) > self.limits.max_frame_bytes:
            raise DomainError(Kind.TOO_LARGE, FRAME_TOO_LARGE, f"limit {self.limits.max_frame_bytes} bytes")
        if not data.startswith(JPEG_MAGIC):
            raise DomainError(Kind.UNSUPPORTED, NOT_JPEG)
        try:
            image = decode_image(data, max_bytes=self.limits.max_frame_bytes)
        except MatcherError as exc:
            raise DomainError(Kind.INVALID, exc.reason, exc.detail) from exc
        h, w = image.shape[:2]
        if min(h, w) < MIN_SIDE or max(h, w) > LIVE_MAX_SIDE:
            raise DomainError(Kind.INVALID, BAD_SIZE, f"{w}x{h}")
        if self.frames and self.frames[0].shape != image.shape:
            raise DomainError(Kind.INVALID, BAD_SIZE, "the frame size changed during the capture")
        t = self.stamp(received_s, client_s)
        if self.measures and t - self.measures[-1].t < MIN_FRAME_GAP_S:
            return []
        if self.phase is Phase.DONE:
            return []
        m = self.tracker.step(image, len(self.frames), t)
        if self._reading() and self.measures:  # the jaw check's motion, measured as it arrives
            m.chin_motion = jaw.chin_motion(self.frames[-1], image, self.measures[-1], m)
        self.frames.append(image)
        self.measures.append(m)
        return self._advance(m, w)

    def audio(self, data: bytes, received_s: float, client_s: float | None = None) -> None:
        """Append 16 kHz mono int16 PCM ending at its stamp. Sound is laid end to end (the
        microphone's own clock is steadier than arrival times), padded with silence where it
        falls behind the stamp, and cut where it would run ahead of the time received."""
        if not data or len(data) > self.limits.max_audio_bytes or len(data) % 2:
            raise DomainError(Kind.INVALID, AUDIO_INVALID, f"{len(data)} bytes")
        if self._t0 is None:
            return  # sound before the first frame has nothing to be in step with
        end = round(self.stamp(received_s, client_s) * AUDIO_RATE)
        chunk = np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
        slack = round(self.limits.clock_tolerance_s * AUDIO_RATE)
        gap = end - chunk.size - self._audio_samples
        if gap > slack:
            self._add_audio(np.zeros(gap, np.float32))
        self._add_audio(chunk[: max(0, end + slack - self._audio_samples)])

    def _add_audio(self, samples: np.ndarray) -> None:
        if samples.size:
            self._audio.append(samples)
            self._audio_samples += samples.size

    # -- the challenge ------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.phase is Phase.DONE

    @property
    def revealed(self) -> bool:
        """Whether any prompt was shown (then the session cannot be handed out again)."""
        return any(step.windows for step in self.steps)

    def _reading(self) -> bool:
        """Whether the digits prompt is up (the frames the jaw check will read)."""
        return self.phase is Phase.PROMPTED and self.steps[self._current].action == "digits"

    def _now(self) -> float:
        """The service's clock now, on the capture's time line: a prompt starts when it is
        sent, after the frames already received (which therefore cannot count for it)."""
        return self.setup.clock() - (self._t0 or 0.0)

    def _advance(self, m: FrameMeasure, width: int) -> list[Event]:
        events: list[Event] = []
        if self.phase is Phase.POSITIONING:
            code = advice_for(m, width)
            self._steady = self._steady + 1 if code == "ok" else 0
            if code != self._advice:
                self._advice = code
                zh, en = ADVICE[code]
                events.append({"type": "advice", "code": code, "message_zh": zh, "message_en": en})
            if self._steady >= self.limits.steady_frames:
                self._judged_from = len(self.measures) - self._steady
                self._schedule(m.t)
        elif self.phase is Phase.WAITING and m.t >= self._next_prompt_s:
            events.append(self._prompt())
        elif self.phase is Phase.PROMPTED:
            events.extend(self._watch(m.t))
        elif self.phase is Phase.TAIL and m.t >= self._tail_until_s:
            self.phase = Phase.DONE
        return events

    def _schedule(self, now_s: float) -> None:
        step = self.steps[self._current]
        self._next_prompt_s = now_s + self.setup.planner.pause_s(self.challenge, step.action, now_s)
        self.phase = Phase.WAITING

    def _prompt(self) -> Event:
        step = self.steps[self._current]
        start = max(self._now(), self.measures[-1].t)
        step.windows.append((start, start + step.length_s))
        self.phase = Phase.PROMPTED
        event: Event = {
            "type": "prompt",
            "action": step.action,
            "window_s": round(step.length_s, 2),
            "repeat": len(step.windows) > 1,
        }
        if step.action == "digits":
            event["digits"] = self.challenge.digits  # the only place the digits are shown
        if step.action == "blink":
            event["blinks"] = self.challenge.blinks
        return event

    def _seen(self, step: Step, start: float, end: float, now: float) -> bool:
        if step.action == "blink":
            return online.blinks_seen(self.measures, start, end) >= max(self.challenge.blinks, 1)
        if step.action == "digits":
            return online.digits_read(
                self.measures, self.challenge.digits, self.challenge.language, start, end, now
            )
        return online.turned(self.measures, step.action.removeprefix("turn_"), start, end)

    def _watch(self, now: float) -> list[Event]:
        step = self.steps[self._current]
        start, end = step.windows[-1]
        if now >= start and self._seen(step, start, min(end, now), now):
            step.done = True
            step.windows[-1] = (start, now)  # the window closes when the action was seen
            return [{"type": "ok", "action": step.action}, *self._next(now)]
        if now <= end:
            return []
        if step.action == "digits" and online.digits_read_as_judged(
            self.measures, self.challenge.digits, self.challenge.language, start, end
        ):
            step.done = True  # read, one or two syllables short: not asked again
            return [{"type": "ok", "action": step.action}, *self._next(now)]
        if len(step.windows) < PROMPTS_PER_ACTION:
            self._schedule(now)
            return [{"type": "missed", "action": step.action}]
        # Missed twice: the capture ends, and its judgement says why it failed.
        self.phase = Phase.DONE
        return [{"type": "missed", "action": step.action, "final": True}]

    def _next(self, now: float) -> list[Event]:
        self._current += 1
        if self._current < len(self.steps):
            self._schedule(now)
        else:
            self.phase = Phase.TAIL
            self._tail_until_s = now + self.limits.tail_s
        return []

    # -- what is judged -----------------------------------------------------------------------
    def judged(self) -> tuple[Challenge, Clip, Track]:
        """What the verdict is given: the capture from the first frame of the steady run that
        started the challenge (lining up is advice, as the upload's recording starts after its
        countdown: a person who took a while to find the camera must not fail ``face_present``),
        on a time line starting there, with the challenge's prompts on the same time line."""
        first = self._judged_from
        t0 = self.measures[first].t if self.measures else 0.0
        measures = [replace(m, index=m.index - first, t=m.t - t0) for m in self.measures[first:]]
        times = np.array([m.t for m in measures], dtype=np.float64)
        audio = np.concatenate(self._audio)[round(t0 * AUDIO_RATE) :] if self._audio else None
        clip = Clip(self.frames[first:], times, audio, source="live")
        return self._prompted(t0), clip, Track(measures, self._tracker_timings())

    def _prompted(self, t0: float) -> Challenge:
        """The session's challenge with each prompt at the moment it was last shown, until it
        was seen or its window closed. An action never prompted (the capture ended on an earlier
        miss) keeps an empty window at the end, so its check fails too instead of vanishing."""
        end = self.measures[-1].t if self.measures else t0

        def window(s: Step) -> Prompt:
            a, b = s.windows[-1] if s.windows else (end, end)
            return Prompt(s.action, round(a - t0, 3), round(b - t0, 3))

        return replace(self.challenge, prompts=tuple(window(s) for s in self.steps))

    def _tracker_timings(self) -> dict[str, float]:
        timings = getattr(self.tracker, "timings_ms", None)
        return timings() if callable(timings) else {}


class LiveLoad:
    """How far behind its frames each running live capture is measured, so that no new one is
    admitted while any falls behind.

    The fixed number of places (``settings.live_captures``) is what a quiet host carries; a
    host also judging uploads, or sharing its cores, carries fewer, and a capture measured too
    slowly is not judged (``MIN_JUDGED_FPS``): the person must start again. So a new capture
    is refused (the page then records and uploads) while any running one waits more than
    ``LAG_LIMIT_S`` between a frame's arrival and its measure (smoothed over a few frames): a
    service that keeps up answers within one measure, one that does not lets the page's
    in-flight frames (up to 10, 0.4 s) pile up. The lag is the service's own, whatever the
    device's frame rate."""

    LAG_LIMIT_S = 0.2
    SMOOTHING = 0.2  # per frame: about a fifth of a second at 25 frames/s

    def __init__(self) -> None:
        self._lag: dict[int, float] = {}
        self._lock = threading.Lock()

    def measured(self, capture: object, lag_s: float) -> None:
        with self._lock:
            before = self._lag.get(id(capture), lag_s)
            self._lag[id(capture)] = before + self.SMOOTHING * (lag_s - before)

    def ended(self, capture: object) -> None:
        with self._lock:
            self._lag.pop(id(capture), None)

    def behind(self) -> bool:
        with self._lock:
            return any(lag > self.LAG_LIMIT_S for lag in self._lag.values())


def judge(svc: CertificationService, capture: LiveCapture, references: list[Reference]) -> judging.Judgement:
    """The full judgement of a finished capture, in one of the analysis slots, reusing the
    per-frame measures taken while it arrived."""
    if not capture.measures:
        raise DomainError(Kind.INVALID, INVALID, "no frame was received")
    challenge, clip, track = capture.judged()
    rate = clip.fps
    if rate < MIN_JUDGED_FPS:
        raise DomainError(
            Kind.UNAVAILABLE,
            TOO_FEW_FRAMES,
            f"{rate:.1f} frames/s measured, {MIN_JUDGED_FPS:.0f} needed",
            retry_after_s=1,
        )
    with svc.analysis_slots:
        return judging.judge_frames(svc, challenge, clip, references, track=track)
