"""An agent's ceiling may bound `approve_above`: the threshold above which its self-created
sessions hold a payment for a person.

The bound runs the other way round from the caps: a lower threshold holds more, so an agent may
ask for a lower one, never a higher one, and one that asks for none gets the ceiling's (leaving
the field out must not be a way to opt out of the operator's safeguard). A ceiling without a
threshold bounds nothing.
"""

from __future__ import annotations

from dataclasses import replace

from session_studio.policy import Permission, parse_amount
from session_studio.store import AgentCeiling

from session_studio.services import Requested, approve_above_within, beyond_ceiling


def usd(text: str) -> int:
    return parse_amount(text)


CEILING = AgentCeiling(permissions=(Permission.TRANSFER,), chain_ids=(8453,), tokens=("USDC",),
                       limit_unit="USD", per_tx=usd("100"), daily=usd("1000"),
                       max_lifetime_s=3600, max_live_sessions=3, approve_above=usd("20"))


def asking(*, approve_above: int | None, per_tx: int = usd("100")) -> Requested:
    return Requested(permissions=frozenset({"transfer"}), chain_ids=frozenset({8453}),
                     tokens=frozenset({"USDC"}), limit_unit="USD", per_tx=per_tx, daily=usd("1000"),
                     lifetime_s=3600, approve_above=approve_above)


def test_a_threshold_above_the_ceilings_is_beyond_the_ceiling() -> None:
    exceeded = beyond_ceiling(CEILING, asking(approve_above=usd("20.01")))
    assert exceeded is not None
    assert exceeded.field == "approve_above"
    assert "over the ceiling of 20 USD" in exceeded.detail


def test_a_threshold_at_or_below_the_ceilings_is_within_it() -> None:
    assert beyond_ceiling(CEILING, asking(approve_above=usd("20"))) is None
    assert beyond_ceiling(CEILING, asking(approve_above=0)) is None


def test_asking_for_no_threshold_inherits_the_ceilings() -> None:
    request = asking(approve_above=None)
    assert beyond_ceiling(CEILING, request) is None
    assert approve_above_within(CEILING, request) == usd("20")


def test_a_lower_threshold_the_agent_asks_for_is_kept() -> None:
    assert approve_above_within(CEILING, asking(approve_above=usd("5"))) == usd("5")


def test_a_ceiling_without_a_threshold_bounds_nothing() -> None:
    open_ceiling = replace(CEILING, approve_above=None)
    assert beyond_ceiling(open_ceiling, asking(approve_above=usd("100"))) is None
    assert approve_above_within(open_ceiling, asking(approve_above=None)) is None
    assert approve_above_within(open_ceiling, asking(approve_above=usd("7"))) == usd("7")


def test_a_ceiling_threshold_over_the_sessions_per_tx_cap_is_not_inherited() -> None:
    # per_tx already refuses everything above 10, so a threshold of 20 would hold nothing.
    assert approve_above_within(CEILING, asking(approve_above=None, per_tx=usd("10"))) is None


def test_the_ceiling_threshold_survives_its_json_round_trip() -> None:
    assert AgentCeiling.from_json(CEILING.to_json()) == CEILING
    assert CEILING.to_json()["approve_above"] == str(usd("20"))


def test_a_ceiling_stored_before_thresholds_existed_bounds_nothing() -> None:
    stored = {k: v for k, v in CEILING.to_json().items() if k != "approve_above"}
    assert AgentCeiling.from_json(stored).approve_above is None
