"""Voice activity and audio-visual synchrony: the voice must come from the moving mouth.

Energy-based voice activity on 16 kHz mono audio, framed at the video's frame times, is
enough here: we are not recognising words, only asking whether sound rises and falls with
the lips. Sync is the best Pearson correlation between the log-energy envelope and the
mouth-opening series over lags of up to +-0.2 s (phones and browsers offset audio a little).
A replay with other audio dubbed over it, or a still mouth with sound, correlates poorly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import butter, sosfiltfilt

from liveness.video import AUDIO_RATE

MAX_LAG_S = 0.05  # one frame at 25-30 fps
TREND_S = 0.5
SPEECH_BAND_HZ = (300.0, 3000.0)
VOICE_DB_ABOVE_FLOOR = 12.0
SILENT_RMS = 1e-4  # a track this quiet throughout is treated as no audio


@dataclass
class AudioEvidence:
    present: bool
    voiced: np.ndarray  # per analysed frame
    envelope_db: np.ndarray
    sync: float
    lag_s: float

    def as_dict(self) -> dict[str, object]:
        return {
            "present": self.present,
            "voiced_fraction": round(float(self.voiced.mean()) if self.voiced.size else 0.0, 3),
            "av_sync": round(self.sync, 3),
            "lag_s": round(self.lag_s, 3),
        }


def speech_band(audio: np.ndarray) -> np.ndarray:
    sos = butter(4, SPEECH_BAND_HZ, btype="band", fs=AUDIO_RATE, output="sos")
    return sosfiltfilt(sos, audio) if audio.size > 50 else audio


def envelope_at(audio: np.ndarray, times: np.ndarray) -> np.ndarray:
    """RMS energy in dB of the audio around each frame time (one frame period wide)."""
    period = float(np.median(np.diff(times))) if times.size > 1 else 0.04
    half = max(1, int(AUDIO_RATE * period / 2))
    out = np.empty(times.size)
    for i, t in enumerate(times):
        c = int(t * AUDIO_RATE)
        seg = audio[max(0, c - half) : c + half]
        out[i] = 20 * np.log10(np.sqrt(np.mean(seg**2)) + 1e-6) if seg.size else -120.0
    return out


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 5 or np.std(a) < 1e-9 or np.std(b) < 1e-9:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def audio_visual(audio: np.ndarray | None, times: np.ndarray, mar: np.ndarray) -> AudioEvidence:
    empty = np.zeros(times.size, bool)
    if audio is None or audio.size == 0 or float(np.sqrt(np.mean(audio**2))) < SILENT_RMS:
        return AudioEvidence(False, empty, np.full(times.size, -120.0), 0.0, 0.0)
    env = envelope_at(speech_band(audio), times)
    floor = float(np.percentile(env, 10))
    voiced = env > floor + VOICE_DB_ABOVE_FLOOR
    finite = np.isfinite(mar)
    if finite.sum() < 5:
        return AudioEvidence(True, voiced, env, 0.0, 0.0)
    mouth = np.interp(np.arange(mar.size), np.flatnonzero(finite), mar[finite])
    period = float(np.median(np.diff(times))) if times.size > 1 else 0.04
    trend = max(3, round(TREND_S / period) | 1)
    mouth = np.diff(mouth - uniform_filter1d(mouth, trend, mode="nearest"))
    env_fast = np.diff(env - uniform_filter1d(env, trend, mode="nearest"))
    max_lag = max(1, round(MAX_LAG_S / period))
    best, best_lag = -1.0, 0
    for lag in range(-max_lag, max_lag + 1):
        c = (
            _corr(mouth[lag:], env_fast[: env_fast.size - lag])
            if lag >= 0
            else _corr(mouth[:lag], env_fast[-lag:])
        )
        if c > best:
            best, best_lag = c, lag
    return AudioEvidence(True, voiced, env, best, best_lag * period)
