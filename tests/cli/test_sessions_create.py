"""`session-studio sessions create --json`: the provisioning artifact, and usage errors (exit 2)."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eth_utils import is_checksum_address

from .conftest import LOCAL_CHAIN, PUBLIC_RPC_URL, SECOND_CHAIN, Studio, stderr_lines

# Every call is a `python -m session_studio.cli` process (conftest.py).
pytestmark = pytest.mark.e2e

ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@pytest.fixture(scope="module")
def app_artifact(studio: Studio) -> dict[str, Any]:
    return studio.create_session(label="create-app", chains=f"{SECOND_CHAIN},{LOCAL_CHAIN}",
                                 per_tx="10.50", daily="100", expires_in="7d")


@pytest.fixture(scope="module")
def agent_artifact(studio: Studio, bot: dict[str, Any]) -> dict[str, Any]:
    return studio.create_session(label="create-agent", type="agent", agent=bot["name"])


VALID = ["sessions", "create", "--type", "app", "--label", "x", "--chains", str(LOCAL_CHAIN),
         "--permissions", "transfer", "--tokens", "ETH", "--per-tx-limit", "1",
         "--daily-limit", "2", "--expires-in", "1h"]


def with_option(flag: str, value: str | None) -> list[str]:
    """VALID with `flag` set to `value` (None: removed)."""
    args = list(VALID)
    if flag in args:
        i = args.index(flag)
        del args[i:i + 2]
    return args if value is None else [*args, flag, value]


# Each process costs about half a second of CPU: one case per rule, not every spelling.
USAGE_ERRORS = {
    "agent-session-without-agent": with_option("--type", "agent"),
    "unknown-chain": with_option("--chains", "1"),
    "bad-expires-in": with_option("--expires-in", "1w"),
    "per-tx-over-daily": with_option("--per-tx-limit", "3"),
    "unknown-permission": with_option("--permissions", "transfer,mint"),
}


@pytest.fixture(scope="module")
def usage_errors(studio: Studio) -> dict[str, subprocess.CompletedProcess[str]]:
    return studio.run_all(USAGE_ERRORS)


def test_artifact_key_hash_is_32_bytes_of_hex(app_artifact: dict[str, Any]) -> None:
    assert re.fullmatch(r"0x[0-9a-f]{64}", app_artifact["key_hash"])


def test_artifact_address_is_checksummed(app_artifact: dict[str, Any]) -> None:
    assert is_checksum_address(app_artifact["address"])


def test_artifact_address_is_the_tail_of_the_public_key_hash(app_artifact: dict[str, Any]
                                                            ) -> None:
    # address = last 20 bytes of keccak256(public key) = last 20 bytes of key_hash
    assert app_artifact["address"].lower()[2:] == app_artifact["key_hash"][-40:]


def test_app_artifact_carries_an_sst_credential(app_artifact: dict[str, Any]) -> None:
    assert app_artifact["credential"].startswith("sst_")


def test_agent_artifact_carries_the_agent_credential(
    agent_artifact: dict[str, Any], bot: dict[str, Any],
) -> None:
    assert agent_artifact["credential"] == bot["credential"]


def test_agent_artifact_names_its_agent(agent_artifact: dict[str, Any], bot: dict[str, Any]
                                        ) -> None:
    assert (agent_artifact["type"], agent_artifact["agent"]) == ("agent", bot["name"])


def test_artifact_rpc_url_is_the_first_chain_path(app_artifact: dict[str, Any]) -> None:
    assert app_artifact["rpc_url"] == f"{PUBLIC_RPC_URL}/rpc/{SECOND_CHAIN}"


def test_artifact_has_an_rpc_url_per_chain(app_artifact: dict[str, Any]) -> None:
    assert app_artifact["rpc_urls"] == {str(c): f"{PUBLIC_RPC_URL}/rpc/{c}"
                                        for c in (SECOND_CHAIN, LOCAL_CHAIN)}


def test_artifact_chain_ids_are_integers_in_the_given_order(app_artifact: dict[str, Any]
                                                           ) -> None:
    assert app_artifact["chain_ids"] == [SECOND_CHAIN, LOCAL_CHAIN]


def test_artifact_limits_are_decimal_strings(app_artifact: dict[str, Any]) -> None:
    assert app_artifact["limits"] == {"unit": "USD", "per_tx": "10.5", "daily": "100",
                                      "approve_above": None}


def test_artifact_expires_at_is_iso_utc_with_z(app_artifact: dict[str, Any]) -> None:
    assert ISO_Z.fullmatch(app_artifact["expires_at"])


def test_artifact_expires_at_is_the_requested_lifetime_from_now(app_artifact: dict[str, Any]
                                                               ) -> None:
    expires = datetime.strptime(app_artifact["expires_at"], "%Y-%m-%dT%H:%M:%SZ")
    expected = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=7)
    assert abs(expires - expected) < timedelta(minutes=2)


def test_artifact_lists_permissions_and_tokens(app_artifact: dict[str, Any]) -> None:
    assert (app_artifact["permissions"], app_artifact["tokens"]) == (
        ["transfer", "approve"], ["USDC", "ETH"])


@pytest.mark.parametrize("case", list(USAGE_ERRORS))
def test_invalid_create_is_a_usage_error(
    usage_errors: dict[str, subprocess.CompletedProcess[str]], case: str,
) -> None:
    result = usage_errors[case]
    assert result.returncode == 2, (result.stdout, result.stderr)


@pytest.mark.parametrize("case", list(USAGE_ERRORS))
def test_invalid_create_prints_nothing_on_stdout(
    usage_errors: dict[str, subprocess.CompletedProcess[str]], case: str,
) -> None:
    assert usage_errors[case].stdout == ""


def test_agent_session_without_agent_explains_the_missing_flag(
    usage_errors: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    assert "--agent" in stderr_lines(usage_errors["agent-session-without-agent"])[-1]

