"""`session-studio sessions show --json`: a session in the admin API's shape (CONTRACT.md)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .conftest import LOCAL_CHAIN, Inventory

# Every call is a `python -m session_studio.cli` process (conftest.py).
pytestmark = pytest.mark.e2e

SESSION_KEYS = {
    "key_hash", "address", "type", "label", "agent", "status", "permissions", "chain_ids",
    "tokens", "limits", "spent_in_window", "created_at", "expires_at", "last_used_at",
    "request_count", "health",
}
# The full policy surface (issue 3) adds the session's allowlists, rate limit and gas cap.
POLICY_EXTENSION_KEYS = {"recipients", "contracts", "rate_limit_per_minute", "max_fee_per_gas"}
ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@pytest.fixture(scope="module")
def shown(inventory: Inventory) -> dict[str, Any]:
    session: dict[str, Any] = inventory.json("show-app")
    return session


def test_show_has_exactly_the_contract_keys_and_the_policy_extensions(
        shown: dict[str, Any]) -> None:
    assert set(shown) == SESSION_KEYS | POLICY_EXTENSION_KEYS


def test_show_of_a_new_session_says_active(shown: dict[str, Any]) -> None:
    assert shown["status"] == "active"


def test_show_gives_limits_as_decimal_strings(shown: dict[str, Any]) -> None:
    assert shown["limits"] == {"unit": "USD", "per_tx": "10", "daily": "100",
                               "approve_above": None}


def test_show_gives_spent_in_window_as_a_decimal_string(shown: dict[str, Any]) -> None:
    assert shown["spent_in_window"] == "0"


def test_show_matches_the_provisioning_artifact(shown: dict[str, Any], inventory: Inventory
                                               ) -> None:
    artifact = inventory.app
    fields = ("key_hash", "address", "type", "label", "agent", "permissions", "chain_ids",
              "tokens", "limits", "expires_at")
    assert {f: shown[f] for f in fields} == {f: artifact[f] for f in fields}


def test_show_of_an_unused_session_has_no_use_yet(shown: dict[str, Any]) -> None:
    assert (shown["last_used_at"], shown["request_count"]) == (None, 0)


def test_show_gives_times_as_iso_utc_with_z(shown: dict[str, Any]) -> None:
    assert ISO_Z.fullmatch(shown["created_at"]) and ISO_Z.fullmatch(shown["expires_at"])


def test_show_of_a_fresh_week_long_session_has_no_health_badges(shown: dict[str, Any]) -> None:
    assert shown["health"] == []


def test_show_gives_chain_ids_as_integers(shown: dict[str, Any]) -> None:
    assert shown["chain_ids"] == [LOCAL_CHAIN]


def test_show_of_an_app_session_has_no_agent(shown: dict[str, Any]) -> None:
    assert shown["agent"] is None
