"""`AgentWallet` against a real sidecar: the agent's credential and exported config only."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from e2e.harness import PRIMARY_CHAIN, Studio
from e2e.rpc_client import fresh_address
from session_studio.sdk import AgentConfig, AsyncAgentWallet, SessionTerms
from web3 import Web3

from session_studio import AgentWallet, PolicyDenied, Unauthorized, ValidationError

from .conftest import agent_with_session

pytestmark = pytest.mark.e2e
USDC = 10**6


def test_from_file_reads_the_exported_config(studio: Studio, tmp_path: Path) -> None:
    agent = agent_with_session(studio)
    path = tmp_path / "agent.json"
    path.write_text(json.dumps(agent.config))

    with AgentWallet.from_file(path) as wallet:
        assert wallet.config.credential == agent.config["credential"]
        assert wallet.config.key_hash == agent.config["key_hash"]
        assert wallet.chain_id == PRIMARY_CHAIN


def test_from_env_accepts_the_config_json(studio: Studio) -> None:
    agent = agent_with_session(studio)
    env = {"SESSION_STUDIO_AGENT_CONFIG": json.dumps(agent.config)}

    with AgentWallet.from_env(env) as wallet:
        assert wallet.init().key_hash == agent.config["key_hash"]


def test_from_env_accepts_a_path(studio: Studio, tmp_path: Path) -> None:
    agent = agent_with_session(studio)
    path = tmp_path / "agent.json"
    path.write_text(json.dumps(agent.config))

    with AgentWallet.from_env({"SESSION_STUDIO_AGENT_CONFIG": str(path)}) as wallet:
        assert wallet.config.agent == agent.name


def test_from_env_without_the_variable_is_a_validation_error() -> None:
    with pytest.raises(ValidationError) as raised:
        AgentWallet.from_env({})
    assert raised.value.field == "SESSION_STUDIO_AGENT_CONFIG"


def test_init_picks_the_exported_session(studio: Studio) -> None:
    agent = agent_with_session(studio)

    with AgentWallet(config=agent.config) as wallet:
        session = wallet.init()

    assert session.key_hash == agent.config["key_hash"]
    assert session.created is False


def test_init_creates_a_session_when_none_is_usable(studio: Studio) -> None:
    agent = agent_with_session(studio)
    studio.cli("sessions", "revoke", agent.config["key_hash"])

    with AgentWallet(config=agent.config) as wallet:
        session = wallet.init()
        statuses = {s["key_hash"]: s["status"] for s in wallet.get_session_statuses()}

    assert session.created is True
    assert session.key_hash != agent.config["key_hash"]
    assert statuses[session.key_hash] == "active"


def test_list_sessions_includes_revoked_ones(studio: Studio) -> None:
    agent = agent_with_session(studio)

    with AgentWallet(config=agent.config) as wallet:
        wallet.init()
        wallet.revoke_session(agent.config["key_hash"])
        listed = {s["key_hash"]: s for s in wallet.list_sessions()}

    exported = listed[agent.config["key_hash"]]
    assert exported["status"] == "revoked"
    assert exported["agent"] == agent.name


def test_get_session_statuses_reports_spend_and_limits(studio: Studio) -> None:
    agent = agent_with_session(studio)

    with AgentWallet(config=agent.config) as wallet:
        wallet.transfer(fresh_address(), 2 * USDC, "USDC")
        status = next(s for s in wallet.get_session_statuses()
                      if s["key_hash"] == agent.config["key_hash"])

    assert status["status"] == "active"
    assert status["limits"] == {"unit": "USD", "per_tx": "50", "daily": "200",
                                "approve_above": None}
    assert status["chain_ids"] == [PRIMARY_CHAIN]
    assert Decimal(status["spent_in_window"]) >= 2


def test_revoking_the_current_session_leaves_none_and_the_next_call_creates_one(
        studio: Studio) -> None:
    agent = agent_with_session(studio)

    with AgentWallet(config=agent.config) as wallet:
        first = wallet.init()
        revoked = wallet.revoke_session(first.key_hash)
        assert revoked["status"] == "revoked"
        assert wallet.session is None
        replacement = wallet.web3.eth.default_account  # a call that needs a session

    assert wallet.session is not None
    assert wallet.session.created is True
    assert replacement == wallet.session.address != first.address


def test_rotate_revokes_the_old_session_and_creates_a_fresh_one(studio: Studio) -> None:
    agent = agent_with_session(studio)

    with AgentWallet(config=agent.config) as wallet:
        old = wallet.init()
        new = wallet.rotate()
        statuses = {s["key_hash"]: s["status"] for s in wallet.get_session_statuses()}

    assert new.key_hash != old.key_hash and new.address != old.address
    assert statuses[old.key_hash] == "revoked"
    assert statuses[new.key_hash] == "active"
    assert wallet.session == new


def test_rotate_session_replaces_the_key_and_keeps_the_expiry(studio: Studio) -> None:
    agent = agent_with_session(studio)

    with AgentWallet(config=agent.config) as wallet:
        old = wallet.init()
        successor = wallet.rotate_session()

    assert successor["key_hash"] != old.key_hash
    assert successor["expires_at"] == old.expires_at
    assert successor["credential"] == agent.config["credential"]
    assert wallet.session is not None and wallet.session.key_hash == successor["key_hash"]


def test_transfer_of_usdc_returns_the_receipt(studio: Studio) -> None:
    agent = agent_with_session(studio)
    to = fresh_address()

    with AgentWallet(config=agent.config) as wallet:
        receipt = wallet.transfer(to, 5 * USDC, "USDC")

    assert receipt["status"] == 1
    assert studio.usdc_balance(to) == 5 * USDC


def test_transfer_of_the_native_coin_returns_the_receipt(studio: Studio) -> None:
    agent = agent_with_session(studio)
    to = fresh_address()

    with AgentWallet(config=agent.config) as wallet:
        receipt = wallet.transfer(to, 10**15, "ETH")

    assert receipt["status"] == 1
    assert studio.chain_web3().eth.get_balance(Web3.to_checksum_address(to)) == 10**15


def test_transfer_over_the_limit_raises_policy_denied_with_the_reason(studio: Studio) -> None:
    agent = agent_with_session(studio)
    to = fresh_address()

    with AgentWallet(config=agent.config) as wallet, pytest.raises(PolicyDenied) as raised:
        wallet.transfer(to, 100 * USDC, "USDC")

    assert raised.value.reason == "per_tx_limit_exceeded"
    assert raised.value.data["per_tx_limit"] == "50"
    assert "100" in raised.value.detail
    assert studio.usdc_balance(to) == 0


def test_transfer_of_a_token_without_an_address_is_refused_before_sending(
        studio: Studio) -> None:
    agent = agent_with_session(studio)

    with AgentWallet(config=agent.config) as wallet, pytest.raises(ValidationError) as raised:
        wallet.transfer(fresh_address(), 1, "DAI")

    assert raised.value.field == "token_symbol"


def test_creating_beyond_the_ceiling_raises_ceiling_exceeded(studio: Studio) -> None:
    agent = agent_with_session(studio, per_tx="50")
    greedy = AgentConfig.from_mapping(agent.config).with_terms(per_tx_limit="51")

    with AgentWallet(config=greedy) as wallet, pytest.raises(PolicyDenied) as raised:
        wallet.create_session()

    assert raised.value.reason == "ceiling_exceeded"
    assert raised.value.data.get("field") is not None


def test_an_agent_without_a_ceiling_cannot_create_sessions(studio: Studio) -> None:
    agent = agent_with_session(studio, ceiling=False)

    with AgentWallet(config=agent.config) as wallet, pytest.raises(PolicyDenied) as raised:
        wallet.create_session(SessionTerms(
            label="x", chain_ids=(PRIMARY_CHAIN,), permissions=("transfer",), tokens=("ETH",),
            limit_unit="USD", per_tx_limit="1", daily_limit="1", expires_in="1h"))

    assert raised.value.reason == "ceiling_exceeded"


def test_the_agent_budget_refusal_surfaces_as_policy_denied(studio: Studio) -> None:
    agent = agent_with_session(studio, budget="10")

    with AgentWallet(config=agent.config) as wallet:
        wallet.transfer(fresh_address(), 6 * USDC, "USDC")
        with pytest.raises(PolicyDenied) as raised:
            wallet.transfer(fresh_address(), 6 * USDC, "USDC")

    assert raised.value.reason == "agent_budget_exceeded"


def test_a_wrong_credential_raises_unauthorized(studio: Studio) -> None:
    agent = agent_with_session(studio)
    forged = {**agent.config, "credential": "sst_" + "A" * 43}

    with AgentWallet(config=forged) as wallet, pytest.raises(Unauthorized):
        wallet.list_sessions()


def test_web3_has_the_current_session_as_default_account(studio: Studio) -> None:
    agent = agent_with_session(studio)

    with AgentWallet(config=agent.config) as wallet:
        w3 = wallet.web3
        assert w3.eth.default_account == wallet.init().address
        assert w3.eth.chain_id == PRIMARY_CHAIN


async def test_async_wallet_transfers_and_lists(studio: Studio) -> None:
    agent = agent_with_session(studio)
    to = fresh_address()

    async with AsyncAgentWallet(agent.config) as wallet:
        await wallet.init()
        receipt = await wallet.transfer(to, 1 * USDC, "USDC")
        sessions = await wallet.list_sessions()
        accounts = await wallet.async_web3.eth.accounts

    assert receipt["status"] == 1
    assert agent.config["key_hash"] in {s["key_hash"] for s in sessions}
    assert wallet.session is not None and wallet.session.address in accounts
