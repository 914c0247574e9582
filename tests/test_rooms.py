"""The house's import rules (docs/architecture.md, "Rooms"), read from the code itself.

Each room may import only the rooms listed for it; everything flows one way, from the
composition root down to the pure engine, so no room can reach around another's checks. A new
arrow is a design decision: add it here and in docs/architecture.md together, with the reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROOT_ROOM = "session_studio"  # __init__.py (public surface), cli.py, _app.py (composition root)

# room -> the rooms it may import (besides itself and third-party libraries)
ALLOWED: dict[str, frozenset[str]] = {
    "policy": frozenset(),
    "keystore": frozenset(),
    "basics": frozenset(),
    "settings": frozenset(),
    "sdk": frozenset(),
    "store": frozenset({"basics", "policy"}),
    "proxy": frozenset({"basics", "keystore", "policy", "store"}),
    "prices": frozenset({"policy", "proxy", "settings"}),
    "telemetry": frozenset({"basics", "policy", "proxy", "store"}),
    "notify": frozenset({"basics", "settings", "store"}),
    "services": frozenset({"basics", "keystore", "policy", "proxy", "settings", "store"}),
    "admin_ui": frozenset({"basics", "policy", "services", "store"}),
    "dev": frozenset({ROOT_ROOM, "policy", "services", "settings", "store"}),
    ROOT_ROOM: frozenset({"admin_ui", "basics", "keystore", "notify", "policy", "prices",
                          "proxy", "sdk", "services", "settings", "store", "telemetry"}),
}
PLANE_FOLDERS = ["policy", "proxy", "keystore", "store", "admin_ui", "sdk"]


def _room_of_file(path: Path) -> str:
    parts = path.relative_to(ROOT).parts
    if parts[0] == "session_studio":
        return parts[1] if len(parts) > 2 else ROOT_ROOM
    return parts[0]


def _room_of_module(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] == "session_studio_dev":
        return "dev"
    if parts[0] != "session_studio":
        return None
    if len(parts) == 1 or parts[1].startswith("_") or parts[1] == "cli":
        return ROOT_ROOM
    return parts[1]


def _files() -> list[Path]:
    files = sorted((ROOT / "session_studio").rglob("*.py"))
    for folder in PLANE_FOLDERS:
        files += sorted((ROOT / folder / "session_studio").rglob("*.py"))
    return files + sorted((ROOT / "dev" / "session_studio_dev").rglob("*.py"))


def _imported_rooms(path: Path) -> set[str]:
    rooms = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        rooms.update(room for name in names if (room := _room_of_module(name)) is not None)
    return rooms


def test_every_room_of_the_tree_has_rules() -> None:
    assert {_room_of_file(path) for path in _files()} == set(ALLOWED)


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_module_imports_only_the_rooms_its_room_may(path: Path) -> None:
    room = _room_of_file(path)
    beyond = _imported_rooms(path) - ALLOWED[room] - {room}
    assert beyond == set(), f"{room} may not import {sorted(beyond)} (docs/architecture.md)"


def test_the_rules_admit_no_circle() -> None:
    seen: dict[str, int] = {}

    def visit(room: str, path: tuple[str, ...]) -> None:
        assert room not in path, f"circle: {' -> '.join((*path, room))}"
        if seen.get(room) == 2:
            return
        for below in ALLOWED[room]:
            visit(below, (*path, room))
        seen[room] = 2

    for room in ALLOWED:
        visit(room, ())
