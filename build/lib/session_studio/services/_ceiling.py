"""Whether a session an agent asks for stays within the ceiling its operator set.

Pure and total: every field of the request is compared against its bound, and the first one
that exceeds it is named. Creating, rotating or revoking-and-recreating all pass through here,
so an agent can never give itself more than the operator allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

from session_studio.policy import format_amount
from session_studio.store import AgentCeiling


@dataclass(frozen=True, slots=True, kw_only=True)
class Requested:
    """The terms of a self-service session, as the ceiling sees them."""

    permissions: frozenset[str]
    chain_ids: frozenset[int]
    tokens: frozenset[str]
    limit_unit: str
    per_tx: int
    daily: int
    lifetime_s: int


@dataclass(frozen=True, slots=True)
class CeilingExceeded:
    field: str
    detail: str


def beyond_ceiling(ceiling: AgentCeiling | None, req: Requested) -> CeilingExceeded | None:
    if ceiling is None:
        return CeilingExceeded("agent", "the operator gave this agent no self-service ceiling: "
                                        "ask for a session to be created for it")
    extra = req.permissions - {p.value for p in ceiling.permissions}
    if extra:
        return CeilingExceeded("permissions", f"{', '.join(sorted(extra))} beyond the "
                                              "agent's ceiling")
    chains = req.chain_ids - set(ceiling.chain_ids)
    if chains:
        return CeilingExceeded("chain_ids", f"chain(s) {', '.join(map(str, sorted(chains)))} "
                                            "beyond the agent's ceiling")
    tokens = req.tokens - set(ceiling.tokens)
    if tokens:
        return CeilingExceeded("tokens", f"{', '.join(sorted(tokens))} beyond the agent's "
                                         "ceiling")
    if req.limit_unit != ceiling.limit_unit:
        return CeilingExceeded("limit_unit", f"limits must be in {ceiling.limit_unit}, the "
                                             "unit of the agent's ceiling")
    if req.per_tx > ceiling.per_tx:
        return CeilingExceeded("per_tx_limit", f"over the ceiling of "
                                               f"{format_amount(ceiling.per_tx)} "
                                               f"{ceiling.limit_unit}")
    if req.daily > ceiling.daily:
        return CeilingExceeded("daily_limit", f"over the ceiling of "
                                              f"{format_amount(ceiling.daily)} "
                                              f"{ceiling.limit_unit}")
    if req.lifetime_s > ceiling.max_lifetime_s:
        return CeilingExceeded("expires_in", f"longer than the ceiling of "
                                             f"{ceiling.max_lifetime_s} s")
    return None
