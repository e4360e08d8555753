"""Load verified weights into the runtime that suits them.

ONNX files run on onnxruntime. The MediaPipe and MobileFaceNet ``.tflite`` files run on
ai-edge-litert (LiteRT with XNNPACK), measured about ten times faster on 2 cores than the
same graphs converted to ONNX, and with no TensorFlow installed (see BENCHMARKS.md).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Protocol

import numpy as np

from models.onnx_layout import (
    LayoutChoice,
    LayoutChoices,
    choice_key,
    cpu_identity,
    faster_layout,
    layout_setting,
    probe_input,
)
from models.store import ModelStore


def default_threads() -> int:
    """Threads per model and for OpenCV (``LIFECERT_THREADS``; default 1).

    One, because a service judges many clips at once, one per core (api/certification/
    workers.py), and a second thread inside each model or OpenCV call only adds waiting and
    hand-over: on 2 cores, judging GRID and talking clips with 1 thread cost 28-33 % less
    process CPU than with 2 and 6-12 % more wall time per clip; OpenCV's pool was most of the
    waste (BENCHMARKS.md, "Cost per certification", session 8). A single photo's match is
    1-3 ms slower on 1 thread (BENCHMARKS.md, face verification speed); set 2 where one
    request at a time on an idle host is all the machine does."""
    value = os.environ.get("LIFECERT_THREADS", "1")
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"LIFECERT_THREADS must be a whole number of at least 1, not {value!r}")
    return int(value)


class ModelRunner(Protocol):
    """The one call the matcher needs: inputs in order, outputs in order."""

    input_shapes: list[tuple[int, ...]]

    def __call__(self, *inputs: np.ndarray) -> list[np.ndarray]: ...


class OnnxRunner:
    """One onnxruntime session. ``layout`` "plain" leaves out the NCHWc layout rewrite, which
    is slower than no rewrite on some CPUs (models/onnx_layout.py); ``choice`` says how the
    layout was decided. ``optimised_copy``: where to write the graph onnxruntime runs, to see
    what its rewrites made of the file."""

    def __init__(
        self, path: Path, threads: int, layout: str = "nchwc", *, optimised_copy: Path | None = None
    ) -> None:
        import onnxruntime as ort

        if layout not in ("nchwc", "plain"):
            raise ValueError(f"unknown onnxruntime layout {layout!r}")
        self.choice = LayoutChoice(layout, "given", {})
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Spinning threads doubled latency on 2 shared cores; sleep instead.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if optimised_copy is not None:
            opts.optimized_model_filepath = str(optimised_copy)
        self._session = ort.InferenceSession(
            str(path),
            opts,
            providers=["CPUExecutionProvider"],
            disabled_optimizers=["NchwcTransformer"] if layout == "plain" else [],
        )
        self._inputs = [i.name for i in self._session.get_inputs()]
        self.input_shapes = [tuple(i.shape) for i in self._session.get_inputs()]

    def __call__(self, *inputs: np.ndarray) -> list[np.ndarray]:
        return self._session.run(None, dict(zip(self._inputs, inputs, strict=True)))


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """LiteRT's C++ core prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." to
    file descriptor 2 on every load, and has no Python switch for it; every CLI call's stderr
    (which carries our JSON errors' context) would begin with it. Only loading is silenced."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class TfliteRunner:
    def __init__(self, path: Path, threads: int) -> None:
        from ai_edge_litert.interpreter import Interpreter

        # An interpreter is not thread-safe (its tensors are shared state) and the service
        # judges clips, previews and enrolments on several threads: one call at a time each.
        self._lock = threading.Lock()
        with _native_stderr_silenced():
            self._interp = Interpreter(model_path=str(path), num_threads=threads)
            self._interp.allocate_tensors()
        self._in = self._interp.get_input_details()
        self._out = self._interp.get_output_details()
        self.input_shapes = [tuple(int(s) for s in d["shape"]) for d in self._in]

    def __call__(self, *inputs: np.ndarray) -> list[np.ndarray]:
        with self._lock:
            for detail, value in zip(self._in, inputs, strict=True):
                self._interp.set_tensor(detail["index"], np.ascontiguousarray(value, dtype=np.float32))
            self._interp.invoke()
            return [self._interp.get_tensor(d["index"]).copy() for d in self._out]


def load_runner(store: ModelStore, key: str, threads: int | None = None) -> ModelRunner:
    """A runner for model ``key``; refuses a file whose hash is not the manifest's."""
    path = store.verified_path(key)
    n = threads if threads is not None else default_threads()
    if path.suffix == ".onnx":
        return _onnx_runner(store, key, path, n)
    if path.suffix == ".tflite":
        return TfliteRunner(path, n)
    raise ValueError(f"no runtime for {path.suffix} files")


def _onnx_runner(store: ModelStore, key: str, path: Path, threads: int) -> OnnxRunner:
    """The ONNX session in the layout that is faster on this CPU: as set, as remembered in
    the model home, or measured now on the model's own input shape (and remembered)."""
    import onnxruntime as ort

    setting = layout_setting()
    if setting != "auto":
        runner = OnnxRunner(path, threads, setting)
        runner.choice = LayoutChoice(setting, "set by LIFECERT_ONNX_LAYOUT", {})
        return runner
    choices = LayoutChoices(store.home)
    ckey = choice_key(store.manifest.models[key].sha256, ort.__version__, threads, cpu_identity())
    known = choices.get(ckey)
    if known is not None:
        runner = OnnxRunner(path, threads, known["layout"])
        runner.choice = LayoutChoice(known["layout"], "remembered", dict(known.get("ms", {})))
        return runner
    candidates = {layout: OnnxRunner(path, threads, layout) for layout in ("nchwc", "plain")}
    probe = [probe_input(list(shape)) for shape in candidates["nchwc"].input_shapes]
    chosen, ms = faster_layout({name: partial(r, *probe) for name, r in candidates.items()})
    choices.put(ckey, {"layout": chosen, "ms": ms, "model": key})
    runner = candidates[chosen]
    runner.choice = LayoutChoice(chosen, "measured", ms)
    return runner
