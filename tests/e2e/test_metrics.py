"""The metrics listener after real traffic: counters by method, outcome and reason, latencies,
the fleet series (sessions, per-session spend and utilization, agent budgets), `promtool check
metrics` on the scrape, and the Grafana dashboard's queries against what is really exported."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3
from web3.exceptions import Web3RPCError

from .harness import Studio, stop_studio
from .observability import (
    Samples,
    eventually,
    samples_of,
    scrape,
    scrape_text,
    series_of,
    start_observed_studio,
)
from .rpc_client import ETH_FEES, assert_policy_denied, rpc, send, spent

pytestmark = pytest.mark.e2e

TO = Web3.to_checksum_address("0x000000000000000000000000000000000000beef")
PROMTOOL = Path("/usr/bin/promtool")
DASHBOARD = Path(__file__).resolve().parents[2] / "config" / "grafana" / "session-studio.json"
UTILIZATION = "session_studio_session_utilization_ratio"


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    running = start_observed_studio(tmp_path_factory.mktemp("metrics"),
                                    "snapshot_interval_s = 0.5")
    try:
        yield running
    finally:
        stop_studio(running)


@pytest.fixture(scope="module")
def scraped(studio: Studio) -> tuple[str, Samples, dict[str, Any]]:
    session = studio.create_session(per_tx="10")
    w3 = studio.web3(session)
    w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"from": session["address"], "to": TO, "value": 1}))
    with pytest.raises(Web3RPCError):
        w3.eth.send_transaction({"from": session["address"], "to": TO, "value": 10**19})
    rpc(studio, session["credential"], "made_up_method_xyz", [])
    text, samples = scrape(studio)
    return text, samples, session


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def signed_spend(studio: Studio, session: dict[str, Any], eth: str) -> Decimal:
    """Spend through eth_signTransaction (reserved like a send; nobody broadcasts it, so
    settlement leaves it and the figure stays put) and return the session's spend in window
    as the CLI reports it."""
    tx = {"from": session["address"], "to": TO, "value": hex(int(Decimal(eth) * 10**18)),
          **ETH_FEES}
    answer = send(studio, session, tx, method="eth_signTransaction")
    assert "result" in answer, answer
    return spent(studio, session)


def settled_value(studio: Studio, name: str, expected: float, **labels: str) -> float:
    """The series' value once the fleet snapshot has caught up with `expected`."""

    def probe() -> float | None:
        values = series_of(scrape(studio)[1], name, **labels)
        return values[0] if values and values[0] == pytest.approx(expected) else None

    return eventually(probe, what=f"{name}{labels} == {expected}")


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
    assert session["key_hash"] not in text


def test_session_utilization_is_its_spend_over_its_daily_limit(studio: Studio) -> None:
    session = studio.create_session(daily="200", label="utilization")
    spent_usd = signed_spend(studio, session, "0.01")  # 30 USD + worst-case gas

    ratio = settled_value(studio, UTILIZATION, float(spent_usd / 200),
                          session=session["key_hash"][:10])

    assert ratio == pytest.approx(float(spent_usd) / 200)


def test_session_series_carry_the_contract_labels(studio: Studio) -> None:
    agent = studio.new_agent()
    session = studio.create_session(daily="80", label="labelled payouts", agent=agent)
    spent_usd = signed_spend(studio, session, "0.001")

    settled_value(studio, "session_studio_session_spent_in_window", float(spent_usd),
                  session=session["key_hash"][:10])

    [(_, labels)] = [key for key in scrape(studio)[1]
                     if key[0] == "session_studio_session_daily_limit"
                     and dict(key[1])["session"] == session["key_hash"][:10]]
    assert dict(labels) == {"session": session["key_hash"][:10], "type": "agent",
                            "agent": agent, "label": "labelled payouts",
                            "workspace": "default", "unit": "USD"}


def test_agent_budget_utilization_counts_its_sessions_spend(studio: Studio) -> None:
    agent = f"budgeted-{studio.metrics_port}"
    studio.cli("agents", "register", agent, "--daily-budget", "100")
    session = studio.create_session(agent=agent)
    spent_usd = signed_spend(studio, session, "0.01")

    ratio = settled_value(studio, "session_studio_agent_budget_utilization_ratio",
                          float(spent_usd / 100), agent=agent)

    assert ratio == pytest.approx(float(spent_usd) / 100)


def test_sessions_are_counted_by_type_and_status(studio: Studio) -> None:
    revoked = studio.create_session(type_="app", fund=False)
    studio.cli("sessions", "revoke", revoked["key_hash"])
    listed = studio.cli("sessions", "list")
    expected = {(t, s): 0 for t in ("app", "agent") for s in ("active", "revoked", "expired")}
    for row in listed:
        expected[row["type"], row["status"]] += 1

    def probe() -> dict[tuple[str, str], float] | None:
        samples = scrape(studio)[1]
        counts = {(t, s): _value(samples, "session_studio_sessions", type=t, status=s)
                  for t, s in expected}
        return counts if counts == expected else None

    assert eventually(probe, what="session counts") == expected


def test_refusals_show_as_recent_denials_of_that_session(studio: Studio) -> None:
    session = studio.create_session(per_tx="1", label="refused")
    for _ in range(3):
        tx = {"from": session["address"], "to": TO, "value": hex(10**18), **ETH_FEES}
        assert_policy_denied(send(studio, session, tx), "per_tx_limit_exceeded")

    denials = settled_value(studio, "session_studio_session_recent_policy_denials", 3,
                            session=session["key_hash"][:10])

    assert denials == 3


def test_scrape_after_traffic_passes_promtool_check_metrics(
        studio: Studio, scraped: tuple[str, Samples, dict[str, Any]]) -> None:
    assert PROMTOOL.is_file(), f"{PROMTOOL} is missing: run `make system-packages`"
    text = scrape_text(studio)

    checked = subprocess.run([str(PROMTOOL), "check", "metrics"], input=text,
                             capture_output=True, text=True, timeout=60, check=False)

    assert (checked.returncode, checked.stdout + checked.stderr) == (0, "")


def test_dashboard_queries_use_only_metrics_the_sidecar_exports(
        studio: Studio, scraped: tuple[str, Samples, dict[str, Any]]) -> None:
    # Traffic that makes every family carry samples: an agent with a budget, and a refusal.
    agent = f"dashboard-{studio.metrics_port}"
    studio.cli("agents", "register", agent, "--daily-budget", "50")
    session = studio.create_session(agent=agent)
    signed_spend(studio, session, "0.001")
    exported = {name for name, _ in samples_of(scrape_text(studio))}
    dashboard = json.loads(DASHBOARD.read_text())

    used: dict[str, set[str]] = {}
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            names = set(re.findall(r"\bsession_studio_[a-z0-9_]+", target["expr"]))
            assert names, f"panel {panel['title']!r} queries no session_studio_ metric"
            used.setdefault(panel["title"], set()).update(names - exported)

    assert {title: missing for title, missing in used.items() if missing} == {}
