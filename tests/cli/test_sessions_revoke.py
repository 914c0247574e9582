"""`session-studio sessions revoke KEY_HASH | --all-matching [filters]`."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Inventory, Studio, stderr_lines

# Every call is a `python -m session_studio.cli` process (conftest.py).
pytestmark = pytest.mark.e2e


def test_revoke_reports_one_revoked_session(inventory: Inventory) -> None:
    assert inventory.revoke_output == {"count": 1,
                                       "key_hashes": [inventory.revoked["key_hash"]]}


def test_revoked_session_shows_as_revoked(inventory: Inventory) -> None:
    assert inventory.json("show-revoked")["status"] == "revoked"


def test_revoked_session_has_no_health_badges(inventory: Inventory) -> None:
    assert inventory.json("show-revoked")["health"] == []


def test_revoking_twice_exits_1(inventory: Inventory) -> None:
    assert inventory.results["revoke-again"].returncode == 1


def test_revoking_twice_says_why_on_one_line(inventory: Inventory) -> None:
    assert len(stderr_lines(inventory.results["revoke-again"])) == 1


@pytest.fixture(scope="module")
def bulk(studio: Studio) -> tuple[list[str], dict[str, Any]]:
    studio.json("agents", "register", "bulk-bot")
    mine = [studio.create_session(label=f"bulk-{i}", type="agent", agent="bulk-bot")["key_hash"]
            for i in range(2)]
    return mine, studio.json("sessions", "revoke", "--all-matching", "--agent", "bulk-bot")


def test_bulk_revoke_by_agent_counts_the_agent_sessions(
    bulk: tuple[list[str], dict[str, Any]],
) -> None:
    _, output = bulk
    assert output["count"] == 2


def test_bulk_revoke_by_agent_lists_exactly_the_agent_sessions(
    bulk: tuple[list[str], dict[str, Any]],
) -> None:
    mine, output = bulk
    assert sorted(output["key_hashes"]) == sorted(mine)
