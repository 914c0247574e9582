"""Many concurrent requests on one store: the cap is exact and nonces are handed out once.

200 asyncio tasks race `reserve_and_sign` on one session; each fits the per-tx limit, together
they are far over the daily cap (POLICY.md attack catalogue 6).
"""

from __future__ import annotations

import asyncio

from session_studio.policy import ReasonCode
from session_studio.store import Store, Workspace

from ..conftest import ETHER, insert_session, reserve

TASKS = 200
COST = 3 * ETHER
DAILY = 100 * ETHER
FITTING = DAILY // COST  # 33: the 34th would make 102 > 100


async def _race(store: Store, workspace: Workspace) -> tuple[list, str]:
    session = await insert_session(store, workspace, per_tx=10 * ETHER, daily=DAILY)
    start = asyncio.Event()

    async def one() -> tuple:
        await start.wait()
        return await reserve(store, session, COST)

    tasks = [asyncio.create_task(one()) for _ in range(TASKS)]
    await asyncio.sleep(0)
    start.set()
    return list(await asyncio.gather(*tasks)), session.id


async def test_concurrent_reservations_admit_exactly_what_fits_the_daily_cap(
        store: Store, workspace: Workspace) -> None:
    outcomes, _ = await _race(store, workspace)
    assert sum(1 for decision, _ in outcomes if decision.allowed) == min(FITTING, TASKS)


async def test_concurrent_reservations_never_hold_more_than_the_daily_cap(
        store: Store, workspace: Workspace) -> None:
    _, session_id = await _race(store, workspace)
    held = [amount for status, amount, _ in await store.reservations(session_id)
            if status != "released"]
    assert sum(held) == min(FITTING, TASKS) * COST <= DAILY


async def test_concurrent_reservations_refuse_the_rest_as_daily_limit_exceeded(
        store: Store, workspace: Workspace) -> None:
    outcomes, _ = await _race(store, workspace)
    refusals = [decision.reason for decision, _ in outcomes if not decision.allowed]
    assert refusals == [ReasonCode.DAILY_LIMIT_EXCEEDED] * (TASKS - FITTING)


async def test_concurrent_reservations_get_consecutive_distinct_nonces(
        store: Store, workspace: Workspace) -> None:
    outcomes, _ = await _race(store, workspace)
    nonces = sorted(r.nonce for _, r in outcomes if r is not None)
    assert nonces == list(range(FITTING))
