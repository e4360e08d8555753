"""Spoken prompts for the kiosk page (语音提示), made once at install time with espeak-ng.

Why files and not only the browser's speech synthesis: Chromium on a Linux kiosk usually
has no Chinese voice, so without files the prompts would be silent for exactly the people
who need them most. espeak-ng comes from Debian (``apt-get install espeak-ng``) and has a
Mandarin voice (``cmn``); it is robotic but clear, and it needs no network. The files are
made into ``$LIFECERT_HOME/kiosk-audio/<lang>/<key>.mp3`` (MP3 plays in every browser;
PyAV, already here for video, encodes it) with an ``index.json`` that the
page reads to know what it can play; where a file is missing the page falls back to the
browser's voice, and with the sound off it works unchanged from the on-screen text.

The page speaks nothing while the reader's voice is being judged: the digit instructions
are part of the plan spoken before recording starts, and the blink prompt falls outside
the digit window (liveness/analyse.py compares voice and lips inside that window only).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import av

# key -> (Chinese, English). The page shows the same words (tests/test_kiosk_audio.py
# checks that every Chinese phrase here appears in the page's script or markup).
PHRASES: dict[str, tuple[str, str]] = {
    # The plan, said before recording. The page asks for a challenge in its own language
    # (SessionIn.language), so the English page's digits are read, and judged, in English.
    "plan_blink": ("请正对屏幕，准备眨眼", "Face the screen, and get ready to blink."),
    "plan_digits": (
        "请正对屏幕，准备读数字",
        "Face the screen, and get ready to read digits aloud.",
    ),
    "plan_blink_digits": ("请先眨眼，再读数字", "First blink, then read the digits aloud."),
    "plan_digits_blink": ("请先读数字，再眨眼", "First read the digits aloud, then blink."),
    "count_3": ("三", "three"),
    "count_2": ("二", "two"),
    "count_1": ("一", "one"),
    "blink": ("请眨眼", "Please blink."),
    "blink_2": ("请眨眼两次", "Please blink twice."),
    "turn_left": ("请向左转头", "Please turn your head to your left."),
    "turn_right": ("请向右转头", "Please turn your head to your right."),
    "plan_steps": ("请按屏幕提示，一步一步做", "Follow the prompts on the screen, one step at a time."),
    # The live capture (api/certification/live.py): an action seen, an action missed.
    "confirmed": ("好的", "OK"),
    "again": ("没看到，请再做一次", "Not seen: once more, please."),
    "advice_hold": ("位置合适，请保持不动", "Good position: hold still"),
    "passed": ("认证成功", "Certification passed."),
    "failed": ("认证未通过，请看屏幕", "Not passed. Please read the screen."),
    "failed_title": ("认证未通过", "Not certified this time"),
    "review": ("已提交，待工作人员审核", "Submitted for staff review."),
    "notice": ("请看屏幕上的说明", "Please read the screen."),
    # Live advice while the person lines up (before recording only).
    "advice_ok": ("位置合适，可以开始", "Good position: you can start"),
    "advice_no_face": ("未检测到人脸，请正对镜头", "No face seen: look at the camera"),
    "advice_several_faces": ("画面中只能有一个人", "One face only, please"),
    "advice_face_too_small": ("请靠近一些", "Move closer"),
    "advice_too_dark": ("光线太暗，请到明亮处", "Too dark: find more light"),
    "advice_too_bright": ("光线太强，请避开强光", "Too bright: avoid strong light"),
    "advice_face_turned": ("请正对镜头", "Face the camera"),
    "advice_face_blurred": ("请保持不动", "Hold still"),
    "advice_down": ("暂时连不上服务，请稍候", "The service cannot be reached: please wait"),
    # Why it did not work and what to do, one at a time (the page's REASONS, same words).
    "reason_blink_not_seen": (
        "没看到眨眼，听到提示请慢慢眨眼。",
        "No blink was seen: blink slowly when asked.",
    ),
    "reason_digits_not_read": (
        "没听清读数，请逐个大声读出数字。",
        "The digits were not heard: read each one aloud.",
    ),
    "reason_voice_not_in_sync": (
        "声音和口型对不上，请本人读数字。",
        "The voice did not match the mouth: the person reads.",
    ),
    "reason_face_changed": (
        "中途换了人，请本人一直对着镜头。",
        "The face changed: the same person stays in view.",
    ),
    "reason_no_live_motion": ("没看到真人，不能用照片或屏幕。", "No live person seen: no photos or screens."),
    "reason_video_discontinuous": ("录像不连续，请再录一次。", "The recording broke off: record again."),
    "reason_several_faces_in_video": (
        "画面里有多人，请只留本人。",
        "Several faces seen: only the person stays in view.",
    ),
    "reason_face_not_visible": ("请把脸一直放在圆圈里。", "Keep the face inside the circle until the end."),
    "reason_face_mismatch": (
        "和登记照片不像，可再试或去窗口。",
        "The face does not match the photo: retry, or go to the counter.",
    ),
    "reason_challenge_expired": ("时间到了，请重新开始。", "Time ran out. Please start again."),
    "reason_session_expired": ("认证已超时，请重新开始。", "The session has expired: start again."),
    "reason_person_not_found": (
        "没找到此人，请核对证件号和姓名。",
        "No one found: check the ID number and the name.",
    ),
    "reason_too_many_attempts": (
        "失败次数过多，请30分钟后再试。",
        "Too many failed tries: try again in 30 minutes.",
    ),
    "reason_service_unavailable": (
        "连不上服务，请稍后再试。",
        "The service cannot be reached: try again later.",
    ),
    "reason_upload_slow": ("网络太慢，视频没传上去。", "The connection was too slow to send the video."),
}
VOICES = {"zh": "cmn", "en": "en"}
# Slower than espeak-ng's 175 words a minute: the listeners are 60 to 100 years old.
WORDS_PER_MINUTE = {"zh": 160, "en": 150}
MP3_BIT_RATE = 32_000  # speech: ~4 KB a second, so a phone on mobile data fetches it at once
INDEX = "index.json"


class KioskAudioError(RuntimeError):
    pass


def audio_dir(home: Path) -> Path:
    return home / "kiosk-audio"


def build_prompts(out_dir: Path, espeak: str | None = None) -> dict[str, dict[str, str]]:
    """Write every phrase in both languages as MP3, skipping files already made from the
    same text; returns the index the page reads ({lang: {key: text}})."""
    binary = espeak or shutil.which("espeak-ng")
    if binary is None:
        raise KioskAudioError(
            "espeak-ng not found: install it (Debian: apt-get install espeak-ng). "
            "The kiosk page still works without it, with on-screen prompts and the browser's voice."
        )
    previous = read_index(out_dir)
    index: dict[str, dict[str, str]] = {}
    for lang, voice in VOICES.items():
        folder = out_dir / lang
        folder.mkdir(parents=True, exist_ok=True)
        index[lang] = {}
        for key, texts in PHRASES.items():
            text = texts[0] if lang == "zh" else texts[1]
            target = folder / f"{key}.mp3"
            if previous.get(lang, {}).get(key) != text or not _is_audio(target):
                _speak(binary, voice, WORDS_PER_MINUTE[lang], text, target)
            index[lang][key] = text
    partial = out_dir / (INDEX + ".part")
    partial.write_text(json.dumps(index, ensure_ascii=False, indent=1), encoding="utf-8")
    partial.replace(out_dir / INDEX)  # the page never reads half an index
    return index


def read_index(out_dir: Path) -> dict[str, dict[str, str]]:
    """What was made, or nothing when the prompts were never built (the page then falls back)."""
    try:
        return json.loads((out_dir / INDEX).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _speak(binary: str, voice: str, rate: int, text: str, target: Path) -> None:
    wav, partial = target.with_suffix(".wav.part"), target.with_suffix(".mp3.part")
    cmd = [binary, "-v", voice, "-s", str(rate), "-w", str(wav), text]
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)
        _encode_mp3(wav, partial)
    except (OSError, subprocess.SubprocessError, av.error.FFmpegError) as exc:
        partial.unlink(missing_ok=True)
        raise KioskAudioError(f"could not make {target.name}: {exc}") from exc
    finally:
        wav.unlink(missing_ok=True)
    if not _is_audio(partial):
        partial.unlink(missing_ok=True)
        raise KioskAudioError(f"espeak-ng wrote no usable audio for {target.name}")
    partial.replace(target)  # never a half-written file under the served name


def _encode_mp3(wav: Path, mp3: Path) -> None:
    with av.open(str(wav)) as source, av.open(str(mp3), "w", format="mp3") as sink:
        stream = sink.add_stream("libmp3lame", rate=22050, layout="mono")
        stream.bit_rate = MP3_BIT_RATE
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=22050)
        for frame in [*source.decode(audio=0), None]:
            for chunk in resampler.resample(frame):
                sink.mux(stream.encode(chunk))
        sink.mux(stream.encode(None))


def _is_audio(path: Path) -> bool:
    try:
        with av.open(str(path)) as container:
            return bool(container.streams.audio) and (container.duration or 0) > 0
    except (OSError, av.error.FFmpegError):
        return False
