"""`rotate_every`: the server rotates an agent's sessions by itself once they are that old, once
each, and every rotation is in the audit trail."""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from admin_api.conftest import write_config
from session_studio.policy import Permission, parse_amount
from session_studio.store import SessionFilter, SessionStatus, SessionType, Workspace

from session_studio._app import Studio
from session_studio.services import ACTOR, RotationSchedule, SessionSpec
from session_studio.settings import load_settings

MINUTE_MS = 60_000


@pytest.fixture
async def studio(tmp_path: Path) -> AsyncIterator[tuple[Studio, Workspace]]:
    env = {"SESSION_STUDIO_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode()}
    opened = await Studio.open(load_settings(write_config(tmp_path)), env=env)
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
        per_tx=parse_amount("1"), daily=parse_amount("10"), lifetime_s=86400), actor="cli:test")
    return artifact.key_hash


def _schedule(studio: Studio, *, at_ms: int) -> RotationSchedule:
    return RotationSchedule(service=studio.service, clock=lambda: at_ms)


async def _active(studio: Studio, ws: Workspace, agent: str) -> list[str]:
    return [s.key_hash for s in await studio.service.list_sessions(
        ws, SessionFilter(agent_name=agent, status=SessionStatus.ACTIVE))]


async def test_a_session_older_than_rotate_every_is_rotated(
        studio: tuple[Studio, Workspace]) -> None:
    opened, ws = studio
    old = await _session(opened, ws, "weekly")
    rotated = await _schedule(opened, at_ms=int(time.time() * 1000) + 2 * MINUTE_MS).run_once()
    assert rotated == 1
    active = await _active(opened, ws, "weekly")
    assert len(active) == 1 and active != [old]


async def test_a_session_younger_than_rotate_every_is_left_alone(
        studio: tuple[Studio, Workspace]) -> None:
    opened, ws = studio
    old = await _session(opened, ws, "weekly")
    assert await _schedule(opened, at_ms=int(time.time() * 1000) + 30_000).run_once() == 0
    assert await _active(opened, ws, "weekly") == [old]


async def test_an_agent_without_a_schedule_is_never_rotated(
        studio: tuple[Studio, Workspace]) -> None:
    opened, ws = studio
    old = await _session(opened, ws, "steady")
    assert await _schedule(opened, at_ms=int(time.time() * 1000) + 10**9).run_once() == 0
    assert await _active(opened, ws, "steady") == [old]


async def test_two_schedulers_racing_rotate_each_session_once(
        studio: tuple[Studio, Workspace]) -> None:
    opened, ws = studio
    await _session(opened, ws, "weekly")
    later = int(time.time() * 1000) + 2 * MINUTE_MS
    counts = await asyncio.gather(_schedule(opened, at_ms=later).run_once(),
                                  _schedule(opened, at_ms=later).run_once())
    assert sum(counts) == 1
    assert len(await _active(opened, ws, "weekly")) == 1


async def test_scheduled_rotation_is_audited_as_the_scheduler(
        studio: tuple[Studio, Workspace]) -> None:
    opened, ws = studio
    old = await _session(opened, ws, "weekly")
    await _schedule(opened, at_ms=int(time.time() * 1000) + 2 * MINUTE_MS).run_once()
    entries = await opened.store.audit_entries(workspace_id=ws.id, subject=old)
    assert [(e.action, e.actor) for e in entries][-1] == ("session.rotate", ACTOR)
