"""The floor plan holds: imports flow api.cli → api.http → api.certification → liveness →
matcher → models, and nothing imports upwards. Read from the source with ``ast``, so a new
upward import fails here before it tangles the rooms."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Each room, and the rooms it may import (besides itself). Longest prefix wins.
ALLOWED: dict[str, set[str]] = {
    "api": set(),  # the package marker only
    "models": set(),
    "matcher": {"models"},
    "liveness": {"matcher", "models"},
    "api.reports": {"liveness", "matcher", "models"},
    "api.kiosk_audio": set(),
    "api.certification": {"liveness", "matcher", "models"},
    "api.http": {"api.certification", "api.kiosk_audio", "liveness", "matcher", "models"},
    "api.demo": {"api.certification", "liveness", "matcher", "models"},
    "api.cli": {
        "api.http",
        "api.certification",
        "api.reports",
        "api.demo",
        "api.kiosk_audio",
        "liveness",
        "matcher",
        "models",
    },
}
PROJECT = ("models", "matcher", "liveness", "api")


def room_of(module: str) -> str | None:
    matches = [room for room in ALLOWED if module == room or module.startswith(room + ".")]
    return max(matches, key=len) if matches else None


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from api.certification import audit` imports the module api.certification.audit
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name.split(".")[0] in PROJECT]


SOURCES = sorted(p for pkg in PROJECT for p in (ROOT / pkg).rglob("*.py") if "migrations" not in p.parts)


def test_every_source_file_belongs_to_a_room() -> None:
    homeless = [str(p.relative_to(ROOT)) for p in SOURCES if room_of(module_name(p)) is None]
    assert homeless == []


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_no_room_imports_upwards(room: str) -> None:
    wrong = []
    for path in SOURCES:
        if room_of(module_name(path)) != room:
            continue
        for line, target in imports_of(path):
            target_room = room_of(target) or room_of(target.rsplit(".", 1)[0])
            if target_room not in (room, *ALLOWED[room]):
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert wrong == []


def test_the_layer_rule_itself_catches_an_upward_import(tmp_path: Path) -> None:
    """The checker is not vacuous: matcher importing api is reported."""
    source = tmp_path / "bad.py"
    source.write_text("from api.certification import audit\nimport models\n", encoding="utf-8")
    targets = [name for _line, name in imports_of(source)]
    assert room_of(targets[0]) == "api.certification" and "api.certification" not in ALLOWED["matcher"]
    assert room_of(targets[1]) == "models"
