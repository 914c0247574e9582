"""`session-studio workspaces create | list`, and `--workspace` isolation."""

from __future__ import annotations

import pytest

from .conftest import INVENTORY, Inventory, Studio, run_cli

# Every call is a `python -m session_studio.cli` process (conftest.py).
pytestmark = pytest.mark.e2e


def test_workspace_create_prints_its_name(inventory: Inventory) -> None:
    assert inventory.workspace == {"name": INVENTORY}


def test_workspace_list_shows_the_default_and_the_new_workspace(inventory: Inventory) -> None:
    names = [w["name"] for w in inventory.json("workspaces")]
    assert names[0] == "default" and INVENTORY in names


def test_session_of_another_workspace_is_not_found(inventory: Inventory) -> None:
    assert inventory.results["show-from-default"].returncode == 1


def test_session_is_found_in_its_own_workspace(inventory: Inventory) -> None:
    assert inventory.results["show-app"].returncode == 0


def test_workspace_given_before_the_subcommand_is_honoured(studio: Studio,
                                                           inventory: Inventory) -> None:
    result = run_cli("--workspace", INVENTORY, "sessions", "show", inventory.app["key_hash"],
                     "--config", str(studio.config), cwd=studio.root)
    assert result.returncode == 0, result.stderr
