"""Whether a session an agent asks for stays within the ceiling its operator set.

Pure and total: every field of the request is compared against its bound, and the first one
that exceeds it is named. `approve_above` is a bound the other way round from the caps: a
lower threshold holds more, so asking for a higher one (or for none, which is infinitely high)
is asking for more autonomy; `approve_above_within` fills in the ceiling's when the agent gives
none. Creating, rotating or revoking-and-recreating all pass through here, so an agent can never
give itself more than the operator allowed.
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
    approve_above: int | None = None  # None: the agent did not ask for one


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
    if (ceiling.approve_above is not None and req.approve_above is not None
            and req.approve_above > ceiling.approve_above):
        return CeilingExceeded("approve_above", f"over the ceiling of "
                                                f"{format_amount(ceiling.approve_above)} "
                                                f"{ceiling.limit_unit}: payments above it wait "
                                                "for a person")
    return None


def approve_above_within(ceiling: AgentCeiling, req: Requested) -> int | None:
    """The threshold a self-created session gets: the agent's own when it gave one (already
    checked to be within the ceiling), else the ceiling's; an agent cannot opt out of holds
    its operator asked for by leaving the field out. A ceiling threshold at or above the
    session's own per-tx limit would hold nothing there (per_tx refuses first), so the session
    gets none rather than a threshold its own validation refuses as meaningless."""
    if req.approve_above is not None:
        return req.approve_above
    if ceiling.approve_above is None or ceiling.approve_above >= req.per_tx:
        return None
    return ceiling.approve_above
