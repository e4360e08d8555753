"""What every command shares: the Typer app, the error console, loading the matcher."""

from __future__ import annotations

import sys
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from tqdm import tqdm

from matcher import FaceMatcher
from models import ModelError, ModelStore

app = typer.Typer(help="lifecert: face-recognition proof-of-life certification.", no_args_is_help=True)
# soft_wrap: messages carry paths and keys that must stay on one line to be copied,
# whatever the terminal width (CI has a narrow one).
err = Console(stderr=True, soft_wrap=True)

T = TypeVar("T")

PresetOpt = Annotated[str | None, typer.Option(help="Matcher preset: fast, fused, mit.")]


def fail(message: str, code: int = 2) -> typer.Exit:
    # escape: a file name with [brackets] is not rich markup.
    err.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code)


def load_matcher(preset: str | None) -> FaceMatcher:
    store = ModelStore()
    if preset is not None and preset not in store.manifest.presets:
        raise fail(f"unknown preset {preset!r}; known: {', '.join(store.manifest.presets)}")
    try:
        return FaceMatcher(store, preset)
    except ModelError as exc:
        raise fail(str(exc)) from exc


def tqdm_progress(desc: str, unit: str):
    """A progress bar on stderr for a benchmark's stream of items."""

    def progress(stream, total):
        return tqdm(stream, total=total, desc=desc, unit=unit, file=sys.stderr)

    return progress
