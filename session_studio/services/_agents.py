"""Agent self-service (`studio_*` over JSON-RPC): the rules behind `proxy.AgentSelfService`.

An agent acts only on its own sessions, and creates sessions only within the ceiling its
operator set (`_ceiling.beyond_ceiling`), with the number of live sessions checked in the
inserting transaction. Everything the sessions it created spend shares one agent-wide window,
bounded by the ceiling's daily limit in the reserving transaction, so revoking and recreating
buys nothing. Rotation keeps the predecessor's terms, expiry and lineage (SessionService), so it
can never give an agent more than it had. Every action is audited as `agent:<name>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from session_studio.policy import USD, AmountError, Permission, parse_amount
from session_studio.proxy import SelfServiceInvalid, SelfServiceRefused
from session_studio.store import (
    Agent,
    AgentDisabled,
    Conflict,
    CredentialOwner,
    NotFound,
    Session,
    SessionType,
    Workspace,
)

from ._ceiling import Requested, approve_above_within, beyond_ceiling
from ._durations import parse_duration
from ._session_views import SessionArtifact, SessionView
from ._sessions import InvalidSpec, SessionService, SessionSpec

CEILING_EXCEEDED = "ceiling_exceeded"


class SelfServiceConfig(BaseModel):
    """What `studio_createSession` accepts; anything else (allowlists, fee caps) is the
    operator's to set, so unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")
    label: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    chain_ids: list[int] = Field(min_length=1, max_length=50)
    permissions: list[Permission] = Field(min_length=1)
    tokens: list[Annotated[str, StringConstraints(min_length=1, max_length=20)]] = Field(
        min_length=1, max_length=100)
    limit_unit: str = USD
    per_tx_limit: str
    daily_limit: str
    expires_in: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,9}[smhd]?$")]
    # Lower than the ceiling's, never higher; left out, the ceiling's applies.
    approve_above: str | None = None


class AgentDesk:
    """The agent-facing side of `SessionService`."""

    def __init__(self, *, service: SessionService) -> None:
        self._service = service

    async def _agent(self, owner: CredentialOwner) -> tuple[Workspace, Agent]:
        ws = await self._service.workspace_by_id(owner.workspace_id)
        for agent in await self._service.list_agents(ws):
            if agent.id == owner.owner_id:
                return ws, agent
        raise SelfServiceInvalid("this credential's agent no longer exists")

    async def _own(self, owner: CredentialOwner, key_hash: str) -> Session:
        for session in await self._service.sessions_of(owner):
            if session.key_hash == key_hash.lower():
                return session
        raise SelfServiceInvalid(f"no session {key_hash} of this agent")

    async def list_sessions(self, owner: CredentialOwner) -> list[SessionView]:
        return [await self._service.describe(s) for s in await self._service.sessions_of(owner)]

    async def create_session(self, owner: CredentialOwner,
                             config: Mapping[str, Any]) -> SessionArtifact:
        ws, agent = await self._agent(owner)
        if agent.disabled_at_ms is not None:
            # Its credential died with the disable; this answers a request that was already
            # past the credential check when the operator pulled the plug.
            raise SelfServiceRefused(CEILING_EXCEEDED, "the operator disabled this agent",
                                     field="agent")
        try:
            parsed = SelfServiceConfig.model_validate(dict(config))
            per_tx, daily = parse_amount(parsed.per_tx_limit), parse_amount(parsed.daily_limit)
            approve_above = (None if parsed.approve_above is None
                             else parse_amount(parsed.approve_above))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise SelfServiceInvalid(f"{where}: {first['msg']}") from exc
        except AmountError as exc:
            raise SelfServiceInvalid(f"limits: {exc}") from exc
        lifetime = parse_duration(parsed.expires_in)  # the model's pattern checked it
        requested = Requested(
            permissions=frozenset(p.value for p in parsed.permissions),
            chain_ids=frozenset(parsed.chain_ids), tokens=frozenset(parsed.tokens),
            limit_unit=parsed.limit_unit, per_tx=per_tx, daily=daily, lifetime_s=lifetime,
            approve_above=approve_above)
        exceeded = beyond_ceiling(agent.ceiling, requested)
        if exceeded is not None:
            raise SelfServiceRefused(CEILING_EXCEEDED, f"{exceeded.field}: {exceeded.detail}",
                                     field=exceeded.field)
        assert agent.ceiling is not None
        spec = SessionSpec(
            type=SessionType.AGENT, label=parsed.label, agent=agent.name,
            chain_ids=tuple(dict.fromkeys(parsed.chain_ids)),
            permissions=tuple(dict.fromkeys(parsed.permissions)),
            tokens=tuple(dict.fromkeys(parsed.tokens)), limit_unit=parsed.limit_unit,
            per_tx=per_tx, daily=daily, lifetime_s=lifetime,
            approve_above=approve_above_within(agent.ceiling, requested))
        try:
            created = await self._service.create_session(
                ws, spec, actor=f"agent:{agent.name}",
                max_live_for_agent=agent.ceiling.max_live_sessions, self_service=True)
        except InvalidSpec as exc:
            raise SelfServiceInvalid(str(exc)) from exc
        except AgentDisabled as exc:
            raise SelfServiceRefused(CEILING_EXCEEDED, "the operator disabled this agent",
                                     field="agent") from exc
        except Conflict as exc:
            raise SelfServiceRefused(CEILING_EXCEEDED, str(exc),
                                     field="max_live_sessions") from exc
        return created

    async def revoke(self, owner: CredentialOwner, key_hash: str) -> SessionView:
        ws, agent = await self._agent(owner)
        session = await self._own(owner, key_hash)
        try:
            revoked = await self._service.revoke(ws, session.key_hash,
                                                 actor=f"agent:{agent.name}")
        except (Conflict, NotFound) as exc:
            raise SelfServiceInvalid(str(exc)) from exc
        return await self._service.describe(revoked)

    async def rotate(self, owner: CredentialOwner, key_hash: str) -> SessionArtifact:
        ws, agent = await self._agent(owner)
        session = await self._own(owner, key_hash)
        try:
            successor = await self._service.rotate(ws, session.key_hash,
                                                   actor=f"agent:{agent.name}")
        except (Conflict, NotFound) as exc:
            raise SelfServiceInvalid(str(exc)) from exc
        return successor
