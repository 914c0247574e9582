"""Property: two replicas (two stores, two pools) reserving on one PostgreSQL database at once
never overshoot the daily cap, refuse only what no longer fit, and hand out each nonce once.

Hypothesis draws the amounts; every request is started at the same moment, alternately on
either replica, so each program is one burst of truly concurrent transactions on the server.
"""

from __future__ import annotations

import asyncio

import pg_cluster as cluster_module
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from session_studio.policy import ReasonCode
from session_studio.store import PostgresStore

from ..conftest import ETHER, T0, insert_session, reserve

pytestmark = pytest.mark.e2e
DAILY = 10 * ETHER
_amounts = st.lists(st.integers(1, 4 * ETHER), min_size=1, max_size=24)


async def _burst(url: str, amounts: list[int]) -> tuple[list[tuple], int]:
    replicas = [PostgresStore(url, max_size=6), PostgresStore(url, max_size=6)]
    for replica in replicas:
        await replica.open()
    try:
        workspace = await replicas[0].create_workspace("burst", now_ms=T0)
        session = await insert_session(replicas[0], workspace, per_tx=4 * ETHER, daily=DAILY)
        start = asyncio.Event()

        async def one(i: int, amount: int) -> tuple:
            await start.wait()
            return await reserve(replicas[i % 2], session, amount)

        tasks = [asyncio.create_task(one(i, a)) for i, a in enumerate(amounts)]
        await asyncio.sleep(0)
        start.set()
        outcomes = list(await asyncio.gather(*tasks))
        held = sum(amount for status, amount, _ in await replicas[1].reservations(session.id)
                   if status != "released")
        return outcomes, held
    finally:
        for replica in replicas:
            await replica.close()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(amounts=_amounts)
def test_concurrent_replicas_never_overshoot_and_refuse_only_what_did_not_fit(
        pg_cluster: cluster_module.PgCluster, amounts: list[int]) -> None:
    name, url = pg_cluster.new_database()
    try:
        outcomes, held = asyncio.run(_burst(url, amounts))
    finally:
        pg_cluster.recycle_database(name)
    admitted = [a for a, (decision, _) in zip(amounts, outcomes, strict=True)
                if decision.allowed]
    refused = [(a, decision.reason) for a, (decision, _) in zip(amounts, outcomes, strict=True)
               if not decision.allowed]
    assert held == sum(admitted) <= DAILY
    # Spend only grows during a burst: what was refused did not fit even the final total.
    assert all(reason is ReasonCode.DAILY_LIMIT_EXCEEDED and a > DAILY - held
               for a, reason in refused)
    nonces = sorted(r.nonce for _, r in outcomes if r is not None)
    assert nonces == list(range(len(admitted)))
