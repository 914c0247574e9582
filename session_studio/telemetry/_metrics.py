"""Prometheus metrics of one process, on its own registry (no global default registry).

Names follow Prometheus' rules (CONVENTIONS.md): `session_studio_` prefix, base units
(seconds, ratios 0..1), `_total` only on counters (prometheus-client appends it), bounded label
values: methods outside the served set are reported as "other", so a client cannot mint series.

Two kinds of series live here:
- request-path counters and histograms (`PrometheusObserver`), updated in memory as calls go;
- fleet gauges (`FleetCollector`): sessions by type and status, per active session its spend,
  limit, utilization, recent denials and usage, per agent its budget. They are formatted from
  the `FleetView` snapshot at scrape time and never query the database themselves.

Money in these gauges is a float in the session's limit unit (label `unit`): the one place the
project lets money be a float, because Prometheus has no other number. The ledger, the API and
the CLI keep exact decimal strings; a gauge may be off in its 16th significant digit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, Info
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from session_studio.policy import health_badges
from session_studio.proxy import READ_METHODS, SIGNING_AND_LOCAL_METHODS
from session_studio.store import FleetSession, FleetSnapshot, SessionStatus, SessionType

from ._fleet import FleetView

log = logging.getLogger("session_studio.metrics")

# 0.1 ms to 5 s: a raw signature is ~20 us, eth-account's ~300 us, an upstream call ~1 ms.
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                   0.25, 0.5, 1.0, 2.5, 5.0)
_KNOWN_METHODS = READ_METHODS | SIGNING_AND_LOCAL_METHODS
ATOMS_PER_UNIT = 10**18
# Labels of every per-session series: the same set on each, so `spent / limit` needs no `on()`.
SESSION_LABELS = ("session", "type", "agent", "label", "workspace", "unit")
AGENT_LABELS = ("agent", "workspace", "unit")
AGENT_BUDGET_UNIT = "USD"
APPROVAL_OUTCOMES = ("approved", "rejected", "expired")
WEBHOOK_RESULTS = ("delivered", "retried", "failed")


class SessionUseSink(Protocol):
    def session_used(self, session_id: str, now_ms: int) -> None: ...


class PrometheusObserver:
    """The RPC plane's observer: request-path metrics here, session usage to the recorder."""

    def __init__(self, registry: CollectorRegistry, *, version: str,
                 usage: SessionUseSink | None = None) -> None:
        self._usage = usage
        Info("session_studio_build", "Build information", registry=registry).info(
            {"version": version})
        self._requests = Counter(
            "session_studio_rpc_requests", "JSON-RPC calls answered, by method and outcome",
            ["method", "outcome"], registry=registry)
        self._decisions = Counter(
            "session_studio_policy_decisions", "Signing decisions, by reason (allowed or a "
            "refusal reason code)", ["reason"], registry=registry)
        self._sign = Histogram(
            "session_studio_sign_duration_seconds", "Time to produce one signature",
            buckets=LATENCY_BUCKETS, registry=registry)
        self._upstream = Histogram(
            "session_studio_upstream_request_duration_seconds",
            "Calls to a chain's upstream node, by chain and outcome",
            ["chain_id", "ok"], buckets=LATENCY_BUCKETS, registry=registry)

        self._approval_decisions = Counter(
            "session_studio_approval_decisions", "Approvals decided, by outcome (approved, "
            "rejected, expired)", ["outcome"], registry=registry)
        self._webhook_deliveries = Counter(
            "session_studio_approval_webhook_deliveries", "Approval webhook attempts, by result "
            "(delivered; retried: failed, tried again later; failed: given up)", ["result"],
            registry=registry)
        # Every label value from the start: a rate() over a series that appears only with its
        # first increment misses that increment, and an alert on it never sees the first one.
        for outcome in APPROVAL_OUTCOMES:
            self._approval_decisions.labels(outcome=outcome)
        for result in WEBHOOK_RESULTS:
            self._webhook_deliveries.labels(result=result)

        # Children by label values: `labels()` takes a lock and builds a key per call, on
        # every request. The label values are bounded (known methods or "other", a handful of
        # outcomes, the configured chains), so these maps are too.
        self._request_children: dict[tuple[str, str], Any] = {}
        self._upstream_children: dict[tuple[int, bool], Any] = {}

    def request(self, method: str, outcome: str, seconds: float) -> None:
        label = method if method in _KNOWN_METHODS else "other"
        child = self._request_children.get((label, outcome))
        if child is None:
            child = self._requests.labels(method=label, outcome=outcome)
            self._request_children[(label, outcome)] = child
        child.inc()

    def decision(self, reason: str) -> None:
        self._decisions.labels(reason=reason).inc()

    def signed(self, seconds: float) -> None:
        self._sign.observe(seconds)

    def upstream(self, chain_id: int, method: str, seconds: float, ok: bool) -> None:
        child = self._upstream_children.get((chain_id, ok))
        if child is None:
            child = self._upstream.labels(chain_id=str(chain_id), ok=str(ok).lower())
            self._upstream_children[(chain_id, ok)] = child
        child.observe(seconds)

    def approval_decided(self, outcome: str) -> None:
        """An approval left `pending`: "approved", "rejected" or "expired" (the expiry sweep
        counts each approval it expires)."""
        if outcome not in APPROVAL_OUTCOMES:
            # A caller's bug; labels stay bounded, and a metric never fails a decision made.
            log.error("approval_decided: unknown outcome %r not counted", outcome)
            return
        self._approval_decisions.labels(outcome=outcome).inc()

    def webhook_delivery(self, result: str) -> None:
        """One webhook attempt: "delivered", "retried" or "failed" (`notify.DeliveryObserver`)."""
        if result not in WEBHOOK_RESULTS:
            log.error("webhook_delivery: unknown result %r not counted", result)
            return
        self._webhook_deliveries.labels(result=result).inc()

    def session_used(self, session_id: str, now_ms: int) -> None:
        if self._usage is not None:
            self._usage.session_used(session_id, now_ms)


class FleetCollector(Collector):
    """Formats the latest fleet snapshot at scrape time; never touches the database."""

    def __init__(self, view: FleetView) -> None:
        self._view = view

    def describe(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        # Names only, so registering does not call collect() (auto_describe) before the first
        # snapshot exists.
        return list(_families(per_session=self._view.per_session).values())

    def collect(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        try:
            return list(_collect(self._view))
        except Exception:
            # A formatting bug must cost the fleet series of one scrape, not the whole scrape.
            log.exception("fleet metrics could not be formatted")
            return []


def _families(*, per_session: bool) -> dict[str, GaugeMetricFamily | CounterMetricFamily]:
    families: list[GaugeMetricFamily | CounterMetricFamily] = [
        GaugeMetricFamily("session_studio_sessions",
                          "Sessions by type and status (active, revoked, expired)",
                          labels=["type", "status"]),
        GaugeMetricFamily("session_studio_agent_spent_in_window",
                          "Spend of the agent's USD-limited sessions (revoked and rotated "
                          "ones included) in the daily window, in USD",
                          labels=AGENT_LABELS),
        GaugeMetricFamily("session_studio_agent_daily_budget",
                          "The agent's daily budget, in USD", labels=AGENT_LABELS),
        GaugeMetricFamily("session_studio_agent_budget_utilization_ratio",
                          "Agent spend in window over its daily budget (0..1, above 1 if "
                          "overspent)", labels=AGENT_LABELS),
        GaugeMetricFamily("session_studio_fleet_snapshot_timestamp_seconds",
                          "When the fleet snapshot behind the session and agent series was "
                          "read (unix seconds)"),
        CounterMetricFamily("session_studio_fleet_snapshot_failures",
                            "Fleet snapshot refreshes that failed (the previous one stayed)"),
    ]
    if per_session:
        families += [
            GaugeMetricFamily("session_studio_session_spent_in_window",
                              "Spend of the active session's lineage in the daily window, in "
                              "its limit unit", labels=SESSION_LABELS),
            GaugeMetricFamily("session_studio_session_daily_limit",
                              "The active session's daily limit, in its limit unit",
                              labels=SESSION_LABELS),
            GaugeMetricFamily("session_studio_session_utilization_ratio",
                              "Spend in window over the daily limit (0..1)",
                              labels=SESSION_LABELS),
            GaugeMetricFamily("session_studio_session_recent_policy_denials",
                              "Policy denials of the active session in the last 5 minutes",
                              labels=SESSION_LABELS),
            CounterMetricFamily("session_studio_session_requests",
                                "JSON-RPC calls served for the active session (as last "
                                "written, batched about every second)", labels=SESSION_LABELS),
            GaugeMetricFamily("session_studio_session_health",
                              "1 for each health badge the active session carries "
                              "(approaching_expiry, near_daily_limit), as in the API and page",
                              labels=[*SESSION_LABELS, "badge"]),
            GaugeMetricFamily("session_studio_session_last_used_timestamp_seconds",
                              "When the active session last served a call (unix seconds)",
                              labels=SESSION_LABELS),
        ]
    return {family.name: family for family in families}


def _collect(view: FleetView) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    snapshot = view.latest
    families = _families(per_session=view.per_session)
    families["session_studio_fleet_snapshot_failures"].add_metric([], view.failures)
    if snapshot is None:
        # Never read yet (the database was down at start): only the failure count is known.
        yield families["session_studio_fleet_snapshot_failures"]
        return
    families["session_studio_fleet_snapshot_timestamp_seconds"].add_metric(
        [], snapshot.taken_at_ms / 1000)
    for type_ in SessionType:
        for status in SessionStatus:
            # Every combination, zeros included: an alert on a missing series never fires.
            families["session_studio_sessions"].add_metric(
                [type_.value, status.value], snapshot.session_counts.get((type_, status), 0))
    for agent in snapshot.agents:
        labels = [agent.name, agent.workspace, AGENT_BUDGET_UNIT]
        families["session_studio_agent_spent_in_window"].add_metric(
            labels, _amount(agent.spent_in_window))
        families["session_studio_agent_daily_budget"].add_metric(
            labels, _amount(agent.daily_budget))
        families["session_studio_agent_budget_utilization_ratio"].add_metric(
            labels, _ratio(agent.spent_in_window, agent.daily_budget))
    if view.per_session:
        _add_sessions(families, snapshot)
    yield from families.values()


def _add_sessions(families: dict[str, GaugeMetricFamily | CounterMetricFamily],
                  snapshot: FleetSnapshot) -> None:
    seen: set[tuple[str, ...]] = set()
    # Two sessions can share every label (key hash prefixes are 32 bits, labels are free
    # text); a scrape must not carry the same series twice, so the busier one is shown.
    ordered = sorted(snapshot.sessions,
                     key=lambda s: _ratio(s.spent_in_window, s.daily_limit), reverse=True)
    for session in ordered:
        labels = _session_labels(session)
        if labels in seen:
            continue
        seen.add(labels)
        values = list(labels)
        families["session_studio_session_spent_in_window"].add_metric(
            values, _amount(session.spent_in_window))
        families["session_studio_session_daily_limit"].add_metric(
            values, _amount(session.daily_limit))
        families["session_studio_session_utilization_ratio"].add_metric(
            values, _ratio(session.spent_in_window, session.daily_limit))
        families["session_studio_session_recent_policy_denials"].add_metric(
            values, session.recent_denials)
        families["session_studio_session_requests"].add_metric(values, session.request_count)
        for badge in health_badges(
                created_at_ms=session.created_at_ms, expires_at_ms=session.expires_at_ms,
                now_ms=snapshot.taken_at_ms, spent_in_window=session.spent_in_window,
                daily_limit=session.daily_limit, active=True):
            families["session_studio_session_health"].add_metric([*values, badge.value], 1)
        if session.last_used_at_ms is not None:
            families["session_studio_session_last_used_timestamp_seconds"].add_metric(
                values, session.last_used_at_ms / 1000)


def _session_labels(session: FleetSession) -> tuple[str, ...]:
    # CONTRACT.md: `session` is the key hash's first 10 characters ("0x" + 8 hex digits);
    # the full hash, the address and the credential never appear in a label.
    return (session.key_hash[:10], session.type.value, session.agent_name or "", session.label,
            session.workspace, session.limit_unit)


def _amount(atoms: int) -> float:
    return atoms / ATOMS_PER_UNIT  # int / int: correctly rounded, no overflow for big sums


def _ratio(spent: int, limit: int) -> float:
    if limit <= 0:
        # Nothing may be spent: the limit is used up already.
        return 1.0
    return spent / limit
