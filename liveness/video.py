"""Read a response clip (mp4/webm/mov/mpg via PyAV, or JPEG frames) with its limits checked,
and write one as a phone would (tests and benchmarks re-encode the real clips that way).

PyAV carries FFmpeg inside its wheel, so phone (H.264/AAC, VP8/Opus) and GRID (MPEG-1/MP2)
clips decode with no system packages, and the audio track comes from the same container.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from matcher import MatcherError
from matcher.errors import Reason

MAX_FILE_BYTES = 60 * 1024 * 1024
MIN_DURATION_S = 1.5
MAX_DURATION_S = 40.0
AUDIO_BEYOND_VIDEO_S = 1.0  # sound kept past the last frame
MIN_SIDE, MAX_SIDE = 240, 3840  # of the picture as filmed: from 240p up to a phone's 4K
# What the analysis keeps, whatever the phone filmed: frames no longer than 1280 px on their
# longer side, at most 30 a second. The models look at 128-192 px crops, and blinks last 3+
# frames at 25-30 fps, so nothing is lost; but a 40 s 1080p60 clip decoded whole would hold
# 15 GB of pixels, and a 4K one four times that.
ANALYSIS_MAX_SIDE = 1280
MAX_ANALYSED_FPS = 30.0
AUDIO_RATE = 16000

UNREADABLE = Reason("video_unreadable", "The video cannot be read.", "无法读取视频文件。")
NO_FRAMES = Reason("video_no_frames", "The video has no picture.", "视频中没有画面。")
TOO_SHORT = Reason(
    "video_too_short", "The video is too short: follow every prompt.", "视频过短，请按提示完成全部动作。"
)
TOO_LONG = Reason("video_too_long", "The video is too long.", "视频过长。")
BAD_SIZE = Reason("video_size", "The video resolution is not supported.", "视频分辨率不受支持。")
VIDEO_TOO_LARGE = Reason("video_file_too_large", "The video file is too large.", "视频文件过大。")


class VideoError(MatcherError):
    """A clip that cannot be analysed; carries a Reason like the matcher's errors."""


@dataclass
class Clip:
    """Decoded frames (BGR), their timestamps in seconds from the first frame, optional mono audio."""

    frames: list[np.ndarray]
    times: np.ndarray
    audio: np.ndarray | None = None  # float32 mono at AUDIO_RATE
    source: str = ""

    @property
    def fps(self) -> float:
        return (len(self.times) - 1) / max(self.duration_s, 1e-6)

    @property
    def duration_s(self) -> float:
        return float(self.times[-1] - self.times[0]) if len(self.times) > 1 else 0.0


def _check_size(w: int, h: int) -> None:
    if min(h, w) < MIN_SIDE or max(h, w) > MAX_SIDE:
        raise VideoError(BAD_SIZE, f"{w}x{h}")


def _check(clip: Clip) -> Clip:
    if not clip.frames:
        raise VideoError(NO_FRAMES)
    if clip.duration_s < MIN_DURATION_S:
        raise VideoError(TOO_SHORT, f"{clip.duration_s:.2f} s < {MIN_DURATION_S} s")
    if clip.duration_s > MAX_DURATION_S:
        raise VideoError(TOO_LONG, f"{clip.duration_s:.2f} s > {MAX_DURATION_S} s")
    return clip


def read_video(path: str | Path, *, with_audio: bool = True) -> Clip:
    p = Path(path)
    if not p.is_file():
        raise VideoError(Reason("file_missing", "The file does not exist.", "文件不存在。"), str(p))
    if p.stat().st_size > MAX_FILE_BYTES:
        raise VideoError(VIDEO_TOO_LARGE, f"{p.stat().st_size} bytes")
    frames: list[np.ndarray] = []
    times: list[float] = []
    audio = None
    try:
        with av.open(str(p)) as container:
            if not container.streams.video:
                raise VideoError(NO_FRAMES)
            stream = container.streams.video[0]
            # One converter for the whole clip: FFmpeg's swscale then sets up its colour
            # conversion once, where ``frame.to_ndarray(format=...)`` set it up again for every
            # frame. The pixels are bit-identical; on the load bench's 512x512 clip the
            # conversion went from ~1.7 to ~0.5 ms a frame (BENCHMARKS.md, session 10).
            reformatter = VideoReformatter()
            decoded = 0
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                decoded += 1
                if frame.time > MAX_DURATION_S + 1 or decoded > MAX_DURATION_S * 121:
                    raise VideoError(TOO_LONG)
                if not frames:
                    _check_size(frame.width, frame.height)
                elif frame.time - times[-1] < 0.8 / MAX_ANALYSED_FPS:
                    continue  # above 30 fps: every other frame is enough
                frames.append(_analysis_frame(frame, reformatter))
                times.append(float(frame.time))
        if with_audio and times:
            audio = _read_audio(p, until_s=times[-1] + AUDIO_BEYOND_VIDEO_S)
    except av.error.FFmpegError as exc:
        raise VideoError(UNREADABLE, str(exc)) from exc
    t = np.asarray(times, dtype=np.float64)
    if t.size:
        t = t - t[0]
    return _check(Clip(frames, t, audio, source=str(p)))


def _analysis_frame(frame: av.VideoFrame, reformatter: VideoReformatter) -> np.ndarray:
    """The frame as it is meant to be seen, at most ANALYSIS_MAX_SIDE long.

    Phones film portrait into landscape frames and tag the file with a display rotation
    (counterclockwise degrees, FFmpeg's convention) instead of turning the pixels; a player
    applies it, and so must we: with the face on its side, mouth, eyes and identity were
    measured wrongly and 20 of 41 bona fide clips failed (BENCHMARKS.md, capture conditions)."""
    turns = round((frame.rotation or 0) / 90) % 4  # read before reformat, which drops it
    scale = ANALYSIS_MAX_SIDE / max(frame.width, frame.height)
    if scale < 1:
        width, height = 2 * round(frame.width * scale / 2), 2 * round(frame.height * scale / 2)
        image = reformatter.reformat(frame, width=width, height=height, format="bgr24").to_ndarray()
    else:
        image = reformatter.reformat(frame, format="bgr24").to_ndarray()
    return np.ascontiguousarray(np.rot90(image, k=turns)) if turns else image


def _read_audio(path: Path, until_s: float) -> np.ndarray | None:
    """The first audio track as mono float32 at 16 kHz, or None when there is none.

    Decoded only as far as the video goes (``until_s``) and never past MAX_DURATION_S of
    sound: a small file can carry hours of silent audio behind a 3 s video (a 2.4 MB MP4
    with 10 h of AAC took 170 s and 6.5 GB to decode whole)."""
    limit = int((min(until_s, MAX_DURATION_S) + AUDIO_BEYOND_VIDEO_S) * AUDIO_RATE)
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
        chunks: list[np.ndarray] = []
        kept = 0
        for frame in container.decode(container.streams.audio[0]):
            if (frame.time is not None and frame.time > until_s) or kept > limit:
                break
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
                kept += chunks[-1].size
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    return np.concatenate(chunks)[:limit].astype(np.float32) if chunks else None


def write_mp4(
    path: Path,
    frames: Sequence[np.ndarray],
    fps: float,
    *,
    audio: np.ndarray | None = None,
    rotation: int = 0,
    crf: int = 18,
) -> Path:
    """H.264 (and AAC) in MP4, as a phone uploads it. ``rotation`` stores the frames turned
    and tags the file with that display rotation, as phones store portrait video."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=round(fps))
        h, w = frames[0].shape[:2]
        video.width, video.height = (h, w) if rotation % 180 else (w, h)
        video.pix_fmt = "yuv420p"
        video.options = {"crf": str(crf), "preset": "ultrafast"}
        video.set_display_rotation(rotation)
        sound = container.add_stream("aac", rate=AUDIO_RATE, layout="mono") if audio is not None else None
        for image in frames:
            stored = np.ascontiguousarray(np.rot90(image, k=-rotation // 90))
            container.mux(video.encode(av.VideoFrame.from_ndarray(stored, format="bgr24")))
        container.mux(video.encode())
        if sound is not None and audio is not None:
            for start in range(0, audio.size, 1024):
                chunk = np.clip(audio[start : start + 1024], -1, 1).reshape(1, -1).astype(np.float32)
                frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
                frame.sample_rate, frame.pts = AUDIO_RATE, start
                container.mux(sound.encode(frame))
            container.mux(sound.encode())
    return path
