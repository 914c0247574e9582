"""`session-studio sessions list --json`: filters and sorting over a known inventory."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import INVENTORY, Inventory, Studio

# Every call is a `python -m session_studio.cli` process (conftest.py).
pytestmark = pytest.mark.e2e


def key_hashes(sessions: list[dict[str, Any]]) -> list[str]:
    return [s["key_hash"] for s in sessions]


def test_list_filters_by_type(inventory: Inventory) -> None:
    assert key_hashes(inventory.json("type-agent")) == [inventory.agent_session["key_hash"]]


def test_list_filters_revoked_sessions(inventory: Inventory) -> None:
    assert key_hashes(inventory.json("status-revoked")) == [inventory.revoked["key_hash"]]


def test_list_filters_expired_sessions(inventory: Inventory) -> None:
    assert key_hashes(inventory.json("status-expired")) == [inventory.expired["key_hash"]]


def test_list_filters_by_agent(inventory: Inventory) -> None:
    assert key_hashes(inventory.json("agent")) == [inventory.agent_session["key_hash"]]


def test_list_filters_by_chain(inventory: Inventory) -> None:
    assert set(key_hashes(inventory.json("chain"))) == {
        inventory.agent_session["key_hash"], inventory.revoked["key_hash"]}


def test_list_filters_by_label_substring_ignoring_case(inventory: Inventory) -> None:
    assert key_hashes(inventory.json("label")) == [inventory.app["key_hash"]]


def test_list_sorts_by_expiry_soonest_first(inventory: Inventory) -> None:
    assert key_hashes(inventory.json("sort-expiry")) == [
        inventory.expired["key_hash"], inventory.agent_session["key_hash"],
        inventory.revoked["key_hash"], inventory.app["key_hash"]]


def test_list_sorts_by_creation_newest_first(inventory: Inventory) -> None:
    assert key_hashes(inventory.json("sort-created-desc")) == [
        inventory.revoked["key_hash"], inventory.agent_session["key_hash"],
        inventory.app["key_hash"], inventory.expired["key_hash"]]


def test_list_reports_each_session_status(inventory: Inventory) -> None:
    statuses = {s["key_hash"]: s["status"] for s in inventory.json("sort-expiry")}
    assert statuses == {
        inventory.expired["key_hash"]: "expired", inventory.app["key_hash"]: "active",
        inventory.agent_session["key_hash"]: "active", inventory.revoked["key_hash"]: "revoked"}


def test_list_accepts_a_descending_sort_as_a_separate_argument(studio: Studio,
                                                               inventory: Inventory) -> None:
    result = studio.run("sessions", "list", "--sort", "-created", workspace=INVENTORY)
    assert result.returncode == 0, result.stderr
