"""Which onnxruntime graph layout runs a model faster on this CPU: measured once, remembered.

At its highest optimisation level onnxruntime rewrites convolutions into its blocked NCHWc
layout (the ``NchwcTransformer``). That is meant to be the fast path, and on session 9's VM
the shipped speeds were measured with it. On session 11's VM (an Intel Xeon with AVX-512 at
2.0 GHz) the same rewrite made ``fr_feature`` 2.5 times slower on one thread (101 ms a face
against 40 ms without it), with outputs equal to 5e-7 (BENCHMARKS.md, session 11). Which
layout wins is a property of the CPU, not of the code, so neither is hard-coded: the first
load on a machine times both on the model's own input shape and keeps the faster, and the
answer is kept in the model home, keyed by the model's hash, the onnxruntime version, the
thread count and the CPU, so later loads (every CLI call, every worker) do not pay for it.

``LIFECERT_ONNX_LAYOUT`` overrides the measurement: ``nchwc`` (onnxruntime's default) or
``plain`` (every optimisation but the layout rewrite); ``auto`` (the default) measures.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

LAYOUTS = ("auto", "nchwc", "plain")
CHOICES_FILE = "onnx-layouts.json"
WARM_RUNS = 2
TIMED_RUNS = 5  # per layout, interleaved so that a busy moment hits both alike
# The rewrite is onnxruntime's own default: it is kept unless leaving it out is clearly faster,
# so that noise between two near-equal timings never flips a machine's choice.
MIN_GAIN = 0.10


def layout_setting() -> str:
    """``LIFECERT_ONNX_LAYOUT``, checked: a typo must not silently mean "measure"."""
    value = os.environ.get("LIFECERT_ONNX_LAYOUT", "auto")
    if value not in LAYOUTS:
        raise ValueError(f"LIFECERT_ONNX_LAYOUT must be one of {', '.join(LAYOUTS)}, not {value!r}")
    return value


def cpu_identity() -> str:
    """The CPU as the kernels see it: model name and instruction-set flags (Linux), else what
    the platform module knows. A home copied to another machine measures again there."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        info = ""
    fields: dict[str, str] = {}
    for line in info.splitlines():
        name, _, value = line.partition(":")
        fields.setdefault(name.strip(), value.strip())
    model = fields.get("model name") or platform.processor() or platform.machine()
    flags = " ".join(sorted(fields.get("flags", "").split()))
    return f"{model} [{hashlib.sha256(flags.encode()).hexdigest()[:12]}]"


@dataclass(frozen=True)
class LayoutChoice:
    layout: str  # "nchwc" or "plain"
    how: str  # "measured", "remembered" or "set by LIFECERT_ONNX_LAYOUT"
    ms: dict[str, float]  # median ms per run of each layout, when measured


class LayoutChoices:
    """The remembered choices of one model home (a small JSON file, replaced atomically)."""

    def __init__(self, home: Path) -> None:
        self.path = home / CHOICES_FILE

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}  # none yet, or unreadable: measure again and write a good one
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> dict[str, Any] | None:
        entry = self._read().get(key)
        if isinstance(entry, dict) and entry.get("layout") in ("nchwc", "plain"):
            return entry
        return None

    def put(self, key: str, entry: dict[str, Any]) -> bool:
        """Remember one choice; False when the home is read-only (the choice then holds for
        this process only, and the next one measures again)."""
        data = self._read()
        data[key] = entry
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".onnx-layouts-")
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, indent=1, sort_keys=True)
            os.replace(tmp, self.path)  # a reader sees the old file or the new one, never half
        except OSError:
            return False
        return True


def choice_key(model_sha256: str, ort_version: str, threads: int, cpu: str) -> str:
    return f"{model_sha256[:16]} onnxruntime {ort_version} threads {threads} {cpu}"


def faster_layout(
    runs: dict[str, Callable[[], object]], clock: Callable[[], float] = time.perf_counter
) -> tuple[str, dict[str, float]]:
    """Time each layout's run (warm-up first, then interleaved rounds) and return the chosen
    layout with the median ms of each."""
    for run in runs.values():
        for _ in range(WARM_RUNS):
            run()
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(TIMED_RUNS):
        for name, run in runs.items():
            t0 = clock()
            run()
            samples[name].append((clock() - t0) * 1000.0)
    ms = {name: round(statistics.median(s), 2) for name, s in samples.items()}
    chosen = "plain" if ms["plain"] < (1.0 - MIN_GAIN) * ms["nchwc"] else "nchwc"
    return chosen, ms


def probe_input(shape: list[object], dtype: type = np.float32) -> np.ndarray:
    """A zero tensor of the input's shape, with any symbolic dimension (a batch) set to 1."""
    return np.zeros([d if isinstance(d, int) and d > 0 else 1 for d in shape], dtype=dtype)
