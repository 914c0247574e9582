"""`sessions create --approve-above AMOUNT` and `agents register --ceiling-approve-above`: the
threshold above which a request is held for a person (issue 14), as the command line sets it and
`sessions create|show|list --json` show it, with the limits it sits beside."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from session_studio.policy import parse_amount

from .conftest import LOCAL_CHAIN, Studio, stderr_lines

# Every call is a `python -m session_studio.cli` process (conftest.py).
pytestmark = pytest.mark.e2e

CREATE = ["sessions", "create", "--type", "app", "--label", "held-cli", "--chains",
          str(LOCAL_CHAIN), "--permissions", "transfer", "--tokens", "ETH",
          "--per-tx-limit", "10", "--daily-limit", "100", "--expires-in", "1h"]
CEILING = ["--ceiling-permissions", "transfer", "--ceiling-chains", str(LOCAL_CHAIN),
           "--ceiling-tokens", "ETH", "--ceiling-per-tx", "10", "--ceiling-daily", "100",
           "--ceiling-lifetime", "1d", "--ceiling-sessions", "2"]


@pytest.fixture(scope="module")
def held(studio: Studio) -> dict[str, Any]:
    artifact: dict[str, Any] = studio.json(*CREATE, "--approve-above", "2.5")
    return artifact


@pytest.fixture(scope="module")
def results(studio: Studio, held: dict[str, Any]) -> dict[str, subprocess.CompletedProcess[str]]:
    return studio.run_all({
        "show": ["sessions", "show", held["key_hash"], "--json"],
        "list": ["sessions", "list", "--label", "held-cli", "--json"],
        "over-per-tx": [*CREATE, "--approve-above", "10.5"],
        "not-an-amount": [*CREATE, "--approve-above", "lots"],
        "ceiling": ["agents", "register", "held-bot", *CEILING,
                    "--ceiling-approve-above", "3", "--json"],
        "ceiling-over-per-tx": ["agents", "register", "held-bot-2", *CEILING,
                                "--ceiling-approve-above", "12"],
        "threshold-without-ceiling": ["agents", "register", "held-bot-3",
                                      "--ceiling-approve-above", "3"],
    })


def test_create_prints_the_threshold_with_the_limits(held: dict[str, Any]) -> None:
    assert held["limits"] == {"unit": "USD", "per_tx": "10", "daily": "100",
                              "approve_above": "2.5"}


def test_show_and_list_print_the_threshold(
        results: dict[str, subprocess.CompletedProcess[str]], held: dict[str, Any]) -> None:
    shown = json.loads(results["show"].stdout)
    listed = json.loads(results["list"].stdout)

    assert shown["limits"]["approve_above"] == "2.5"
    assert [s["limits"]["approve_above"] for s in listed
            if s["key_hash"] == held["key_hash"]] == ["2.5"]


def test_a_threshold_over_the_per_tx_limit_is_a_usage_error_naming_it(
        results: dict[str, subprocess.CompletedProcess[str]]) -> None:
    refused = results["over-per-tx"]

    assert refused.returncode == 2
    assert stderr_lines(refused) == [
        "session-studio: approve_above: must not exceed the per-transaction limit: a request "
        "costing more is refused, never held, so the threshold would hold nothing"]


def test_a_threshold_that_is_not_an_amount_names_the_flag(
        results: dict[str, subprocess.CompletedProcess[str]]) -> None:
    refused = results["not-an-amount"]

    assert refused.returncode == 2
    assert stderr_lines(refused)[0].startswith("session-studio: --approve-above: ")


def test_an_agent_ceiling_carries_its_threshold(
        results: dict[str, subprocess.CompletedProcess[str]]) -> None:
    registered = results["ceiling"]

    assert registered.returncode == 0, registered.stderr
    assert json.loads(registered.stdout)["ceiling"]["approve_above"] == str(parse_amount("3"))


def test_a_ceiling_threshold_over_the_ceilings_per_tx_is_refused(
        results: dict[str, subprocess.CompletedProcess[str]]) -> None:
    refused = results["ceiling-over-per-tx"]

    assert refused.returncode == 2
    assert "approve_above: must not exceed the per-transaction limit" in refused.stderr


def test_a_ceiling_threshold_alone_asks_for_the_rest_of_the_ceiling(
        results: dict[str, subprocess.CompletedProcess[str]]) -> None:
    refused = results["threshold-without-ceiling"]

    assert refused.returncode == 2
    assert "a self-service ceiling needs every bound; missing --ceiling-permissions" in \
        refused.stderr
