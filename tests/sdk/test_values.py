"""The SDK's pure parts, without a server: limits as exact decimals, error mapping, config
parsing. Everything that talks to the sidecar is tested against a real one elsewhere."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from session_studio.sdk import AgentConfig, RpcError
from session_studio.sdk._errors import api_error, raise_for_rpc_error

import session_studio
from session_studio import (
    Conflict,
    Forbidden,
    Limit,
    NotFound,
    PolicyDenied,
    ServerError,
    StudioError,
    Unauthorized,
    ValidationError,
)

EXPORT: dict[str, Any] = {
    "key_hash": "0x" + "11" * 32, "address": "0x" + "22" * 20, "type": "agent",
    "label": "payouts", "agent": "bot", "permissions": ["transfer"], "chain_ids": [8453],
    "tokens": ["USDC", "ETH"], "limits": {"unit": "USD", "per_tx": "10", "daily": "100"},
    "expires_at": "2030-01-01T00:00:00Z", "credential": "sst_x",
    "rpc_url": "http://sidecar/rpc/8453", "rpc_urls": {"8453": "http://sidecar/rpc/8453"},
    "token_addresses": {"8453": {"USDC": "0x" + "33" * 20}}}


def test_sdk_names_import_from_the_package_root() -> None:
    from session_studio import AgentWallet, StudioClient

    assert StudioClient.__module__ == "session_studio.sdk._client"
    assert AgentWallet.__module__ == "session_studio.sdk._wallet"
    assert set(session_studio.__all__) >= {"StudioClient", "AgentWallet", "PolicyDenied"}


def test_an_unknown_package_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        _ = session_studio.NoSuchThing


@given(st.integers(min_value=0, max_value=10**30), st.integers(min_value=0, max_value=18))
def test_token_limits_from_base_units_are_exact(base_units: int, decimals: int) -> None:
    limit = Limit.token("TKN", per_tx=base_units, daily=base_units, decimals=decimals)
    sent = limit.as_fields()["per_tx_limit"]

    whole, _, places = sent.partition(".")
    assert len(places) <= decimals
    assert int(whole + places.ljust(decimals, "0")) == base_units  # no rounding, no exponent


def test_limits_are_sent_as_plain_decimal_strings() -> None:
    assert Limit.usd(Decimal("1E+2"), daily="0.50").as_fields() == {
        "limit_unit": "USD", "per_tx_limit": "100", "daily_limit": "0.5"}


@pytest.mark.parametrize("bad", [0.1, "-1", "NaN", "1e400x", True, "0.0000000000000000001"])
def test_a_limit_that_is_not_exact_money_is_a_validation_error(bad: Any) -> None:
    with pytest.raises(ValidationError) as raised:
        Limit.usd(bad, daily="1")
    assert raised.value.field == "per_tx_limit"


def test_a_denial_becomes_policy_denied_with_reason_detail_and_figures() -> None:
    answer = {"jsonrpc": "2.0", "id": 1, "error": {
        "code": 4001, "message": "User denied the request: over the limit",
        "data": {"reason": "daily_limit_exceeded", "detail": "over the limit", "cost": "3"}}}

    with pytest.raises(PolicyDenied) as raised:
        raise_for_rpc_error(answer)

    assert (raised.value.reason, raised.value.detail) == ("daily_limit_exceeded",
                                                          "over the limit")
    assert raised.value.data["cost"] == "3"
    assert raised.value.message.startswith("User denied")


@pytest.mark.parametrize(("code", "kind"), [(4100, Unauthorized), (-32602, RpcError),
                                            (4200, RpcError)])
def test_other_rpc_errors_map_to_their_types(code: int, kind: type[StudioError]) -> None:
    with pytest.raises(kind):
        raise_for_rpc_error({"error": {"code": code, "message": "no"}})


@pytest.mark.parametrize(("status", "kind"), [(401, Unauthorized), (403, Forbidden),
                                              (404, NotFound), (409, Conflict),
                                              (422, ValidationError), (500, ServerError)])
def test_admin_api_errors_map_to_their_types(status: int, kind: type[StudioError]) -> None:
    error = api_error(status, {"error": {"code": "c", "message": "m", "field": "f"}})

    assert type(error) is kind
    assert (error.code, error.status) == ("c", status)


def test_a_validation_error_names_the_field() -> None:
    error = api_error(422, {"error": {"code": "validation_error", "message": "bad",
                                      "field": "body.chain_ids"}})

    assert isinstance(error, ValidationError) and error.field == "body.chain_ids"


def test_the_agent_config_takes_its_terms_from_the_export() -> None:
    config = AgentConfig.from_mapping(EXPORT)

    assert config.terms.as_params() == {
        "label": "payouts", "chain_ids": [8453], "permissions": ["transfer"],
        "tokens": ["USDC", "ETH"], "limit_unit": "USD", "per_tx_limit": "10",
        "daily_limit": "100", "expires_in": "1d"}
    assert config.token_addresses == {8453: {"USDC": "0x" + "33" * 20}}
    assert config.rpc_urls == {8453: "http://sidecar/rpc/8453"}


def test_an_agent_config_without_a_credential_names_what_is_missing() -> None:
    broken = {k: v for k, v in EXPORT.items() if k != "credential"}

    with pytest.raises(ValidationError) as raised:
        AgentConfig.from_mapping(broken)

    assert raised.value.field == "credential"


def test_an_agent_config_from_env_json_equals_the_mapping() -> None:
    env = {"SESSION_STUDIO_AGENT_CONFIG": json.dumps(EXPORT)}

    assert AgentConfig.from_env(env) == AgentConfig.from_mapping(EXPORT)
