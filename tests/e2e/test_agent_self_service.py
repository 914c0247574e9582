"""Agent self-service over JSON-RPC (`studio_*`): an agent manages its own sessions with its
agent token, never beyond the ceiling its operator set, and its daily budget holds across
revocations and rotations (issue 6; POLICY.md "Limits")."""

from __future__ import annotations

import os
from typing import Any

import pytest
from web3 import Web3

from .harness import PRIMARY_CHAIN, Studio
from .rpc_client import assert_policy_denied, rpc

pytestmark = pytest.mark.e2e

TO = Web3.to_checksum_address("0x000000000000000000000000000000000000beef")
ETH_3_USD = 10**15  # 0.001 ETH at $3000


def _register(studio: Studio, name: str, *extra: str) -> dict[str, Any]:
    ceiling = ["--ceiling-permissions", "transfer", "--ceiling-chains", str(PRIMARY_CHAIN),
               "--ceiling-tokens", "ETH,USDC", "--ceiling-per-tx", "10",
               "--ceiling-daily", "50", "--ceiling-lifetime", "1d", "--ceiling-sessions", "2"]
    registered: dict[str, Any] = studio.cli("agents", "register", f"{name}-{os.getpid()}",
                                            *ceiling, *extra)
    return registered


def _config(**changes: Any) -> dict[str, Any]:
    return {"label": "self-made", "chain_ids": [PRIMARY_CHAIN], "permissions": ["transfer"],
            "tokens": ["ETH"], "per_tx_limit": "10", "daily_limit": "50",
            "expires_in": "1h", **changes}


def _create(studio: Studio, agent: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return rpc(studio, agent["credential"], "studio_createSession", [_config(**changes)])


def _pay(studio: Studio, credential: str, address: str, value: int = ETH_3_USD
         ) -> dict[str, Any]:
    return rpc(studio, credential, "eth_sendTransaction",
               [{"from": address, "to": TO, "value": hex(value)}])


@pytest.fixture(scope="module")
def agent(studio: Studio) -> dict[str, Any]:
    return _register(studio, "self-service")


def test_an_agent_creates_a_session_within_its_ceiling(studio: Studio,
                                                       agent: dict[str, Any]) -> None:
    created = _create(studio, agent, label="within")["result"]
    assert created["agent"] == agent["name"] and created["credential"] == agent["credential"]


def test_the_created_session_signs_with_the_agent_token(studio: Studio) -> None:
    agent = _register(studio, "signer")
    created = _create(studio, agent)["result"]
    studio.fund(created["address"])
    assert "result" in _pay(studio, agent["credential"], created["address"])


@pytest.mark.parametrize(("field", "change"), [
    ("permissions", {"permissions": ["transfer", "approve"]}),
    ("chain_ids", {"chain_ids": [PRIMARY_CHAIN, 84532]}),
    ("tokens", {"tokens": ["ETH", "DAI"]}),
    ("per_tx_limit", {"per_tx_limit": "10.01"}),
    ("daily_limit", {"daily_limit": "51"}),
    ("expires_in", {"expires_in": "2d"}),
    ("limit_unit", {"limit_unit": "USDC"}),
])
def test_asking_for_more_than_the_ceiling_is_refused_naming_the_field(
        studio: Studio, agent: dict[str, Any], field: str, change: dict[str, Any]) -> None:
    data = assert_policy_denied(_create(studio, agent, **change), "ceiling_exceeded")
    assert data["data"]["field"] == field


@pytest.fixture(scope="module")
def held_agent(studio: Studio) -> dict[str, Any]:
    """An agent whose ceiling holds payments over $2 for a person (issue 14)."""
    return _register(studio, "held", "--ceiling-approve-above", "2")


def test_a_self_created_session_gets_the_ceilings_threshold_and_holds_over_it(
        studio: Studio, held_agent: dict[str, Any]) -> None:
    created = _create(studio, held_agent, label="held")["result"]
    studio.fund(created["address"])

    paid = _pay(studio, held_agent["credential"], created["address"])  # about $3, gas included

    assert created["limits"]["approve_above"] == "2"
    assert_policy_denied(paid, "approval_required")


def test_asking_for_a_threshold_above_the_ceilings_is_refused_naming_it(
        studio: Studio, held_agent: dict[str, Any]) -> None:
    data = assert_policy_denied(_create(studio, held_agent, approve_above="2.01"),
                                "ceiling_exceeded")
    assert data["data"]["field"] == "approve_above"


def test_an_agent_without_a_ceiling_cannot_create_sessions(studio: Studio) -> None:
    plain = studio.cli("agents", "register", f"no-ceiling-{os.getpid()}")
    assert_policy_denied(_create(studio, plain), "ceiling_exceeded")


def test_operator_only_fields_are_refused_as_invalid(studio: Studio,
                                                     agent: dict[str, Any]) -> None:
    answer = _create(studio, agent, recipients=["0x" + "11" * 20])
    assert answer["error"]["code"] == -32602


def test_live_sessions_are_capped_by_the_ceiling(studio: Studio) -> None:
    capped = _register(studio, "capped")
    assert "result" in _create(studio, capped)
    assert "result" in _create(studio, capped)
    data = assert_policy_denied(_create(studio, capped), "ceiling_exceeded")
    assert data["data"]["field"] == "max_live_sessions"


def test_revoking_frees_a_live_session_slot(studio: Studio) -> None:
    agent = _register(studio, "recycler")
    first = _create(studio, agent)["result"]
    _create(studio, agent)
    rpc(studio, agent["credential"], "studio_revokeSession", [first["key_hash"]])
    assert "result" in _create(studio, agent)


def test_statuses_show_every_session_of_the_agent(studio: Studio) -> None:
    agent = _register(studio, "lister")
    created = _create(studio, agent)["result"]
    statuses = rpc(studio, agent["credential"], "studio_getSessionStatuses", [])["result"]
    assert [(s["key_hash"], s["status"]) for s in statuses] == [(created["key_hash"],
                                                                 "active")]


def test_list_sessions_answers_in_the_admin_api_shape(studio: Studio) -> None:
    agent = _register(studio, "shape")
    _create(studio, agent)
    listed = rpc(studio, agent["credential"], "studio_listSessions", [])["result"]
    assert {"key_hash", "status", "limits", "spent_in_window", "health"} <= set(listed[0])


def test_an_agent_cannot_revoke_another_agents_session(studio: Studio,
                                                       agent: dict[str, Any]) -> None:
    other = _register(studio, "victim")
    theirs = _create(studio, other)["result"]
    answer = rpc(studio, agent["credential"], "studio_revokeSession", [theirs["key_hash"]])
    assert answer["error"]["code"] == -32602
    statuses = rpc(studio, other["credential"], "studio_getSessionStatuses", [])["result"]
    assert statuses[0]["status"] == "active"


def test_an_app_credential_cannot_use_self_service(studio: Studio) -> None:
    app = studio.create_session(type_="app", fund=False)
    answer = rpc(studio, app["credential"], "studio_listSessions", [])
    assert answer["error"]["code"] == 4200


def test_rotation_keeps_the_terms_and_the_agent_token_keeps_working(studio: Studio) -> None:
    agent = _register(studio, "rotator")
    old = _create(studio, agent)["result"]
    new = rpc(studio, agent["credential"], "studio_rotateSession", [old["key_hash"]])["result"]
    studio.fund(new["address"])
    assert (new["limits"], new["expires_at"]) == (old["limits"], old["expires_at"])
    assert "result" in _pay(studio, agent["credential"], new["address"])


def test_the_agent_budget_holds_across_revoke_recreate_and_rotation(studio: Studio) -> None:
    agent = _register(studio, "budgeted", "--daily-budget", "7")
    first = _create(studio, agent)["result"]
    studio.fund(first["address"])
    assert "result" in _pay(studio, agent["credential"], first["address"])  # ~$3.06
    rpc(studio, agent["credential"], "studio_revokeSession", [first["key_hash"]])
    second = _create(studio, agent)["result"]
    studio.fund(second["address"])
    assert "result" in _pay(studio, agent["credential"], second["address"])  # ~$6.13
    third = rpc(studio, agent["credential"], "studio_rotateSession",
                [second["key_hash"]])["result"]
    studio.fund(third["address"])
    assert_policy_denied(_pay(studio, agent["credential"], third["address"]),
                         "agent_budget_exceeded")


def test_operator_rotates_every_matching_session_with_one_command(studio: Studio) -> None:
    agent = _register(studio, "weekly")
    a = _create(studio, agent)["result"]
    b = _create(studio, agent)["result"]
    rotated = studio.cli("sessions", "rotate", "--all-matching", "--agent", agent["name"])
    assert sorted(r["from"] for r in rotated["rotated"]) == sorted([a["key_hash"],
                                                                    b["key_hash"]])


def test_each_rotation_is_in_the_audit_trail(studio: Studio) -> None:
    agent = _register(studio, "audited")
    old = _create(studio, agent)["result"]
    rpc(studio, agent["credential"], "studio_rotateSession", [old["key_hash"]])
    proc = studio.cli_raw("audit", "export")
    assert '"action": "session.rotate"' in proc.stdout
    assert f'"actor": "agent:{agent["name"]}"' in proc.stdout


def _register_window_agent(studio: Studio, name: str) -> dict[str, Any]:
    """An agent whose ceiling allows one $50 request and $50 a day, with no daily budget:
    only the ceiling's daily limit stands between it and an endless series of windows."""
    registered: dict[str, Any] = studio.cli(
        "agents", "register", f"{name}-{os.getpid()}", "--ceiling-permissions", "transfer",
        "--ceiling-chains", str(PRIMARY_CHAIN), "--ceiling-tokens", "ETH",
        "--ceiling-per-tx", "50", "--ceiling-daily", "50", "--ceiling-lifetime", "1d",
        "--ceiling-sessions", "2")
    return registered


def _funded(studio: Studio, agent: dict[str, Any]) -> dict[str, Any]:
    created = _create(studio, agent, per_tx_limit="50", daily_limit="50")["result"]
    studio.fund(created["address"])
    return created


def test_agent_cannot_buy_a_new_window_by_revoking_and_recreating(studio: Studio) -> None:
    agent = _register_window_agent(studio, "window-buyer")
    credential = agent["credential"]
    first = _funded(studio, agent)
    assert "result" in _pay(studio, credential, first["address"], 15 * ETH_3_USD)  # ~$45.2
    rpc(studio, credential, "studio_revokeSession", [first["key_hash"]])
    second = _funded(studio, agent)
    # The new session's own window is empty, but the agent's is not: $3 still fits, $6 not.
    assert "result" in _pay(studio, credential, second["address"], ETH_3_USD)
    denied = assert_policy_denied(_pay(studio, credential, second["address"], 2 * ETH_3_USD),
                                  "agent_budget_exceeded")
    assert denied["data"]["self_service_daily_limit"] == "50"


def test_a_rotated_and_a_parallel_self_created_session_share_the_agent_window(
        studio: Studio) -> None:
    agent = _register_window_agent(studio, "window-splitter")
    credential = agent["credential"]
    first, second = _funded(studio, agent), _funded(studio, agent)
    assert "result" in _pay(studio, credential, first["address"], 10 * ETH_3_USD)  # ~$30.2
    rotated = rpc(studio, credential, "studio_rotateSession", [first["key_hash"]])["result"]
    studio.fund(rotated["address"])
    assert "result" in _pay(studio, credential, second["address"], 5 * ETH_3_USD)  # ~$15.2
    assert_policy_denied(_pay(studio, credential, rotated["address"], 2 * ETH_3_USD),
                         "agent_budget_exceeded")


def test_sessions_an_operator_creates_for_the_agent_are_outside_its_self_service_window(
        studio: Studio) -> None:
    agent = _register_window_agent(studio, "window-operator")
    credential = agent["credential"]
    mine = _funded(studio, agent)
    assert "result" in _pay(studio, credential, mine["address"], 15 * ETH_3_USD)
    operators = studio.create_session(agent=agent["name"], tokens="ETH", per_tx="50",
                                      daily="50")
    assert "result" in _pay(studio, credential, operators["address"], 15 * ETH_3_USD)
