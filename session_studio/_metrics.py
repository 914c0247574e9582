"""Prometheus metrics of one process, on its own registry (no global default registry).

Names follow Prometheus' rules (CONVENTIONS.md): `session_studio_` prefix, base units
(seconds), `_total` counters (prometheus-client appends it), bounded label values: methods
outside the served set are reported as "other", so a client cannot mint series.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, Info

from session_studio.proxy import READ_METHODS, SIGNING_AND_LOCAL_METHODS

# 0.1 ms to 5 s: a raw signature is ~20 us, eth-account's ~300 us, an upstream call ~1 ms.
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                   0.25, 0.5, 1.0, 2.5, 5.0)
_KNOWN_METHODS = READ_METHODS | SIGNING_AND_LOCAL_METHODS


class PrometheusObserver:
    def __init__(self, registry: CollectorRegistry, *, version: str) -> None:
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

    def request(self, method: str, outcome: str, seconds: float) -> None:
        label = method if method in _KNOWN_METHODS else "other"
        self._requests.labels(method=label, outcome=outcome).inc()

    def decision(self, reason: str) -> None:
        self._decisions.labels(reason=reason).inc()

    def signed(self, seconds: float) -> None:
        self._sign.observe(seconds)

    def upstream(self, chain_id: int, method: str, seconds: float, ok: bool) -> None:
        self._upstream.labels(chain_id=str(chain_id), ok=str(ok).lower()).observe(seconds)
