"""`StudioClient` / `AsyncStudioClient` against a real sidecar's admin API, with an admin
API token made by `session-studio tokens create`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from e2e.harness import PRIMARY_CHAIN, SECOND_CHAIN, Studio
from e2e.rpc_client import fresh_address, post
from session_studio.sdk import AgentCeiling, AsyncStudioClient

from session_studio import (
    Conflict,
    Forbidden,
    Limit,
    NotFound,
    PolicyDenied,
    StudioClient,
    Unauthorized,
    ValidationError,
)

from .conftest import register_agent, unique

pytestmark = pytest.mark.e2e
USDC = 10**6


def agent_session(client: StudioClient, studio: Studio, **fields: Any) -> dict[str, Any]:
    """An agent session made through the SDK, funded on the primary chain."""
    terms: dict[str, Any] = {
        "type": "agent", "label": unique("sdk"), "chains": [PRIMARY_CHAIN],
        "permissions": ["transfer"], "tokens": ["USDC", "ETH"],
        "limit": Limit.usd("50", daily="200"), "expires_in": "1d",
        "agent": register_agent(studio)}
    terms.update(fields)
    artifact: dict[str, Any] = dict(client.create_session(**terms))
    studio.fund(artifact["address"])
    return artifact


def test_create_session_returns_the_provisioning_artifact(client: StudioClient,
                                                          studio: Studio) -> None:
    artifact = agent_session(client, studio)

    assert artifact["credential"].startswith("sst_")
    assert artifact["chain_ids"] == [PRIMARY_CHAIN]
    assert artifact["limits"] == {"unit": "USD", "per_tx": "50", "daily": "200",
                                  "approve_above": None}
    assert artifact["rpc_url"] == studio.rpc_url(PRIMARY_CHAIN)
    assert artifact["token_addresses"][str(PRIMARY_CHAIN)]["USDC"].lower() == \
        studio.usdc[PRIMARY_CHAIN].lower()


def test_create_session_with_a_token_limit_converts_base_units(client: StudioClient,
                                                              studio: Studio) -> None:
    limit = Limit.token("USDC", per_tx=12_500_000, daily=100 * USDC, decimals=6)

    artifact = agent_session(client, studio, limit=limit, tokens=["USDC"])

    assert artifact["limits"] == {"unit": "USDC", "per_tx": "12.5", "daily": "100",
                                  "approve_above": None}


def test_create_session_accepts_decimal_limits_in_a_unit(client: StudioClient,
                                                        studio: Studio) -> None:
    artifact = agent_session(client, studio, limit=None, per_tx_limit=Decimal("0.25"),
                             daily_limit="3", limit_unit="USD")

    assert artifact["limits"] == {"unit": "USD", "per_tx": "0.25", "daily": "3",
                                  "approve_above": None}


def test_create_session_sets_the_approval_threshold(
        client: StudioClient, studio: Studio) -> None:
    artifact = agent_session(client, studio, approve_above="12.5")

    shown = client.get_session(artifact["key_hash"])

    assert artifact["limits"]["approve_above"] == "12.5"
    assert shown["limits"].get("approve_above") == "12.5"


def test_a_float_limit_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(ValidationError) as raised:
        Limit.usd(0.1, daily="1")

    assert raised.value.field == "per_tx_limit"


def test_creating_an_app_session_with_a_token_needs_a_passkey(client: StudioClient) -> None:
    with pytest.raises(Forbidden) as raised:
        client.create_session(type="app", label="web", chains=[PRIMARY_CHAIN],
                              permissions=["transfer"], tokens=["USDC"],
                              limit=Limit.usd("1", daily="1"), expires_in="1h")

    assert raised.value.code == "passkey_required"
    assert raised.value.status == 403


def test_a_refused_field_is_named_in_the_validation_error(client: StudioClient,
                                                         studio: Studio) -> None:
    with pytest.raises(ValidationError) as raised:
        client.create_session(type="agent", label="x", chains=[], permissions=["transfer"],
                              tokens=["USDC"], limit=Limit.usd("1", daily="1"),
                              expires_in="1h", agent=register_agent(studio))

    assert raised.value.field is not None and "chain_ids" in raised.value.field
    assert raised.value.status == 422


def test_list_sessions_follows_every_page(client: StudioClient, studio: Studio) -> None:
    agent = register_agent(studio)
    made = {agent_session(client, studio, agent=agent)["key_hash"] for _ in range(3)}

    listed = client.list_sessions(agent=agent, page_size=1)

    assert {s["key_hash"] for s in listed} == made


def test_list_sessions_filters_by_status_and_chain(client: StudioClient,
                                                  studio: Studio) -> None:
    agent = register_agent(studio)
    kept = agent_session(client, studio, agent=agent)
    revoked = agent_session(client, studio, agent=agent)
    client.revoke_session(revoked["key_hash"])

    active = client.list_sessions(agent=agent, status="active", chain=PRIMARY_CHAIN)
    elsewhere = client.list_sessions(agent=agent, chain=SECOND_CHAIN)

    assert [s["key_hash"] for s in active] == [kept["key_hash"]]
    assert elsewhere == []


def test_get_session_describes_it(client: StudioClient, studio: Studio) -> None:
    artifact = agent_session(client, studio)

    session = client.get_session(artifact["key_hash"])

    assert session["status"] == "active"
    assert session["address"] == artifact["address"]
    assert session["spent_in_window"] == "0"


def test_an_unknown_session_is_not_found(client: StudioClient) -> None:
    with pytest.raises(NotFound):
        client.get_session("0x" + "ab" * 32)


def test_revoke_session_stops_signing_at_once(client: StudioClient, studio: Studio) -> None:
    artifact = agent_session(client, studio)
    w3 = client.select_session(artifact["key_hash"])

    revoked = client.revoke_session(artifact["key_hash"])
    with pytest.raises(PolicyDenied) as raised:
        w3.eth.send_transaction({"to": fresh_address(), "value": 1})

    assert revoked["status"] == "revoked"
    assert raised.value.reason == "session_revoked"


def test_revoking_twice_is_a_conflict(client: StudioClient, studio: Studio) -> None:
    artifact = agent_session(client, studio)
    client.revoke_session(artifact["key_hash"])

    with pytest.raises(Conflict):
        client.revoke_session(artifact["key_hash"])


def test_rotate_session_returns_the_successor_with_the_same_terms(client: StudioClient,
                                                                  studio: Studio) -> None:
    artifact = agent_session(client, studio)

    successor = client.rotate_session(artifact["key_hash"])

    assert successor["key_hash"] != artifact["key_hash"]
    assert successor["limits"] == artifact["limits"]
    assert successor["expires_at"] == artifact["expires_at"]
    assert client.get_session(artifact["key_hash"])["status"] == "revoked"


def test_export_session_gives_the_credential_again(client: StudioClient,
                                                   studio: Studio) -> None:
    artifact = agent_session(client, studio)

    exported = client.export_session(artifact["key_hash"])

    assert exported["credential"] == artifact["credential"]
    assert exported["rpc_urls"] == artifact["rpc_urls"]


def test_bulk_revoke_dry_run_counts_without_revoking(client: StudioClient,
                                                     studio: Studio) -> None:
    agent = register_agent(studio)
    made = {agent_session(client, studio, agent=agent)["key_hash"] for _ in range(2)}

    result = client.bulk_revoke(agent=agent, dry_run=True)

    assert result["dry_run"] is True and result["count"] == 2
    assert set(result["key_hashes"]) == made
    assert {s["status"] for s in client.list_sessions(agent=agent)} == {"active"}


def test_bulk_revoke_revokes_what_matches(client: StudioClient, studio: Studio) -> None:
    agent = register_agent(studio)
    made = {agent_session(client, studio, agent=agent)["key_hash"] for _ in range(2)}
    bystander = agent_session(client, studio)

    result = client.bulk_revoke(agent=agent)

    assert result["count"] == 2 and set(result["key_hashes"]) == made
    assert {s["status"] for s in client.list_sessions(agent=agent)} == {"revoked"}
    assert client.get_session(bystander["key_hash"])["status"] == "active"


def test_select_session_signs_within_the_policy(client: StudioClient, studio: Studio) -> None:
    artifact = agent_session(client, studio)
    to = fresh_address()

    w3 = client.select_session(artifact["key_hash"])
    usdc = studio.usdc_contract(w3)
    receipt = w3.eth.wait_for_transaction_receipt(
        usdc.functions.transfer(to, 5 * USDC).transact())

    assert w3.eth.default_account == artifact["address"]
    assert receipt["status"] == 1
    assert studio.usdc_balance(to) == 5 * USDC


def test_select_session_raises_policy_denied_over_the_limit(client: StudioClient,
                                                            studio: Studio) -> None:
    artifact = agent_session(client, studio)
    w3 = client.select_session(artifact["key_hash"])

    with pytest.raises(PolicyDenied) as raised:
        studio.usdc_contract(w3).functions.transfer(fresh_address(), 100 * USDC).transact()

    assert raised.value.reason == "per_tx_limit_exceeded"
    assert raised.value.rpc_response is not None
    assert raised.value.rpc_response["error"]["code"] == 4001


def test_select_session_on_a_chain_outside_the_scope_is_a_validation_error(
        client: StudioClient, studio: Studio) -> None:
    artifact = agent_session(client, studio)

    with pytest.raises(ValidationError) as raised:
        client.select_session(artifact["key_hash"], chain_id=SECOND_CHAIN)

    assert raised.value.field == "chain_id"


def test_usage_events_and_snippet_describe_the_session(client: StudioClient,
                                                       studio: Studio) -> None:
    artifact = agent_session(client, studio)
    w3 = client.select_session(artifact["key_hash"])
    w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction({"to": fresh_address(),
                                                                 "value": 10**15}))

    usage = client.get_usage(artifact["key_hash"])
    events = client.list_events(artifact["key_hash"], limit=5)
    snippet = client.get_snippet(artifact["key_hash"], lang="python")

    # Request counts are flushed once a second (docs/design.md); spend is in the ledger now.
    assert Decimal(usage["spent_in_window"]) > 0
    assert usage["limits"] == artifact["limits"]
    assert events[0]["method"] == "eth_sendTransaction" and events[0]["allowed"] is True
    assert artifact["rpc_url"] in snippet


def test_register_agent_returns_its_credential_and_ceiling(client: StudioClient) -> None:
    name = unique("api-agent")
    ceiling = AgentCeiling(permissions=["transfer"], chains=[PRIMARY_CHAIN], tokens=["USDC"],
                           limit=Limit.usd("10", daily="50"), max_lifetime="7d",
                           max_live_sessions=2)

    agent = client.register_agent(name, daily_budget="100", ceiling=ceiling)

    assert agent["credential"].startswith("sst_")
    assert agent["daily_budget"] == "100"
    listed = next(a for a in client.list_agents() if a["name"] == name)
    assert listed.get("ceiling") is not None
    assert "credential" not in listed


def test_a_ceiling_can_bound_the_agents_approval_threshold(client: StudioClient) -> None:
    name = unique("held-agent")
    ceiling = AgentCeiling(permissions=["transfer"], chains=[PRIMARY_CHAIN], tokens=["USDC"],
                           limit=Limit.usd("10", daily="50"), max_lifetime="7d",
                           max_live_sessions=2, approve_above="2.5")

    client.register_agent(name, ceiling=ceiling)

    listed = next(a for a in client.list_agents() if a["name"] == name)
    assert listed["ceiling"]["approve_above"] == "2.5"


def test_reissue_agent_returns_a_new_credential_and_kills_the_old_one(
        client: StudioClient, studio: Studio) -> None:
    name = unique("reissued")
    old = client.register_agent(name)["credential"]
    session = client.create_session(type="agent", agent=name, label="reissue", chains=[
        PRIMARY_CHAIN], permissions=["transfer"], tokens=["ETH"], limit=Limit.usd("1", daily="2"),
        expires_in="1h")

    reissued = client.reissue_agent(name)

    assert reissued["credential"].startswith("sst_") and reissued["credential"] != old
    assert _accounts(studio, old) == 401
    assert _accounts(studio, reissued["credential"]) == [session["address"]]


def test_disable_agent_revokes_its_sessions(client: StudioClient) -> None:
    name = unique("disabled")
    client.register_agent(name)
    session = client.create_session(type="agent", agent=name, label="disable", chains=[
        PRIMARY_CHAIN], permissions=["transfer"], tokens=["ETH"], limit=Limit.usd("1", daily="2"),
        expires_in="1h")

    disabled = client.disable_agent(name)

    assert disabled["status"] == "disabled"
    assert disabled["revoked"] == [session["key_hash"]]
    assert client.get_session(session["key_hash"])["status"] == "revoked"


def _accounts(studio: Studio, credential: str) -> Any:
    """eth_accounts with `credential`: the addresses, or the HTTP status of a refusal."""
    status, answer = post(studio, credential, "eth_accounts", [])
    return answer["result"] if status == 200 else status


def test_a_wrong_admin_token_is_unauthorized(admin_url: str) -> None:
    with StudioClient(admin_url, "ssa_not-a-token") as client, \
            pytest.raises(Unauthorized) as raised:
        client.list_sessions()

    assert raised.value.status == 401


async def test_async_client_selects_an_async_web3(admin_url: str, admin_token: str,
                                                  studio: Studio) -> None:
    agent = register_agent(studio)
    to = fresh_address()
    async with AsyncStudioClient(admin_url, admin_token) as client:
        artifact = await client.create_session(
            type="agent", label="async", chains=[PRIMARY_CHAIN], permissions=["transfer"],
            tokens=["ETH"], limit=Limit.usd("50", daily="200"), expires_in=3600, agent=agent)
        studio.fund(artifact["address"])
        w3 = await client.select_session(artifact["key_hash"])
        try:
            tx = await w3.eth.send_transaction({"to": to, "value": 10**15})
            receipt = await w3.eth.wait_for_transaction_receipt(tx)
        finally:
            await w3.provider.disconnect()
        listed = [s async for s in client.iter_sessions(agent=agent)]

    assert receipt["status"] == 1
    assert [s["key_hash"] for s in listed] == [artifact["key_hash"]]
