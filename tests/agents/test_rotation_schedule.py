"""`rotate_every`: the server rotates an agent's sessions by itself once they are that old, once
each, and every rotation is in the audit trail.

The studio runs on a `ManualClock`: a test lets an agent's sessions age by advancing it.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from admin_api.conftest import write_config
from manual_clock import ManualClock
from session_studio.policy import Permission, parse_amount
from session_studio.store import SessionFilter, SessionStatus, SessionType, Workspace

from session_studio._app import Studio
from session_studio.services import ACTOR, RotationSchedule, SessionSpec
from session_studio.settings import load_settings

MINUTE_MS = 60_000
LIFETIME_S = 86400


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def studio(tmp_path: Path, clock: ManualClock) -> AsyncIterator[tuple[Studio, Workspace]]:
    env = {"SESSION_STUDIO_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode()}
    opened = await Studio.open(load_settings(write_config(tmp_path)), env=env, clock=clock)
    try:
        ws = await opened.service.create_workspace("alpha", actor="cli:test")
        await opened.service.register_agent(ws, "weekly", None, actor="cli:test",
                                            rotate_every_s=60)
        await opened.service.register_agent(ws, "steady", None, actor="cli:test")
        yield opened, ws
    finally:
        await opened.close()


async def _session(studio: Studio, ws: Workspace, agent: str) -> str:
    artifact = await studio.service.create_session(ws, SessionSpec(
        type=SessionType.AGENT, label=agent, agent=agent, chain_ids=(31337,),
        permissions=(Permission.TRANSFER,), tokens=("ETH",), limit_unit="USD",
        per_tx=parse_amount("1"), daily=parse_amount("10"), lifetime_s=LIFETIME_S),
        actor="cli:test")
    return artifact.key_hash


async def _active(studio: Studio, ws: Workspace, agent: str) -> list[str]:
    return [s.key_hash for s in await studio.service.list_sessions(
        ws, SessionFilter(agent_name=agent, status=SessionStatus.ACTIVE))]


async def test_a_session_older_than_rotate_every_is_rotated(
        studio: tuple[Studio, Workspace], clock: ManualClock) -> None:
    opened, ws = studio
    old = await _session(opened, ws, "weekly")
    clock.advance(2 * MINUTE_MS)
    rotated = await opened.rotation.run_once()
    assert rotated == 1
    active = await _active(opened, ws, "weekly")
    assert len(active) == 1 and active != [old]


async def test_a_session_younger_than_rotate_every_is_left_alone(
        studio: tuple[Studio, Workspace], clock: ManualClock) -> None:
    opened, ws = studio
    old = await _session(opened, ws, "weekly")
    clock.advance(30_000)
    assert await opened.rotation.run_once() == 0
    assert await _active(opened, ws, "weekly") == [old]


async def test_an_agent_without_a_schedule_is_never_rotated(
        studio: tuple[Studio, Workspace], clock: ManualClock) -> None:
    opened, ws = studio
    old = await _session(opened, ws, "steady")
    clock.advance(LIFETIME_S * 1000 - MINUTE_MS)  # as old as a session gets while still active
    assert await opened.rotation.run_once() == 0
    assert await _active(opened, ws, "steady") == [old]


async def test_two_schedulers_racing_rotate_each_session_once(
        studio: tuple[Studio, Workspace], clock: ManualClock) -> None:
    opened, ws = studio
    await _session(opened, ws, "weekly")
    clock.advance(2 * MINUTE_MS)
    other_server = RotationSchedule(service=opened.service, clock=clock)  # same database
    counts = await asyncio.gather(opened.rotation.run_once(), other_server.run_once())
    assert sum(counts) == 1
    assert len(await _active(opened, ws, "weekly")) == 1


async def test_scheduled_rotation_is_audited_as_the_scheduler(
        studio: tuple[Studio, Workspace], clock: ManualClock) -> None:
    opened, ws = studio
    old = await _session(opened, ws, "weekly")
    clock.advance(2 * MINUTE_MS)
    await opened.rotation.run_once()
    entries = await opened.store.audit_entries(workspace_id=ws.id, subject=old)
    assert [(e.action, e.actor) for e in entries][-1] == ("session.rotate", ACTOR)
