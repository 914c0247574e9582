"""What the RPC plane reports about itself, as a narrow protocol.

The plane never imports prometheus-client or the usage recorder: the composition root hands it
an observer (`session_studio.telemetry.PrometheusObserver`, which also feeds the usage
recorder), and tests or embedders may hand it none.
"""

from __future__ import annotations

from typing import Protocol


class RpcObserver(Protocol):
    def request(self, method: str, outcome: str, seconds: float) -> None:
        """One JSON-RPC call answered: outcome is ok | denied | error | internal."""

    def decision(self, reason: str) -> None:
        """One signing decision: "allowed" or a reason code."""

    def signed(self, seconds: float) -> None:
        """Time spent producing one signature (inside the ledger transaction)."""

    def upstream(self, chain_id: int, method: str, seconds: float, ok: bool) -> None:
        """One call to a chain's upstream node."""

    def session_used(self, session_id: str, now_ms: int) -> None:
        """One JSON-RPC call served for this session (its usage: last used, request count).

        Called on the request path, so it must not block or touch the database."""


class NullObserver:
    def request(self, method: str, outcome: str, seconds: float) -> None:
        pass

    def decision(self, reason: str) -> None:
        pass

    def signed(self, seconds: float) -> None:
        pass

    def upstream(self, chain_id: int, method: str, seconds: float, ok: bool) -> None:
        pass

    def session_used(self, session_id: str, now_ms: int) -> None:
        pass
