"""One session through the API: create, get, usage, events, revoke, rotate, export, snippet;
and the agents registry."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .conftest import (
    KEY_HASH_OF_NOBODY,
    LOCAL_CHAIN,
    PUBLIC_RPC_URL,
    SECOND_CHAIN,
    AdminPlane,
    Bearer,
    session_body,
)

SESSION_FIELDS = {"key_hash", "address", "type", "label", "agent", "status", "permissions",
                  "chain_ids", "tokens", "limits", "spent_in_window", "created_at",
                  "expires_at", "last_used_at", "request_count", "health"}
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


async def _writer_with_agent(admin: AdminPlane, name: str = "bot") -> tuple[Bearer, str]:
    writer = await admin.writer()
    agent = await admin.register_agent(writer, name)
    credential: str = agent["credential"]
    return writer, credential


# -- create ---------------------------------------------------------------------------------
async def test_creating_an_agent_session_returns_its_provisioning_artifact(
        admin: AdminPlane) -> None:
    writer, agent_credential = await _writer_with_agent(admin)

    reply = await admin.post("/sessions", session_body(
        agent="bot", label="payouts", chain_ids=[LOCAL_CHAIN, SECOND_CHAIN],
        tokens=["ETH"], per_tx_limit="10.5", daily_limit="100"), auth=writer)

    assert reply.status == 201
    artifact = reply.body
    assert re.fullmatch(r"0x[0-9a-f]{64}", artifact["key_hash"])
    assert re.fullmatch(r"0x[0-9a-fA-F]{40}", artifact["address"])
    assert artifact["credential"] == agent_credential
    assert artifact["rpc_url"] == f"{PUBLIC_RPC_URL}/rpc/{LOCAL_CHAIN}"
    assert artifact["rpc_urls"] == {str(c): f"{PUBLIC_RPC_URL}/rpc/{c}"
                                    for c in (LOCAL_CHAIN, SECOND_CHAIN)}
    assert artifact["limits"] == {"unit": "USD", "per_tx": "10.5", "daily": "100",
                                  "approve_above": None}
    assert artifact["chain_ids"] == [LOCAL_CHAIN, SECOND_CHAIN]
    assert artifact["agent"] == "bot"
    assert ISO_UTC.match(artifact["expires_at"])


async def test_every_policy_field_of_the_seed_is_kept(admin: AdminPlane) -> None:
    writer, _ = await _writer_with_agent(admin)
    recipient = "0x" + "ab" * 20
    contract = "0x" + "cd" * 20

    artifact = await admin.create_session(
        writer, agent="bot", permissions=["transfer", "approve", "contract_call"],
        limit_unit="USDC", recipients=[recipient], contracts={contract: ["0xa9059cbb"]},
        rate_limit_per_minute=30, max_fee_per_gas_gwei="1.5")

    shown = (await admin.get(f"/sessions/{artifact['key_hash']}", auth=writer)).body
    assert shown["permissions"] == ["transfer", "approve", "contract_call"]
    assert shown["limits"]["unit"] == "USDC"
    assert shown["recipients"] == [recipient]
    assert shown["contracts"] == {contract: ["0xa9059cbb"]}
    assert shown["rate_limit_per_minute"] == 30
    assert shown["max_fee_per_gas"] == "1500000000"


async def test_an_app_session_has_its_own_credential(admin: AdminPlane) -> None:
    login = await admin.register()

    first = await admin.create_session(login, type="app")
    second = await admin.create_session(login, type="app")

    assert first["credential"].startswith("sst_")
    assert first["credential"] != second["credential"]
    assert first["agent"] is None


# -- get, usage, events ---------------------------------------------------------------------
async def test_a_session_reads_in_the_contracts_shape(admin: AdminPlane) -> None:
    seeded = await admin.seed_session(label="Alpha checkout")
    reader = await admin.token("sessions:read")

    shown = (await admin.get(f"/sessions/{seeded['key_hash']}", auth=reader)).body

    assert set(shown) >= SESSION_FIELDS
    assert "credential" not in shown
    assert shown["status"] == "active"
    assert shown["spent_in_window"] == "0"
    assert shown["request_count"] == 0
    assert shown["last_used_at"] is None
    assert shown["health"] == []
    assert isinstance(shown["limits"]["per_tx"], str)


async def test_a_key_hash_is_found_in_any_letter_case(admin: AdminPlane) -> None:
    seeded = await admin.seed_session()
    reader = await admin.token("sessions:read")

    reply = await admin.get(f"/sessions/0x{seeded['key_hash'][2:].upper()}", auth=reader)

    assert reply.status == 200
    assert reply.body["key_hash"] == seeded["key_hash"]


async def test_usage_reports_spend_against_the_limits(admin: AdminPlane) -> None:
    seeded = await admin.seed_session(last_used_at_ms=admin.clock())
    reader = await admin.token("sessions:read")

    usage = (await admin.get(f"/sessions/{seeded['key_hash']}/usage", auth=reader)).body

    assert usage["key_hash"] == seeded["key_hash"]
    assert usage["status"] == "active"
    assert usage["request_count"] == 1
    assert ISO_UTC.match(usage["last_used_at"])
    assert usage["spent_in_window"] == "0"
    assert usage["limits"] == {"unit": "USD", "per_tx": "10", "daily": "100",
                               "approve_above": None}
    assert usage["utilization"] == "0.0000"


async def test_a_session_nearing_its_expiry_carries_a_health_badge(admin: AdminPlane) -> None:
    seeded = await admin.seed_session(lifetime_s=1800)
    reader = await admin.token("sessions:read")

    usage = (await admin.get(f"/sessions/{seeded['key_hash']}/usage", auth=reader)).body

    assert usage["health"] == ["approaching_expiry"]


async def test_a_session_without_requests_has_no_events(admin: AdminPlane) -> None:
    seeded = await admin.seed_session()
    reader = await admin.token("sessions:read")

    reply = await admin.get(f"/sessions/{seeded['key_hash']}/events", auth=reader,
                            params={"limit": "10"})

    assert reply.status == 200
    assert reply.body == {"items": []}


@pytest.mark.parametrize("path", ["", "/usage", "/events", "/export", "/snippet"])
async def test_an_unknown_key_hash_is_not_found(admin: AdminPlane, path: str) -> None:
    writer = await admin.writer()

    reply = await admin.get(f"/sessions/{KEY_HASH_OF_NOBODY}{path}", auth=writer)

    assert reply.status == 404
    assert reply.error["code"] == "not_found"


@pytest.mark.parametrize("action", ["revoke", "rotate"])
async def test_changing_an_unknown_key_hash_is_not_found(admin: AdminPlane, action: str) -> None:
    writer = await admin.writer()

    reply = await admin.post(f"/sessions/{KEY_HASH_OF_NOBODY}/{action}", auth=writer)

    assert reply.status == 404


@pytest.mark.parametrize("key_hash", [
    "0x1234", "0x" + "g" * 64, "ab" * 32, "0x" + "ab" * 33, "null", "..%2F..%2Fagents"])
async def test_a_malformed_key_hash_is_not_found(admin: AdminPlane, key_hash: str) -> None:
    writer = await admin.writer()

    reply = await admin.get(f"/sessions/{key_hash}/usage", auth=writer)

    assert reply.status == 404
    assert reply.error["code"] == "not_found"


# -- revoke ---------------------------------------------------------------------------------
async def test_revoking_a_session_answers_it_revoked(admin: AdminPlane) -> None:
    seeded = await admin.seed_session()
    writer = await admin.writer()

    reply = await admin.post(f"/sessions/{seeded['key_hash']}/revoke", auth=writer)

    assert reply.status == 200
    assert reply.body["status"] == "revoked"
    shown = await admin.get(f"/sessions/{seeded['key_hash']}", auth=writer)
    assert shown.body["status"] == "revoked"


async def test_revoking_twice_is_a_conflict(admin: AdminPlane) -> None:
    seeded = await admin.seed_session()
    writer = await admin.writer()
    await admin.post(f"/sessions/{seeded['key_hash']}/revoke", auth=writer)

    again = await admin.post(f"/sessions/{seeded['key_hash']}/revoke", auth=writer)

    assert again.status == 409
    assert again.error["code"] == "conflict"


async def test_revoking_destroys_the_sealed_key(admin: AdminPlane) -> None:
    seeded = await admin.seed_session()
    writer = await admin.writer()
    ws = admin.workspaces["alpha"]
    session = await admin.studio.service.get_session(ws, seeded["key_hash"])
    assert await admin.studio.store.sealed_key(session.id) is not None

    await admin.post(f"/sessions/{seeded['key_hash']}/revoke", auth=writer)

    assert await admin.studio.store.sealed_key(session.id) is None


# -- rotate ---------------------------------------------------------------------------------
async def test_rotating_returns_a_new_artifact_and_revokes_the_old_session(
        admin: AdminPlane) -> None:
    writer, agent_credential = await _writer_with_agent(admin)
    old = await admin.create_session(writer, agent="bot", label="payouts")

    reply = await admin.post(f"/sessions/{old['key_hash']}/rotate", auth=writer)

    assert reply.status == 200
    new = reply.body
    assert new["key_hash"] != old["key_hash"]
    assert new["address"] != old["address"]
    assert new["credential"] == agent_credential  # an agent keeps reaching its sessions
    for same in ("label", "agent", "permissions", "chain_ids", "tokens", "limits",
                 "expires_at", "rpc_url"):
        assert new[same] == old[same], same
    shown_old = await admin.get(f"/sessions/{old['key_hash']}", auth=writer)
    shown_new = await admin.get(f"/sessions/{new['key_hash']}", auth=writer)
    assert shown_old.body["status"] == "revoked"
    assert shown_new.body["status"] == "active"


async def test_rotating_an_app_session_issues_a_new_credential(admin: AdminPlane) -> None:
    login = await admin.register()
    old = await admin.create_session(login, type="app")

    new = (await admin.post(f"/sessions/{old['key_hash']}/rotate", auth=login)).body

    assert new["credential"].startswith("sst_")
    assert new["credential"] != old["credential"]


async def test_a_revoked_session_cannot_be_rotated(admin: AdminPlane) -> None:
    # A person with a fresh passkey assertion: the one caller allowed to rotate an app session.
    login = await admin.register()
    seeded = await admin.seed_session()
    await admin.post(f"/sessions/{seeded['key_hash']}/revoke", auth=login)

    reply = await admin.post(f"/sessions/{seeded['key_hash']}/rotate", auth=login)

    assert reply.status == 409


# -- export ---------------------------------------------------------------------------------
async def test_export_contains_the_credential_and_everything_an_agent_needs(
        admin: AdminPlane) -> None:
    writer, agent_credential = await _writer_with_agent(admin)
    created = await admin.create_session(writer, agent="bot", label="payouts")

    exported = (await admin.get(f"/sessions/{created['key_hash']}/export", auth=writer)).body

    for name in ("rpc_url", "rpc_urls", "credential", "address", "key_hash", "chain_ids",
                 "tokens", "limits", "expires_at", "label", "agent"):
        assert name in exported, name
    assert exported["credential"] == agent_credential
    assert exported == {**created}


async def test_export_never_contains_key_material(admin: AdminPlane) -> None:
    writer, _ = await _writer_with_agent(admin)
    created = await admin.create_session(writer, agent="bot")
    session = await admin.studio.service.get_session(admin.workspaces["alpha"],
                                                     created["key_hash"])
    sealed = await admin.studio.store.sealed_key(session.id)
    assert sealed is not None

    reply = await admin.get(f"/sessions/{created['key_hash']}/export", auth=writer)

    text = str(reply.body).lower()
    assert not re.search(r"private|secret|sealed|seed|mnemonic", text)
    assert sealed.hex() not in text
    # The only 32-byte hex value is the key hash (a hash of the public key).
    assert set(re.findall(r"0x[0-9a-f]{64}", text)) == {created["key_hash"]}


async def test_exporting_is_written_to_the_audit_trail(admin: AdminPlane) -> None:
    writer, _ = await _writer_with_agent(admin)
    created = await admin.create_session(writer, agent="bot")

    await admin.get(f"/sessions/{created['key_hash']}/export", auth=writer)

    entries = await admin.studio.store.audit_entries(
        workspace_id=admin.workspaces["alpha"].id, subject=created["key_hash"])
    assert [e.action for e in entries] == ["session.create", "session.export"]
    assert entries[-1].actor.startswith("token:")


# -- snippets -------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["python", "viem", "ethers"])
async def test_a_snippet_has_the_rpc_url_and_address_but_never_the_credential(
        admin: AdminPlane, lang: str) -> None:
    login = await admin.register()
    created = await admin.create_session(login, type="app")

    reply = await admin.get(f"/sessions/{created['key_hash']}/snippet", auth=login,
                            params={"lang": lang})

    assert reply.status == 200
    assert reply.body["lang"] == lang
    code = reply.body["code"]
    assert created["rpc_url"] in code
    assert created["address"] in code
    assert created["credential"] not in code
    assert "sst_" not in code


async def test_the_default_snippet_is_python(admin: AdminPlane) -> None:
    seeded = await admin.seed_session()
    reader = await admin.token("sessions:read")

    reply = await admin.get(f"/sessions/{seeded['key_hash']}/snippet", auth=reader)

    assert reply.body["lang"] == "python"
    assert "from web3 import Web3" in reply.body["code"]


async def test_an_unknown_snippet_language_names_the_field(admin: AdminPlane) -> None:
    seeded = await admin.seed_session()
    reader = await admin.token("sessions:read")

    reply = await admin.get(f"/sessions/{seeded['key_hash']}/snippet", auth=reader,
                            params={"lang": "cobol"})

    assert reply.status == 422
    assert reply.error["field"] == "lang"


# -- agents ---------------------------------------------------------------------------------
async def test_registering_an_agent_shows_its_credential_once(admin: AdminPlane) -> None:
    writer = await admin.writer()

    registered = await admin.post("/agents", {"name": "payments-bot", "daily_budget": "500"},
                                  auth=writer)
    listed = (await admin.get("/agents", auth=writer)).body["items"]

    assert registered.status == 201
    assert registered.body["credential"].startswith("sst_")
    assert registered.body["daily_budget"] == "500"
    assert listed == [{key: value for key, value in registered.body.items()
                       if key != "credential"}]


async def test_an_agent_counts_its_active_sessions(admin: AdminPlane) -> None:
    writer, _ = await _writer_with_agent(admin)
    first = await admin.create_session(writer, agent="bot")
    await admin.create_session(writer, agent="bot")
    await admin.post(f"/sessions/{first['key_hash']}/revoke", auth=writer)

    listed: list[dict[str, Any]] = (await admin.get("/agents", auth=writer)).body["items"]

    assert [(a["name"], a["active_sessions"]) for a in listed] == [("bot", 1)]


async def test_registering_an_agent_name_twice_is_a_conflict(admin: AdminPlane) -> None:
    writer, _ = await _writer_with_agent(admin)

    reply = await admin.post("/agents", {"name": "bot"}, auth=writer)

    assert reply.status == 409
