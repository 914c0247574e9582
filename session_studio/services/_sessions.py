"""Session management: the one service behind the CLI, the admin API and agent self-service.

Create, list, show, revoke, rotate, export and agent registration live here and nowhere else, so
every entry point applies the same validation and the same crypto-shredding.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from session_studio.basics import CredentialIssuer, credential_hash, iso
from session_studio.keystore import KeyContext, LocalKeystore
from session_studio.policy import (
    USD,
    Permission,
    format_amount,
    health_badges,
    window_start_ms,
)
from session_studio.settings import Settings
from session_studio.store import (
    Agent,
    AgentCeiling,
    AgentDisabled,
    AuditEvent,
    Conflict,
    CredentialOwner,
    DecisionRecord,
    NotFound,
    Session,
    SessionFilter,
    SessionStatus,
    SessionType,
    Store,
    Workspace,
    new_id,
)

from ._session_views import Limits, SessionArtifact, SessionTerms, SessionView

MAX_LIFETIME_S = 366 * 24 * 3600
_ADDRESS = re.compile(r"0x[0-9a-f]{40}")
_SELECTOR = re.compile(r"0x[0-9a-f]{8}")


class InvalidSpec(ValueError):
    """A session or agent specification the operator must correct; names the field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionSpec:
    """What an operator (or an agent, within its ceiling) asks for."""

    type: SessionType
    label: str
    agent: str | None
    chain_ids: tuple[int, ...]
    permissions: tuple[Permission, ...]
    tokens: tuple[str, ...]
    limit_unit: str
    per_tx: int  # unit atoms
    daily: int  # unit atoms
    lifetime_s: int
    recipients: tuple[str, ...] | None = None  # None = any address
    contracts: Mapping[str, tuple[str, ...] | None] = field(default_factory=dict)
    rate_limit_per_minute: int | None = None
    max_fee_per_gas: int | None = None  # wei
    # Unit atoms: a request costing more is held for a person's approval (None: never held).
    approve_above: int | None = None


class SessionService:
    """Everything an operator can do to sessions and agents, workspace by workspace."""

    def __init__(self, *, store: Store, keystore: LocalKeystore, issuer: CredentialIssuer,
                 settings: Settings, clock: Callable[[], int]) -> None:
        self._store = store
        self._keystore = keystore
        self._issuer = issuer
        self._settings = settings
        self._clock = clock

    # -- workspaces ------------------------------------------------------------------------
    async def workspace(self, name: str | None) -> Workspace:
        """The named workspace, or the first one when no name is given."""
        if name is not None:
            return await self._store.get_workspace(name)
        workspaces = await self._store.list_workspaces()
        if not workspaces:
            raise NotFound("no workspace yet: run `session-studio init`")
        return workspaces[0]

    async def workspace_by_id(self, workspace_id: str) -> Workspace:
        for ws in await self._store.list_workspaces():
            if ws.id == workspace_id:
                return ws
        raise NotFound(f"no workspace {workspace_id}")

    async def create_workspace(self, name: str, *, actor: str) -> Workspace:
        if not name.strip() or len(name) > 100:
            raise InvalidSpec("name", "must be 1 to 100 characters")
        workspace_id = new_id()
        # The audit row is written in the workspace's own transaction (docs/design.md).
        return await self._store.create_workspace(
            name.strip(), now_ms=self._clock(), workspace_id=workspace_id,
            audit=AuditEvent(workspace_id=workspace_id, actor=actor, action="workspace.create",
                             subject=name.strip()))

    async def list_workspaces(self) -> list[Workspace]:
        return await self._store.list_workspaces()

    # -- agents ----------------------------------------------------------------------------
    async def register_agent(self, ws: Workspace, name: str, daily_budget: int | None, *,
                             actor: str, ceiling: AgentCeiling | None = None,
                             rotate_every_s: int | None = None) -> tuple[Agent, str]:
        if not name or len(name) > 100 or not all(c.isalnum() or c in "-_." for c in name):
            raise InvalidSpec("name", "use 1 to 100 letters, digits, '-', '_' or '.'")
        if ceiling is not None:
            self._validate_ceiling(ceiling, daily_budget)
        if rotate_every_s is not None and not 60 <= rotate_every_s <= MAX_LIFETIME_S:
            raise InvalidSpec("rotate_every", "must be between 1 minute and 366 days")
        agent_id = new_id()
        token = self._issuer.token_for("agent", agent_id, 1)
        agent = await self._store.create_agent(
            ws.id, name, daily_budget=daily_budget, now_ms=self._clock(),
            credential_hash=credential_hash(token), agent_id=agent_id, ceiling=ceiling,
            rotate_every_s=rotate_every_s,
            audit=AuditEvent(workspace_id=ws.id, actor=actor, action="agent.register",
                             subject=name,
                             detail={"daily_budget": daily_budget, "rotate_every_s":
                                     rotate_every_s, "ceiling": None if ceiling is None
                                     else ceiling.to_json()}))
        return agent, token

    def _validate_ceiling(self, ceiling: AgentCeiling, daily_budget: int | None) -> None:
        """A ceiling must itself describe a session this sidecar could create."""
        probe = SessionSpec(
            type=SessionType.AGENT, label="ceiling", agent=None, chain_ids=ceiling.chain_ids,
            permissions=ceiling.permissions, tokens=ceiling.tokens,
            limit_unit=ceiling.limit_unit, per_tx=ceiling.per_tx, daily=ceiling.daily,
            lifetime_s=ceiling.max_lifetime_s, approve_above=ceiling.approve_above)
        self._validate_terms(probe)
        if not 1 <= ceiling.max_live_sessions <= 1000:
            raise InvalidSpec("max_sessions", "must be between 1 and 1000")
        if daily_budget is not None and ceiling.limit_unit != USD:
            raise InvalidSpec("limit_unit", "an agent with a USD daily budget needs a USD "
                                            "ceiling")

    async def list_agents(self, ws: Workspace) -> list[Agent]:
        return await self._store.list_agents(ws.id)

    async def sessions_of(self, owner: CredentialOwner) -> list[Session]:
        """The sessions a credential reaches: an agent's own, or an app session itself."""
        return await self._store.sessions_of(owner)

    def agent_token(self, agent: Agent) -> str:
        """The agent's current credential: what exports carry (a reissue moves the version)."""
        return self._issuer.token_for("agent", agent.id, agent.credential_version)

    async def reissue_agent(self, ws: Workspace, name: str, *,
                            actor: str) -> tuple[Agent, str]:
        """A new credential for the agent; the old one is refused from the moment this returns,
        by every process, since each RPC request looks its credential up in the database."""
        agent = await self._store.get_agent(ws.id, name)
        if agent.disabled_at_ms is not None:
            raise AgentDisabled(f"agent {name!r} is disabled: it gets no new credential; "
                                "register a new agent instead")
        token = self._issuer.token_for("agent", agent.id, agent.credential_version + 1)
        reissued = await self._store.reissue_agent_credential(
            agent, credential_hash=credential_hash(token), now_ms=self._clock(),
            audit=AuditEvent(workspace_id=ws.id, actor=actor, action="agent.reissue",
                             subject=name,
                             detail={"credential_version": agent.credential_version + 1}))
        return reissued, token

    async def disable_agent(self, ws: Workspace, name: str, *,
                            actor: str) -> tuple[Agent, list[Session]]:
        """Cut the agent off for good: credential dead, every session revoked (keys destroyed),
        no self-service, no new session or credential; audited in the same transaction."""
        agent = await self._store.get_agent(ws.id, name)
        revoked = await self._store.disable_agent(
            agent, now_ms=self._clock(),
            audit=AuditEvent(workspace_id=ws.id, actor=actor, action="agent.disable",
                             subject=name))
        for session in revoked:
            self._keystore.forget(KeyContext(workspace_id=ws.id, session_id=session.id))
        return await self._store.get_agent(ws.id, name), revoked

    # -- sessions --------------------------------------------------------------------------
    async def create_session(self, ws: Workspace, spec: SessionSpec, *, actor: str,
                             max_live_for_agent: int | None = None,
                             self_service: bool = False) -> SessionArtifact:
        """Create a session and return its provisioning artifact (credential included).

        `self_service`: the agent asked for it itself, so it spends from the agent's one
        self-service window (POLICY.md, "Limits")."""
        agent = await self._validate(ws, spec)
        session, sealed = self._new_session(ws, spec, agent=agent, lineage_id=None,
                                            predecessor_id=None)
        cred = self._session_credential(session)
        await self._store.insert_session(
            session, sealed_key=sealed,
            credential_hash=None if cred is None else credential_hash(cred),
            audit=AuditEvent(workspace_id=ws.id, actor=actor, action="session.create",
                             subject=session.key_hash,
                             detail=_terms(session).as_json()),
            max_live_for_agent=max_live_for_agent, self_service=self_service)
        return await self._artifact(ws, session.key_hash)

    async def _validate(self, ws: Workspace, spec: SessionSpec) -> Agent | None:
        if not spec.label.strip() or len(spec.label) > 200:
            raise InvalidSpec("label", "must be 1 to 200 characters")
        self._validate_terms(spec)
        return await self._validate_owner(ws, spec)

    def _validate_terms(self, spec: SessionSpec) -> None:
        chains = self._settings.chains
        if not spec.chain_ids:
            raise InvalidSpec("chains", "at least one chain id is required")
        for chain_id in spec.chain_ids:
            if chain_id not in chains:
                raise InvalidSpec("chains", f"chain {chain_id} is not configured")
        if not spec.permissions:
            raise InvalidSpec("permissions", "at least one permission is required")
        if not spec.tokens:
            raise InvalidSpec("tokens", "at least one token (or the native coin) is required")
        for symbol in spec.tokens:
            if not any(self._known_symbol(c, symbol) for c in spec.chain_ids):
                raise InvalidSpec("tokens", f"{symbol} is not configured on the session's chains")
        if spec.limit_unit != USD and not any(
            self._known_symbol(c, spec.limit_unit) for c in chains
        ):
            raise InvalidSpec("limit_unit", f"{spec.limit_unit} is neither USD nor a configured "
                                            "token")
        if spec.per_tx <= 0:
            raise InvalidSpec("per_tx_limit", "must be positive")
        if spec.daily <= 0:
            raise InvalidSpec("daily_limit", "must be positive")
        if spec.per_tx > spec.daily:
            raise InvalidSpec("per_tx_limit", "must not exceed the daily limit")
        if not 0 < spec.lifetime_s <= MAX_LIFETIME_S:
            raise InvalidSpec("expires_in", "must be between 1 second and 366 days")
        if spec.recipients is not None:
            if not spec.recipients:
                raise InvalidSpec("recipients", "an empty allowlist would refuse every transfer; "
                                                "leave it out to allow any recipient")
            _check_addresses("recipients", spec.recipients)
        _check_addresses("contracts", tuple(spec.contracts))
        for selectors in spec.contracts.values():
            for selector in selectors or ():
                if not _SELECTOR.fullmatch(selector):
                    raise InvalidSpec("contracts", f"selector {selector!r} is not 0x + 8 hex "
                                                   "digits")
        if spec.rate_limit_per_minute is not None and not 0 < spec.rate_limit_per_minute <= 10**6:
            raise InvalidSpec("rate_limit", "must be between 1 and 1000000 per minute")
        if spec.max_fee_per_gas is not None and spec.max_fee_per_gas <= 0:
            raise InvalidSpec("max_fee_per_gas", "must be positive")
        if spec.approve_above is not None:
            if spec.approve_above < 0:
                raise InvalidSpec("approve_above", "must not be negative")
            # per_tx refuses anything costlier outright, so a higher threshold would never
            # hold a request: an operator who typed it believes in a safeguard that is not there.
            if spec.approve_above > spec.per_tx:
                raise InvalidSpec("approve_above", "must not exceed the per-transaction limit: "
                                                   "a request costing more is refused, never "
                                                   "held, so the threshold would hold nothing")

    async def _validate_owner(self, ws: Workspace, spec: SessionSpec) -> Agent | None:
        if spec.type is SessionType.AGENT:
            if spec.agent is None:
                raise InvalidSpec("agent", "agent sessions need --agent NAME "
                                           "(register it with `agents register NAME`)")
            agent = await self._store.get_agent(ws.id, spec.agent)
            if agent.disabled_at_ms is not None:
                raise AgentDisabled(f"agent {agent.name!r} is disabled: it gets no new "
                                    "session; register a new agent instead")
            if agent.daily_budget is not None and spec.limit_unit != USD:
                raise InvalidSpec("limit_unit", f"agent {agent.name} has a daily budget in USD, "
                                                "so its sessions must be limited in USD too")
            return agent
        if spec.agent is not None:
            raise InvalidSpec("agent", "only agent sessions belong to an agent")
        return None

    def _known_symbol(self, chain_id: int, symbol: str) -> bool:
        chain = self._settings.chains.get(chain_id)
        if chain is None:
            return False
        return chain.native_symbol == symbol or self._settings.token(chain_id, symbol) is not None

    def _new_session(self, ws: Workspace, spec: SessionSpec, *, agent: Agent | None,
                     lineage_id: str | None, predecessor_id: str | None,
                     expires_at_ms: int | None = None) -> tuple[Session, bytes]:
        session_id = new_id()
        key = self._keystore.generate(KeyContext(workspace_id=ws.id, session_id=session_id))
        now = self._clock()
        session = Session(
            id=session_id, workspace_id=ws.id, type=spec.type, label=spec.label.strip(),
            agent_id=agent.id if agent else None, agent_name=agent.name if agent else None,
            key_hash=key.key_hash, address=key.address, permissions=spec.permissions,
            chain_ids=spec.chain_ids, tokens=spec.tokens, limit_unit=spec.limit_unit,
            per_tx_limit=spec.per_tx, daily_limit=spec.daily, created_at_ms=now,
            expires_at_ms=expires_at_ms or now + spec.lifetime_s * 1000, revoked_at_ms=None,
            lineage_id=lineage_id or session_id, predecessor_id=predecessor_id,
            credential_version=1, recipients=spec.recipients, contracts=spec.contracts,
            rate_limit_per_minute=spec.rate_limit_per_minute,
            max_fee_per_gas=spec.max_fee_per_gas, approve_above=spec.approve_above)
        return session, key.sealed

    def _session_credential(self, session: Session) -> str | None:
        """App sessions carry their own token; agent sessions are reached by the agent's."""
        if session.type is SessionType.APP:
            return self._issuer.token_for("session", session.id, session.credential_version)
        return None

    async def list_sessions(self, ws: Workspace, query: SessionFilter) -> list[Session]:
        return await self._store.list_sessions(ws.id, query, now_ms=self._clock())

    async def get_session(self, ws: Workspace, key_hash: str) -> Session:
        return await self._store.get_session(ws.id, key_hash)

    async def revoke(self, ws: Workspace, key_hash: str, *, actor: str) -> Session:
        session = await self._store.get_session(ws.id, key_hash)
        await self._store.revoke_session(
            session.id, now_ms=self._clock(),
            audit=AuditEvent(workspace_id=ws.id, actor=actor, action="session.revoke",
                             subject=session.key_hash))
        self._keystore.forget(KeyContext(workspace_id=ws.id, session_id=session.id))
        return await self._store.get_session(ws.id, key_hash)

    async def revoke_matching(self, ws: Workspace, match: SessionFilter, *, actor: str,
                              dry_run: bool = False) -> list[Session]:
        """Revoke every active session matching `match`'s criteria (its status, sort and
        paging are ignored); returns the sessions revoked, or with `dry_run` those that would
        be. A session revoked by someone else meanwhile is already where we want it: skipped."""
        matching = await self.list_sessions(ws, SessionFilter(
            type=match.type, status=SessionStatus.ACTIVE, chain_id=match.chain_id,
            agent_name=match.agent_name, label_contains=match.label_contains, limit=100_000))
        if dry_run:
            return matching
        revoked: list[Session] = []
        for session in matching:
            with contextlib.suppress(Conflict):
                revoked.append(await self.revoke(ws, session.key_hash, actor=actor))
        return revoked

    async def recent_decisions(self, session: Session, *, limit: int) -> list[DecisionRecord]:
        """The session's latest signing decisions, newest first."""
        return await self._store.recent_decisions(session.id, limit=limit)

    async def rotate(self, ws: Workspace, key_hash: str, *, actor: str) -> SessionArtifact:
        """Replace a session's key: same policy, same expiry, same spend window (lineage).

        Rotation changes the key, never the terms: the successor expires when the predecessor
        would have, so rotating cannot extend a lifetime the operator set, and only an active
        session can be rotated (an expired one stays expired).
        """
        old = await self._store.get_session(ws.id, key_hash)
        if old.status(self._clock()) is not SessionStatus.ACTIVE:
            raise Conflict(f"session {key_hash} is {old.status(self._clock()).value}: "
                           "only an active session can be rotated")
        agent = await self._store.get_agent(ws.id, old.agent_name) if old.agent_name else None
        spec = SessionSpec(
            type=old.type, label=old.label, agent=old.agent_name, chain_ids=old.chain_ids,
            permissions=old.permissions, tokens=old.tokens, limit_unit=old.limit_unit,
            per_tx=old.per_tx_limit, daily=old.daily_limit,
            lifetime_s=max((old.expires_at_ms - old.created_at_ms) // 1000, 1),
            recipients=old.recipients, contracts=old.contracts,
            rate_limit_per_minute=old.rate_limit_per_minute,
            max_fee_per_gas=old.max_fee_per_gas, approve_above=old.approve_above)
        successor, sealed = self._new_session(ws, spec, agent=agent, lineage_id=old.lineage_id,
                                              predecessor_id=old.id,
                                              expires_at_ms=old.expires_at_ms)
        cred = self._session_credential(successor)
        await self._store.rotate_session(
            old, successor, sealed_key=sealed,
            credential_hash=None if cred is None else credential_hash(cred),
            now_ms=self._clock(),
            audit=AuditEvent(workspace_id=ws.id, actor=actor, action="session.rotate",
                             subject=old.key_hash, detail={"successor": successor.key_hash}))
        self._keystore.forget(KeyContext(workspace_id=ws.id, session_id=old.id))
        return await self._artifact(ws, successor.key_hash)

    async def export(self, ws: Workspace, key_hash: str, *, actor: str) -> SessionArtifact:
        """Everything a client needs to use the session, credential included, never key bytes.

        Showing a credential again is itself audited: who saw it, and when."""
        artifact = await self._artifact(ws, key_hash)
        await self._store.append_audit(
            AuditEvent(workspace_id=ws.id, actor=actor, action="session.export",
                       subject=artifact.key_hash), now_ms=self._clock())
        return artifact

    async def _artifact(self, ws: Workspace, key_hash: str) -> SessionArtifact:
        session = await self._store.get_session(ws.id, key_hash)
        if session.type is SessionType.AGENT:
            assert session.agent_name is not None
            credential = self.agent_token(await self._store.get_agent(ws.id, session.agent_name))
        else:
            credential = self._session_credential(session) or ""
        urls = {str(c): self.rpc_url(c) for c in session.chain_ids}
        return SessionArtifact(
            **_terms_fields(session),
            credential=credential,
            rpc_url=urls[str(session.chain_ids[0])],
            rpc_urls=urls,
            token_addresses=self._token_addresses(session),
            native_symbols={str(c): self._settings.chains[c].native_symbol
                            for c in session.chain_ids if c in self._settings.chains})

    def _token_addresses(self, session: Session) -> dict[str, dict[str, str]]:
        """ERC-20 contracts of the session's tokens, per chain: what a client needs to build a
        token transfer (native coins have no address and are left out)."""
        out: dict[str, dict[str, str]] = {}
        for chain_id in session.chain_ids:
            for symbol in session.tokens:
                token = self._settings.token(chain_id, symbol)
                if token is not None:
                    out.setdefault(str(chain_id), {})[symbol] = token.address
        return out

    def configured_chains(self) -> list[tuple[int, str, tuple[str, ...]]]:
        """(chain id, name, asset symbols: native first) of every configured chain: what a
        session may be scoped to, shown to operators next to the form fields."""
        return [(chain_id, chain.name,
                 (chain.native_symbol, *(t.symbol for t in self._settings.tokens
                                         if t.chain_id == chain_id)))
                for chain_id, chain in sorted(self._settings.chains.items())]

    async def spend_per_hour(self, ws: Workspace, key_hash: str, *,
                             hours: int = 24) -> dict[int, int]:
        """The session's lineage spend per hour (hour start ms -> unit atoms), for charts."""
        session = await self._store.get_session(ws.id, key_hash)
        return await self._store.spend_by_hour(
            [session.lineage_id], since_ms=self._clock() - hours * 3_600_000)

    async def agent_spend_per_hour(self, ws: Workspace, agent_name: str, *,
                                   hours: int = 24) -> dict[int, int]:
        """Every lineage the agent ever had, revoked and rotated ones too (as its budget)."""
        sessions = await self._store.list_sessions(
            ws.id, SessionFilter(agent_name=agent_name, limit=100_000), now_ms=self._clock())
        return await self._store.spend_by_hour(
            sorted({s.lineage_id for s in sessions}),
            since_ms=self._clock() - hours * 3_600_000)

    def rpc_url(self, chain_id: int) -> str:
        return f"{self._settings.server.public_rpc_url.rstrip('/')}/rpc/{chain_id}"

    async def describe(self, session: Session) -> SessionView:
        """A session with its state now (CONTRACT.md, "A session as JSON")."""
        now = self._clock()
        spent = await self._store.spent_in_window(
            session.lineage_id,
            window_start_ms=window_start_ms(now, self._settings.policy.window))
        status = session.status(now)
        badges = health_badges(created_at_ms=session.created_at_ms,
                               expires_at_ms=session.expires_at_ms, now_ms=now,
                               spent_in_window=spent, daily_limit=session.daily_limit,
                               active=status is SessionStatus.ACTIVE)
        return SessionView(
            **_terms_fields(session),
            status=status,
            spent_in_window=format_amount(spent),
            created_at=iso(session.created_at_ms),
            last_used_at=iso(session.last_used_at_ms),
            request_count=session.request_count,
            health=tuple(b.value for b in badges))


def _check_addresses(name: str, addresses: tuple[str, ...]) -> None:
    for address in addresses:
        if not _ADDRESS.fullmatch(address):
            raise InvalidSpec(name, f"{address!r} is not a lower-case 0x address of 20 bytes")


def _terms(session: Session) -> SessionTerms:
    """Who the session is and what it may do: the creation audit row's detail, and the part
    the artifact and the view share."""
    return SessionTerms(
        key_hash=session.key_hash, address=session.address, type=session.type,
        label=session.label, agent=session.agent_name, permissions=tuple(session.permissions),
        chain_ids=tuple(session.chain_ids), tokens=tuple(session.tokens),
        limits=Limits(unit=session.limit_unit, per_tx=format_amount(session.per_tx_limit),
                      daily=format_amount(session.daily_limit),
                      approve_above=None if session.approve_above is None
                      else format_amount(session.approve_above)),
        expires_at=iso(session.expires_at_ms), recipients=session.recipients,
        contracts=dict(session.contracts), rate_limit_per_minute=session.rate_limit_per_minute,
        max_fee_per_gas=None if session.max_fee_per_gas is None
        else str(session.max_fee_per_gas))


def _terms_fields(session: Session) -> dict[str, Any]:
    """`_terms` as keyword arguments, to build its subclasses (the artifact, the view)."""
    terms = _terms(session)
    return {f.name: getattr(terms, f.name) for f in fields(terms)}
