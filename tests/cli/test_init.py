"""`session-studio init`: master key (0600), database, first workspace; safe to run again."""

from __future__ import annotations

import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import Inventory, Studio, run_cli

# Every call is a `python -m session_studio.cli` process (conftest.py).
pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class InitAgain:
    key_before: bytes
    result: subprocess.CompletedProcess[str]
    key_after: bytes


@pytest.fixture(scope="module")
def init_again(studio: Studio) -> InitAgain:
    """`init` once more on the shared studio (its fixture ran the first `init`)."""
    key = studio.root / "master.key"
    key_before = key.read_bytes()
    result = studio.run("init")
    return InitAgain(key_before=key_before, result=result, key_after=key.read_bytes())


@pytest.fixture(scope="module")
def init_without_config(tmp_path_factory: pytest.TempPathFactory
                        ) -> tuple[Path, subprocess.CompletedProcess[str]]:
    root = tmp_path_factory.mktemp("bare")
    return root, run_cli("init", cwd=root)


def test_init_creates_a_master_key_readable_only_by_its_owner(studio: Studio) -> None:
    assert stat.S_IMODE((studio.root / "master.key").stat().st_mode) == 0o600


def test_init_creates_the_database(studio: Studio) -> None:
    assert (studio.root / "studio.db").stat().st_size > 0


def test_init_creates_the_default_workspace_first(inventory: Inventory) -> None:
    # `workspaces list` run on the shared studio, after its `init` and another workspace.
    assert inventory.json("workspaces")[0] == {"name": "default"}


def test_init_again_succeeds(init_again: InitAgain) -> None:
    assert init_again.result.returncode == 0, init_again.result.stderr


def test_init_again_keeps_the_master_key(init_again: InitAgain) -> None:
    assert init_again.key_after == init_again.key_before


def test_init_again_creates_no_workspace(init_again: InitAgain) -> None:
    assert "created workspace" not in init_again.result.stdout


def test_init_without_config_writes_a_starter_config(
    init_without_config: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    root, result = init_without_config
    assert result.returncode == 0, result.stderr
    assert "[chains." in (root / "session-studio.toml").read_text()


def test_init_without_config_goes_on_to_create_the_key_and_database(
    init_without_config: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    root, _ = init_without_config
    assert (root / "master.key").exists() and (root / "studio.db").exists()
