"""The metrics listener after real traffic: counters by method, outcome and reason, latencies."""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from web3 import Web3
from web3.exceptions import Web3RPCError

from .harness import Studio
from .rpc_client import rpc

TO = Web3.to_checksum_address("0x000000000000000000000000000000000000beef")
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _scrape(studio: Studio) -> tuple[str, Samples]:
    url = f"http://127.0.0.1:{studio.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return text, samples


@pytest.fixture(scope="module")
def scraped(studio: Studio) -> tuple[str, Samples, dict[str, Any]]:
    session = studio.create_session(per_tx="10")
    w3 = studio.web3(session)
    w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"from": session["address"], "to": TO, "value": 1}))
    with pytest.raises(Web3RPCError):
        w3.eth.send_transaction({"from": session["address"], "to": TO, "value": 10**19})
    rpc(studio, session["credential"], "made_up_method_xyz", [])
    text, samples = _scrape(studio)
    return text, samples, session


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_allowed_and_denied_sends_are_counted_by_outcome(
        scraped: tuple[str, Samples, dict[str, Any]]) -> None:
    _, samples, _ = scraped
    name = "session_studio_rpc_requests_total"
    assert _value(samples, name, method="eth_sendTransaction", outcome="ok") >= 1
    assert _value(samples, name, method="eth_sendTransaction", outcome="denied") >= 1


def test_policy_decisions_are_counted_by_reason(
        scraped: tuple[str, Samples, dict[str, Any]]) -> None:
    _, samples, _ = scraped
    name = "session_studio_policy_decisions_total"
    assert _value(samples, name, reason="allowed") >= 1
    assert _value(samples, name, reason="per_tx_limit_exceeded") >= 1


def test_unknown_methods_share_one_label_value(
        scraped: tuple[str, Samples, dict[str, Any]]) -> None:
    text, samples, _ = scraped
    assert _value(samples, "session_studio_rpc_requests_total", method="other",
                  outcome="error") >= 1
    assert "made_up_method_xyz" not in text


def test_sign_and_upstream_latencies_are_observed(
        scraped: tuple[str, Samples, dict[str, Any]]) -> None:
    _, samples, _ = scraped
    assert _value(samples, "session_studio_sign_duration_seconds_count") >= 1
    upstream = [v for (name, _), v in samples.items()
                if name == "session_studio_upstream_request_duration_seconds_count"]
    assert sum(upstream) >= 1


def test_metrics_never_carry_credentials_or_addresses(
        scraped: tuple[str, Samples, dict[str, Any]]) -> None:
    text, _, session = scraped
    assert session["credential"] not in text
    assert session["address"].lower() not in text.lower()
