"""Cutting off an agent credential (CONTRACT.md, "CLI": `agents reissue`, `agents disable`).

A leaked agent credential (it is in every agent export) must be killable. The `serve` of this
module was started before any reissue or disable: both take effect there at once, because the
RPC plane resolves every presented credential in the database, with no cache in between.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from typing import Any

import pytest
from web3 import Web3

from .harness import PRIMARY_CHAIN, Studio
from .rpc_client import post, rpc

pytestmark = pytest.mark.e2e

TO = Web3.to_checksum_address("0x000000000000000000000000000000000000beef")
ETH_3_USD = 10**15  # 0.001 ETH at $3000


def _agent(studio: Studio, name: str) -> dict[str, Any]:
    """A registered agent with a self-service ceiling and one funded session made by the
    operator; returns the registration answer plus that session's artifact."""
    registered: dict[str, Any] = studio.cli(
        "agents", "register", f"{name}-{os.getpid()}", "--ceiling-permissions", "transfer",
        "--ceiling-chains", str(PRIMARY_CHAIN), "--ceiling-tokens", "ETH",
        "--ceiling-per-tx", "10", "--ceiling-daily", "50", "--ceiling-lifetime", "1d",
        "--ceiling-sessions", "3")
    session = studio.create_session(agent=registered["name"], tokens="ETH")
    return {**registered, "session": session}


def _pay(studio: Studio, credential: str, address: str) -> tuple[int, dict[str, Any]]:
    return post(studio, credential, "eth_sendTransaction",
                [{"from": address, "to": TO, "value": hex(ETH_3_USD)}])


def _refused_as_unknown(answer: tuple[int, dict[str, Any]]) -> None:
    status, body = answer
    assert status == 401, body
    assert body["error"]["code"] == 4100, body


def _sealed_keys(studio: Studio, agent_name: str) -> list[bytes | None]:
    with closing(sqlite3.connect(studio.home / "studio.db")) as db:
        return [row[0] for row in db.execute(
            "SELECT s.sealed_key FROM sessions s JOIN agents a ON a.id = s.agent_id"
            " WHERE a.name = ?", (agent_name,))]


def test_a_reissued_agent_credential_refuses_the_old_one_at_once(studio: Studio) -> None:
    agent = _agent(studio, "reissued")
    old, address = agent["credential"], agent["session"]["address"]
    assert _pay(studio, old, address)[0] == 200

    reissued = studio.cli("agents", "reissue", agent["name"])

    new = reissued["credential"]
    assert new.startswith("sst_") and new != old
    _refused_as_unknown(_pay(studio, old, address))
    status, answer = _pay(studio, new, address)
    assert status == 200 and "result" in answer, answer


def test_reissue_without_json_prints_the_new_credential(studio: Studio) -> None:
    agent = _agent(studio, "reissued-text")
    proc = studio.cli_raw("agents", "reissue", agent["name"])
    assert proc.returncode == 0, proc.stderr
    credential = proc.stdout.strip().splitlines()[-1].split()[-1]
    assert rpc(studio, credential, "eth_accounts", [])["result"] == [
        agent["session"]["address"]]


def test_an_agent_export_carries_the_current_credential(studio: Studio) -> None:
    agent = _agent(studio, "exported")
    new = studio.cli("agents", "reissue", agent["name"])["credential"]
    exported = studio.cli("sessions", "export", agent["session"]["key_hash"])
    assert exported["credential"] == new


def test_the_old_credential_cannot_use_self_service_after_a_reissue(studio: Studio) -> None:
    agent = _agent(studio, "reissued-self")
    studio.cli("agents", "reissue", agent["name"])
    _refused_as_unknown(post(studio, agent["credential"], "studio_listSessions", []))


@pytest.fixture(scope="module")
def disabled(studio: Studio) -> dict[str, Any]:
    agent = _agent(studio, "disabled")
    second = studio.create_session(agent=agent["name"], tokens="ETH")
    mine = rpc(studio, agent["credential"], "studio_createSession", [{
        "label": "self-made", "chain_ids": [PRIMARY_CHAIN], "permissions": ["transfer"],
        "tokens": ["ETH"], "per_tx_limit": "10", "daily_limit": "50",
        "expires_in": "1h"}])["result"]
    answer = studio.cli("agents", "disable", agent["name"])
    return {**agent, "sessions": [agent["session"], second, mine], "answer": answer}


def test_disabling_an_agent_kills_its_credential_at_once(studio: Studio,
                                                         disabled: dict[str, Any]) -> None:
    _refused_as_unknown(_pay(studio, disabled["credential"], disabled["session"]["address"]))
    _refused_as_unknown(post(studio, disabled["credential"], "studio_listSessions", []))


def test_disabling_an_agent_revokes_every_session_and_destroys_their_keys(
        studio: Studio, disabled: dict[str, Any]) -> None:
    key_hashes = sorted(s["key_hash"] for s in disabled["sessions"])
    assert sorted(disabled["answer"]["revoked"]) == key_hashes
    listed = studio.cli("sessions", "list", "--agent", disabled["name"])
    assert sorted((s["key_hash"], s["status"]) for s in listed) == [
        (k, "revoked") for k in key_hashes]
    assert _sealed_keys(studio, disabled["name"]) == [None, None, None]


def test_a_disabled_agent_gets_no_new_credential_and_no_new_session(
        studio: Studio, disabled: dict[str, Any]) -> None:
    reissue = studio.cli_raw("agents", "reissue", disabled["name"])
    assert reissue.returncode == 1 and "disabled" in reissue.stderr
    create = studio.cli_raw("sessions", "create", "--type", "agent", "--agent",
                            disabled["name"], "--label", "after", "--chains",
                            str(PRIMARY_CHAIN), "--permissions", "transfer", "--tokens", "ETH",
                            "--per-tx-limit", "1", "--daily-limit", "1", "--expires-in", "1h")
    assert create.returncode == 1 and "disabled" in create.stderr


def test_disabling_is_in_the_audit_trail_with_every_revoked_session(
        studio: Studio, disabled: dict[str, Any]) -> None:
    proc = studio.cli_raw("audit", "export")
    entries = [line for line in proc.stdout.splitlines() if disabled["name"] in line
               or any(s["key_hash"] in line for s in disabled["sessions"])]
    assert any('"action": "agent.disable"' in line for line in entries)
    revoked = [line for line in entries if '"action": "session.revoke"' in line]
    assert len(revoked) == 3


def test_agents_list_shows_the_disabled_agent_as_disabled(
        studio: Studio, disabled: dict[str, Any]) -> None:
    listed = {a["name"]: a for a in studio.cli("agents", "list")}
    assert listed[disabled["name"]]["status"] == "disabled"
