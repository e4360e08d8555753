"""Voice activity and audio-visual synchrony: the voice must come from the moving mouth.

Energy-based voice activity on 16 kHz mono audio, framed at the video's frame times, is
enough here: we are not recognising words, only asking whether sound rises and falls with
the lips. Sync is the best Pearson correlation between the log-energy envelope and the
mouth-opening series over lags of up to +-MAX_LAG_S (one frame at 25-30 fps).
A replay with other audio dubbed over it, or a still mouth with sound, correlates poorly.

Pictures played backwards under the original sound are caught by a paired comparison that
needs no fixed level: the same measure is taken again with the mouth series reversed, and
if the reversed mouth fits the voice better than the mouth as recorded, the pictures run
backwards. On the 30 GRID clips the recorded mouth fits better in 29 (by -0.02 to +0.47).

Limit, measured: another GRID sentence dubbed over a GRID clip still reaches a sync of
0.15 or more in about half the cases (the sentences share one template and rhythm, and a
3-second clip holds ~12 syllables). Hand-made lip/energy features do not separate that
cleanly (also tried: lip gap and area over eye distance, jaw opening, band energies, lag
significance, closures against silence); a trained audio-visual sync network would, but no
registry package ships one (syncnet-python 0.2.3 downloads its weights at run time).
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
    # The same measure with the mouth series run backwards: higher than ``sync`` when the
    # pictures play backwards under forward sound (a naive reversal keeps the audio).
    sync_backwards: float

    def as_dict(self) -> dict[str, object]:
        return {
            "present": self.present,
            "voiced_fraction": round(float(self.voiced.mean()) if self.voiced.size else 0.0, 3),
            "av_sync": round(self.sync, 3),
            "lag_s": round(self.lag_s, 3),
            "av_sync_mouth_backwards": round(self.sync_backwards, 3),
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
        return AudioEvidence(False, empty, np.full(times.size, -120.0), 0.0, 0.0, 0.0)
    if times.size < 5:  # e.g. a digit window that the clip does not reach: nothing to compare
        return AudioEvidence(True, empty, np.full(times.size, -120.0), 0.0, 0.0, 0.0)
    env = envelope_at(speech_band(audio), times)
    floor = float(np.percentile(env, 10))
    voiced = env > floor + VOICE_DB_ABOVE_FLOOR
    finite = np.isfinite(mar)
    if finite.sum() < 5:
        return AudioEvidence(True, voiced, env, 0.0, 0.0, 0.0)
    mouth = np.interp(np.arange(mar.size), np.flatnonzero(finite), mar[finite])
    period = float(np.median(np.diff(times))) if times.size > 1 else 0.04
    trend = max(3, round(TREND_S / period) | 1)
    env_fast = _fast_changes(env, trend)
    max_lag = max(1, round(MAX_LAG_S / period))
    sync, lag = _best_sync(_fast_changes(mouth, trend), env_fast, max_lag)
    sync_backwards, _ = _best_sync(_fast_changes(mouth[::-1], trend), env_fast, max_lag)
    return AudioEvidence(True, voiced, env, sync, lag * period, sync_backwards)


def _fast_changes(series: np.ndarray, trend: int) -> np.ndarray:
    """Frame-to-frame change of a series once its slow trend (over ``trend`` frames) is removed."""
    return np.diff(series - uniform_filter1d(series, trend, mode="nearest"))


def _best_sync(mouth: np.ndarray, env: np.ndarray, max_lag: int) -> tuple[float, int]:
    best, best_lag = -1.0, 0
    for lag in range(-max_lag, max_lag + 1):
        c = _corr(mouth[lag:], env[: env.size - lag]) if lag >= 0 else _corr(mouth[:lag], env[-lag:])
        if c > best:
            best, best_lag = c, lag
    return best, best_lag
