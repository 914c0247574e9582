"""The two backends share only `_rows` (ids, row mappers, query texts): the PostgreSQL modules
never import the SQLite ones, so either can change without reaching into the other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

STORE = Path(__file__).resolve().parents[2] / "store" / "session_studio" / "store"
PG_MODULES = sorted(p for p in STORE.glob("_pg*.py"))


def _relative_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.module or "" for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 1}


@pytest.mark.parametrize("module", PG_MODULES, ids=lambda p: p.stem)
def test_a_postgresql_module_imports_nothing_of_the_sqlite_backend(module: Path) -> None:
    assert not {m for m in _relative_imports(module) if m.startswith("_sqlite")}


def test_there_are_postgresql_modules_to_check() -> None:
    assert len(PG_MODULES) >= 5
