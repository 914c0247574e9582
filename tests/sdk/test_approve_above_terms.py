"""The SDK's side of `approve_above` without a server: what `create_session` sends, and what an
agent wallet asks for when it creates a session of its own from an exported config."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from session_studio.sdk import AgentConfig
from session_studio.sdk._client import session_body

from session_studio import Limit, ValidationError

EXPORT: dict[str, Any] = {
    "key_hash": "0x" + "11" * 32, "address": "0x" + "22" * 20, "type": "agent",
    "label": "payouts", "agent": "bot", "permissions": ["transfer"], "chain_ids": [8453],
    "tokens": ["USDC"], "expires_at": "2030-01-01T00:00:00Z", "credential": "sst_x",
    "limits": {"unit": "USD", "per_tx": "10", "daily": "100", "approve_above": "2.5"},
    "rpc_url": "http://sidecar/rpc/8453", "rpc_urls": {"8453": "http://sidecar/rpc/8453"}}


def _body(**fields: Any) -> dict[str, Any]:
    return session_body(type="agent", label="x", chains=[8453], permissions=["transfer"],
                        tokens=["USDC"], expires_in="1d", limit=Limit.usd("10", daily="100"),
                        agent="bot", **fields)


def test_create_session_sends_the_threshold_as_a_decimal_string() -> None:
    assert _body(approve_above=Decimal("2.50"))["approve_above"] == "2.5"


def test_create_session_without_a_threshold_sends_none() -> None:
    assert "approve_above" not in _body()


def test_a_float_threshold_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(ValidationError) as raised:
        _body(approve_above=2.5)

    assert raised.value.field == "approve_above"


def test_a_self_created_session_asks_for_the_exported_sessions_threshold() -> None:
    params = AgentConfig.from_mapping(EXPORT).terms.as_params()

    assert params["approve_above"] == "2.5"


def test_an_export_without_a_threshold_asks_for_none() -> None:
    unheld = {**EXPORT, "limits": {"unit": "USD", "per_tx": "10", "daily": "100",
                                   "approve_above": None}}

    assert "approve_above" not in AgentConfig.from_mapping(unheld).terms.as_params()
