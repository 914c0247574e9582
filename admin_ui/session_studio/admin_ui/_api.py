"""The admin API's operations (`/api/v1`): sessions, agents, tokens and passkey auth.

Every operation acts inside the caller's workspace only: a key hash of another workspace is
simply not found (404), never forbidden, so the API does not even confirm it exists.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel
from session_studio.policy import AmountError, format_amount, parse_amount
from session_studio.store import (
    AgentCeiling,
    ApiToken,
    Conflict,
    NotFound,
    Scope,
    Session,
    SessionFilter,
    SessionStatus,
    SessionType,
    Workspace,
)

from session_studio.basics import parse_json
from session_studio.services import (
    AdminService,
    ApprovalService,
    AuditTrail,
    InvalidSpec,
    SessionService,
    SessionSpec,
    TokenService,
    iso,
    parse_duration,
)

from ._accounts import LOGIN_TTL_MS, AdminAccounts
from ._approval_api import ApprovalApi
from ._errors import ApiError, Forbidden, ValidationFailed
from ._operations import COOKIE, Call, Operation
from ._outputs import artifact_out, session_out, usage_out
from ._passkeys import PasskeyCeremonies
from ._principal import STEP_UP_MS, Principal
from ._schemas import (
    MAX_INT,
    AdminInvite,
    AgentCreate,
    AgentCreated,
    AgentDisabledOut,
    AgentList,
    AgentOut,
    AgentReissued,
    Artifact,
    AuditOut,
    AuditPage,
    AuditQuery,
    BulkRevoke,
    BulkRevokeResult,
    Ceiling,
    CeremonyBegun,
    CeremonyFinish,
    Event,
    EventPage,
    EventQuery,
    InviteLink,
    Me,
    Ok,
    RegisterBegin,
    SessionCreate,
    SessionOut,
    SessionPage,
    SessionQuery,
    Snippet,
    SnippetQuery,
    TokenCreate,
    TokenCreated,
    TokenList,
    TokenOut,
    Usage,
)
from ._snippets import snippet

KEY_HASH = r"0x[0-9a-fA-F]{64}"
_APP_CREDENTIAL_RULE = ("For an app session this hands out its credential, so, as for creating "
                        "one, it needs a person logged in with a passkey assertion from the "
                        "last 5 minutes (step-up); an API token gets 403 passkey_required.")
AGENT_NAME = r"[A-Za-z0-9._-]{1,100}"
TOKEN_ID = r"[0-9a-f]{32}"
# SessionService names fields as the CLI does; the API's body names some differently.
_SPEC_FIELDS = {"chains": "chain_ids",
                "rate_limit": "rate_limit_per_minute", "max_fee_per_gas": "max_fee_per_gas_gwei"}


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminDeps:
    """What the admin plane needs, handed over by the composition root."""

    service: SessionService
    admins: AdminService
    tokens: TokenService
    audit: AuditTrail
    accounts: AdminAccounts
    passkeys: PasskeyCeremonies
    clock: Callable[[], int]
    secure_cookies: bool
    approvals: ApprovalService  # the inbox of held requests (issue 14)


def _amount(text: str, name: str) -> int:
    try:
        return parse_amount(text)
    except AmountError as exc:
        raise ValidationFailed(name, f"{name}: {exc}") from exc


# -- cursors ----------------------------------------------------------------------------------
def encode_cursor(sort: str, value: int, session_id: str) -> str:
    raw = json.dumps([sort, value, session_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, sort: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_sort, value, session_id = parse_json(raw, max_depth=1)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ValidationFailed("cursor", "cursor: not a cursor this API returned") from exc
    if cursor_sort != sort or not isinstance(value, int) or not isinstance(session_id, str):
        raise ValidationFailed("cursor", "cursor: belongs to another sort order")
    if not 0 <= value <= MAX_INT or len(session_id) > 64:
        raise ValidationFailed("cursor", "cursor: not a cursor this API returned")
    return value, session_id


class AdminApi:
    """The handlers; `operations()` is the table the routes and OpenAPI are made from."""

    def __init__(self, deps: AdminDeps) -> None:
        self._d = deps
        # The approvals' handlers, for their routes and for the inbox page that runs them.
        self.approvals = ApprovalApi(deps, require_step_up=self._require_step_up)

    async def _ws(self, who: Principal) -> Workspace:
        return await self._d.service.workspace_by_id(who.workspace_id)

    async def _session(self, call: Call) -> tuple[Workspace, Session]:
        ws = await self._ws(call.who)
        return ws, await self._d.service.get_session(ws, call.path["key_hash"].lower())

    # -- sessions --------------------------------------------------------------------------
    async def list_sessions(self, call: Call) -> BaseModel:
        q: SessionQuery = call.query
        after = None if q.cursor is None else decode_cursor(q.cursor, q.sort.value)
        query = SessionFilter(type=q.type, status=q.status, chain_id=q.chain,
                              agent_name=q.agent, label_contains=q.label, sort=q.sort.value,
                              limit=q.limit + 1, after=after)
        ws = await self._ws(call.who)
        sessions = await self._d.service.list_sessions(ws, query)
        page, more = sessions[:q.limit], len(sessions) > q.limit
        next_cursor = (encode_cursor(q.sort.value, query.sort_value(page[-1]), page[-1].id)
                       if more else None)
        items = [session_out(await self._d.service.describe(s)) for s in page]
        return SessionPage(items=items, next_cursor=next_cursor)

    async def create_session(self, call: Call) -> BaseModel:
        body: SessionCreate = call.body
        if body.type is SessionType.APP:
            self._require_step_up(call.who)
        gwei = body.max_fee_per_gas_gwei
        max_fee = None
        if gwei is not None:
            atoms = _amount(gwei, "max_fee_per_gas_gwei")
            if atoms % 10**9:
                raise ValidationFailed("max_fee_per_gas_gwei", "at most 9 decimal places")
            max_fee = atoms // 10**9
        spec = SessionSpec(
            type=body.type, label=body.label, agent=body.agent,
            chain_ids=tuple(dict.fromkeys(body.chain_ids)),
            permissions=tuple(dict.fromkeys(body.permissions)),
            tokens=tuple(dict.fromkeys(body.tokens)), limit_unit=body.limit_unit,
            per_tx=_amount(body.per_tx_limit, "per_tx_limit"),
            daily=_amount(body.daily_limit, "daily_limit"),
            lifetime_s=parse_duration(body.expires_in),
            recipients=None if body.recipients is None
            else tuple(dict.fromkeys(a.lower() for a in body.recipients)),
            contracts={a.lower(): None if sel is None else tuple(s.lower() for s in sel)
                       for a, sel in (body.contracts or {}).items()},
            rate_limit_per_minute=body.rate_limit_per_minute, max_fee_per_gas=max_fee,
            approve_above=None if body.approve_above is None
            else _amount(body.approve_above, "approve_above"))
        ws = await self._ws(call.who)
        try:
            artifact = await self._d.service.create_session(ws, spec, actor=call.who.actor)
        except InvalidSpec as exc:
            field = _SPEC_FIELDS.get(exc.field, exc.field)
            raise ValidationFailed(field, f"{field}: {exc.problem}") from exc
        except NotFound as exc:
            if spec.agent is None:
                raise
            # The one lookup behind a body field: name the field, as for any other bad value.
            raise ValidationFailed("agent", f"agent: {exc}; register it first") from exc
        return artifact_out(artifact)

    def _guard_app_credential(self, who: Principal, session: Session) -> None:
        """Handing out an app session's credential (export, or rotation's successor) is worth
        what creating one is: a token would otherwise sidestep the passkey step-up that
        creation needs. Agent sessions stay in a token's reach (their credential is the
        agent's, which `agents:write` already manages)."""
        if session.type is SessionType.APP:
            self._require_step_up(who)

    def _require_step_up(self, who: Principal) -> None:
        if who.login_hash is None:
            raise Forbidden("passkey_required", "only a person logged in with a passkey may "
                                                "do this; admin API tokens cannot")
        if not who.stepped_up(self._d.clock()):
            raise Forbidden("step_up_required", "confirm with your passkey first "
                                                "(POST /api/v1/auth/step-up/begin)")

    async def get_session(self, call: Call) -> BaseModel:
        _, session = await self._session(call)
        return session_out(await self._d.service.describe(session))

    async def usage(self, call: Call) -> BaseModel:
        _, session = await self._session(call)
        return usage_out(await self._d.service.describe(session))

    async def events(self, call: Call) -> BaseModel:
        _, session = await self._session(call)
        q: EventQuery = call.query
        rows = await self._d.service.recent_decisions(session, limit=q.limit)
        return EventPage(items=[Event(at=iso(r.at_ms) or "", method=r.method,
                                      allowed=r.allowed, reason=r.reason, detail=r.detail,
                                      cost=format_amount(r.cost), tx_hash=r.tx_hash)
                                for r in rows])

    async def revoke(self, call: Call) -> BaseModel:
        ws, session = await self._session(call)
        revoked = await self._d.service.revoke(ws, session.key_hash, actor=call.who.actor)
        return session_out(await self._d.service.describe(revoked))

    async def rotate(self, call: Call) -> BaseModel:
        ws, session = await self._session(call)
        self._guard_app_credential(call.who, session)
        return artifact_out(
            await self._d.service.rotate(ws, session.key_hash, actor=call.who.actor))

    async def export(self, call: Call) -> BaseModel:
        ws, session = await self._session(call)
        self._guard_app_credential(call.who, session)
        return artifact_out(
            await self._d.service.export(ws, session.key_hash, actor=call.who.actor))

    async def snippet(self, call: Call) -> BaseModel:
        _, session = await self._session(call)
        q: SnippetQuery = call.query
        url = self._d.service.rpc_url(session.chain_ids[0])
        return Snippet(lang=q.lang, code=snippet(q.lang, session.address, session.chain_ids[0],
                                                 url))

    async def bulk_revoke(self, call: Call) -> BaseModel:
        body: BulkRevoke = call.body
        ws = await self._ws(call.who)
        sessions = await self._d.service.revoke_matching(
            ws, SessionFilter(type=body.type, chain_id=body.chain, agent_name=body.agent,
                              label_contains=body.label),
            actor=call.who.actor, dry_run=body.dry_run)
        return BulkRevokeResult(count=len(sessions), dry_run=body.dry_run,
                                key_hashes=[s.key_hash for s in sessions])

    # -- agents ----------------------------------------------------------------------------
    async def list_agents(self, call: Call) -> BaseModel:
        ws = await self._ws(call.who)
        return AgentList(items=[await self._agent_out(ws, a.name)
                                for a in await self._d.service.list_agents(ws)])

    async def _agent_out(self, ws: Workspace, name: str) -> AgentOut:
        agent = next(a for a in await self._d.service.list_agents(ws) if a.name == name)
        active = await self._d.service.list_sessions(ws, SessionFilter(
            agent_name=name, status=SessionStatus.ACTIVE, limit=100_000))
        ceiling = agent.ceiling
        return AgentOut(
            name=agent.name, created_at=iso(agent.created_at_ms) or "",
            daily_budget=None if agent.daily_budget is None
            else format_amount(agent.daily_budget), active_sessions=len(active),
            rotate_every_s=agent.rotate_every_s,
            status="active" if agent.disabled_at_ms is None else "disabled",
            disabled_at=iso(agent.disabled_at_ms),
            ceiling=None if ceiling is None else Ceiling(
                permissions=list(ceiling.permissions), chain_ids=list(ceiling.chain_ids),
                tokens=list(ceiling.tokens), limit_unit=ceiling.limit_unit,
                per_tx_limit=format_amount(ceiling.per_tx),
                daily_limit=format_amount(ceiling.daily),
                max_lifetime=str(ceiling.max_lifetime_s),
                max_live_sessions=ceiling.max_live_sessions,
                approve_above=None if ceiling.approve_above is None
                else format_amount(ceiling.approve_above)))

    async def create_agent(self, call: Call) -> BaseModel:
        body: AgentCreate = call.body
        ws = await self._ws(call.who)
        budget = None if body.daily_budget is None else _amount(body.daily_budget,
                                                                "daily_budget")
        ceiling = None
        if body.ceiling is not None:
            c = body.ceiling
            ceiling = AgentCeiling(
                permissions=tuple(dict.fromkeys(c.permissions)),
                chain_ids=tuple(dict.fromkeys(c.chain_ids)),
                tokens=tuple(dict.fromkeys(c.tokens)), limit_unit=c.limit_unit,
                per_tx=_amount(c.per_tx_limit, "ceiling.per_tx_limit"),
                daily=_amount(c.daily_limit, "ceiling.daily_limit"),
                max_lifetime_s=parse_duration(c.max_lifetime),
                max_live_sessions=c.max_live_sessions,
                approve_above=None if c.approve_above is None
                else _amount(c.approve_above, "ceiling.approve_above"))
        try:
            agent, credential = await self._d.service.register_agent(
                ws, body.name, budget, actor=call.who.actor, ceiling=ceiling,
                rotate_every_s=None if body.rotate_every is None
                else parse_duration(body.rotate_every))
        except InvalidSpec as exc:
            raise ValidationFailed(exc.field, str(exc)) from exc
        out = await self._agent_out(ws, agent.name)
        return AgentCreated(**out.model_dump(), credential=credential)

    async def reissue_agent(self, call: Call) -> BaseModel:
        ws = await self._ws(call.who)
        agent, credential = await self._d.service.reissue_agent(
            ws, call.path["name"], actor=call.who.actor)
        out = await self._agent_out(ws, agent.name)
        return AgentReissued(**out.model_dump(), credential=credential)

    async def disable_agent(self, call: Call) -> BaseModel:
        ws = await self._ws(call.who)
        agent, revoked = await self._d.service.disable_agent(
            ws, call.path["name"], actor=call.who.actor)
        out = await self._agent_out(ws, agent.name)
        return AgentDisabledOut(**out.model_dump(), revoked=[s.key_hash for s in revoked])

    # -- admin API tokens ------------------------------------------------------------------
    async def list_tokens(self, call: Call) -> BaseModel:
        tokens = await self._d.tokens.list_tokens(call.who.workspace_id)
        return TokenList(items=[self._token_out(t) for t in tokens])

    def _token_out(self, token: ApiToken) -> TokenOut:
        now = self._d.clock()
        status: Literal["active", "revoked", "expired"] = (
            "revoked" if token.revoked_at_ms is not None
            else "active" if token.active(now) else "expired")
        return TokenOut(id=token.id, name=token.name, scopes=list(token.scopes), status=status,
                        created_at=iso(token.created_at_ms) or "",
                        expires_at=iso(token.expires_at_ms), revoked_at=iso(token.revoked_at_ms))

    async def create_token(self, call: Call) -> BaseModel:
        body: TokenCreate = call.body
        self._require_step_up(call.who)
        ws = await self._ws(call.who)
        lifetime = None if body.expires_in is None else parse_duration(body.expires_in)
        try:
            token, secret = await self._d.tokens.create_token(
                ws, name=body.name, scopes=frozenset(body.scopes), expires_in_s=lifetime,
                created_by=call.who.actor_id, actor=call.who.actor)
        except InvalidSpec as exc:
            raise ValidationFailed(exc.field, str(exc)) from exc
        return TokenCreated(**self._token_out(token).model_dump(), token=secret)

    async def revoke_token(self, call: Call) -> BaseModel:
        token = await self._d.tokens.revoke_token(
            call.who.workspace_id, call.path["token_id"], actor=call.who.actor)
        return self._token_out(token)

    # -- the audit trail -------------------------------------------------------------------
    async def audit(self, call: Call) -> BaseModel:
        q: AuditQuery = call.query
        entries = await self._d.audit.entries(
            workspace_id=call.who.workspace_id, subject=q.subject, after_seq=q.after,
            limit=q.limit)
        return AuditPage(
            items=[AuditOut(seq=e.seq, at=iso(e.at_ms) or "", actor=e.actor, action=e.action,
                            subject=e.subject, detail=json.loads(e.detail),
                            entry_hash=e.entry_hash.hex()) for e in entries],
            next_after=entries[-1].seq if len(entries) == q.limit else None)

    # -- passkey auth ----------------------------------------------------------------------
    async def register_begin(self, call: Call) -> BaseModel:
        body: RegisterBegin = call.body
        begun = await self._d.passkeys.begin_registration(body.setup_token)
        return CeremonyBegun(challenge_id=begun.challenge_id, options=begun.options)

    async def register_finish(self, call: Call) -> web.StreamResponse:
        body: CeremonyFinish = call.body
        admin = await self._d.passkeys.finish_registration(body.challenge_id, body.credential)
        passkeys = await self._d.admins.passkeys_of(admin.id)
        return await self._logged_in(admin.id, passkeys[0].credential_id)

    async def login_begin(self, call: Call) -> BaseModel:
        begun = await self._d.passkeys.begin_login()
        return CeremonyBegun(challenge_id=begun.challenge_id, options=begun.options)

    async def login_finish(self, call: Call) -> web.StreamResponse:
        body: CeremonyFinish = call.body
        admin, credential_id = await self._d.passkeys.finish_login(body.challenge_id,
                                                                   body.credential)
        return await self._logged_in(admin.id, credential_id)

    async def _logged_in(self, admin_id: str, credential_id: bytes) -> web.StreamResponse:
        admin = await self._d.admins.get_admin(admin_id)
        cookie = await self._d.accounts.start_login(admin, passkey_id=credential_id)
        principal = await self._d.accounts.resolve_cookie(cookie)
        assert principal is not None
        response = web.json_response((await self._me(principal)).model_dump(mode="json"))
        response.set_cookie(COOKIE, cookie, httponly=True, samesite="Strict", path="/",
                            secure=self._d.secure_cookies, max_age=LOGIN_TTL_MS // 1000)
        return response

    async def _me(self, who: Principal) -> Me:
        ws = await self._ws(who)
        until = (None if who.last_assertion_at_ms is None
                 else iso(who.last_assertion_at_ms + STEP_UP_MS))
        return Me(admin=who.actor_name, workspace=ws.name,
                  csrf_token=self._d.accounts.csrf_token(who), step_up_valid_until=until)

    async def me(self, call: Call) -> BaseModel:
        return await self._me(call.who)

    async def step_up_begin(self, call: Call) -> BaseModel:
        admin = await self._d.admins.get_admin(call.who.actor_id)
        begun = await self._d.passkeys.begin_step_up(admin)
        return CeremonyBegun(challenge_id=begun.challenge_id, options=begun.options)

    async def step_up_finish(self, call: Call) -> BaseModel:
        body: CeremonyFinish = call.body
        admin = await self._d.admins.get_admin(call.who.actor_id)
        await self._d.passkeys.finish_step_up(admin, body.challenge_id, body.credential)
        await self._d.accounts.stepped_up(call.who)
        refreshed = await self._d.accounts.refreshed(call.who)
        return await self._me(refreshed)

    async def passkey_begin(self, call: Call) -> BaseModel:
        self._require_step_up(call.who)
        admin = await self._d.admins.get_admin(call.who.actor_id)
        begun = await self._d.passkeys.begin_add_passkey(admin)
        return CeremonyBegun(challenge_id=begun.challenge_id, options=begun.options)

    async def passkey_finish(self, call: Call) -> BaseModel:
        body: CeremonyFinish = call.body
        admin = await self._d.admins.get_admin(call.who.actor_id)
        await self._d.passkeys.finish_add_passkey(admin, body.challenge_id, body.credential)
        return Ok()

    async def invite(self, call: Call) -> BaseModel:
        body: AdminInvite = call.body
        self._require_step_up(call.who)
        ws = await self._ws(call.who)
        try:
            link = await self._d.admins.invite(ws, admin_name=body.name, actor=call.who.actor)
        except Conflict as exc:
            # As an ApiError, so the page shows it next to the name field.
            raise ApiError(409, "conflict", str(exc)) from exc
        return InviteLink(setup_link=link)

    async def logout(self, call: Call) -> web.StreamResponse:
        await self._d.accounts.logout(call.who)
        response = web.json_response(Ok().model_dump(mode="json"))
        response.del_cookie(COOKIE, path="/")
        return response

    # -- the table -------------------------------------------------------------------------
    def operations(self) -> Sequence[Operation]:
        read, write, agents = Scope.SESSIONS_READ, Scope.SESSIONS_WRITE, Scope.AGENTS_WRITE
        kh = {"key_hash": KEY_HASH}

        def op(method: str, path: str, name: str, summary: str, handler: Any,
               scope: Scope | None, response: type[BaseModel], **extra: Any) -> Operation:
            return Operation(method=method, path=path, operation_id=name, summary=summary,
                             handler=handler, scope=scope, response=response, **extra)

        return (
            op("GET", "/sessions", "listSessions", "List sessions (filters, sort, cursor)",
               self.list_sessions, read, SessionPage, query=SessionQuery),
            op("POST", "/sessions", "createSession",
               "Create a session; returns its provisioning artifact", self.create_session,
               write, Artifact, body=SessionCreate, status=201,
               description="App sessions need a logged-in person with a passkey assertion "
                           "from the last 5 minutes (step-up)."),
            op("POST", "/sessions/bulk-revoke", "bulkRevokeSessions",
               "Revoke every active session matching a filter (dry_run counts first)",
               self.bulk_revoke, write, BulkRevokeResult, body=BulkRevoke),
            op("GET", "/sessions/{key_hash}", "getSession", "One session", self.get_session,
               read, SessionOut, path_patterns=kh),
            op("GET", "/sessions/{key_hash}/usage", "getSessionUsage",
               "Usage: last used, request count, spend vs limits", self.usage, read, Usage,
               path_patterns=kh),
            op("GET", "/sessions/{key_hash}/events", "listSessionEvents",
               "Recent signing decisions", self.events, read, EventPage, query=EventQuery,
               path_patterns=kh),
            op("POST", "/sessions/{key_hash}/revoke", "revokeSession", "Revoke a session",
               self.revoke, write, SessionOut, path_patterns=kh),
            op("POST", "/sessions/{key_hash}/rotate", "rotateSession",
               "Replace the key; same terms, same spend window", self.rotate, write,
               Artifact, path_patterns=kh, description=_APP_CREDENTIAL_RULE),
            op("GET", "/sessions/{key_hash}/export", "exportSession",
               "The provisioning artifact / agent config (contains the credential)",
               self.export, write, Artifact, path_patterns=kh,
               description=_APP_CREDENTIAL_RULE),
            op("GET", "/sessions/{key_hash}/snippet", "getSessionSnippet",
               "Client code for the session", self.snippet, read, Snippet,
               query=SnippetQuery, path_patterns=kh),
            op("GET", "/agents", "listAgents", "Registered agents", self.list_agents, read,
               AgentList, tag="agents"),
            op("POST", "/agents", "registerAgent", "Register an agent", self.create_agent,
               agents, AgentCreated, body=AgentCreate, status=201, tag="agents"),
            op("POST", "/agents/{name}/reissue", "reissueAgentCredential",
               "A new RPC credential for the agent; the old one is refused at once",
               self.reissue_agent, agents, AgentReissued, tag="agents",
               path_patterns={"name": AGENT_NAME},
               description="409 if the agent is disabled."),
            op("POST", "/agents/{name}/disable", "disableAgent",
               "Disable the agent for good: credential dead, every session revoked",
               self.disable_agent, agents, AgentDisabledOut, tag="agents",
               path_patterns={"name": AGENT_NAME},
               description="Revoked sessions' keys are destroyed; the agent gets no new "
                           "session or credential afterwards. 409 if already disabled."),
            op("GET", "/tokens", "listTokens", "Admin API tokens", self.list_tokens, read,
               TokenList, cookie_only=True, tag="tokens"),
            op("POST", "/tokens", "createToken", "Create an admin API token (step-up)",
               self.create_token, write, TokenCreated, body=TokenCreate, status=201,
               cookie_only=True, tag="tokens"),
            op("POST", "/tokens/{token_id}/revoke", "revokeToken", "Revoke an admin API token",
               self.revoke_token, write, TokenOut, cookie_only=True, tag="tokens",
               path_patterns={"token_id": TOKEN_ID}),
            op("GET", "/audit", "listAudit", "The workspace's audit trail, oldest first",
               self.audit, read, AuditPage, query=AuditQuery, tag="audit"),
            op("POST", "/auth/register/begin", "beginRegistration",
               "Start registering a passkey with a setup link", self.register_begin, None,
               CeremonyBegun, body=RegisterBegin, tag="auth"),
            op("POST", "/auth/register/finish", "finishRegistration",
               "Finish registration; logs in", self.register_finish, None, Me,
               body=CeremonyFinish, tag="auth"),
            op("POST", "/auth/login/begin", "beginLogin", "Start a passkey login",
               self.login_begin, None, CeremonyBegun, tag="auth"),
            op("POST", "/auth/login/finish", "finishLogin", "Finish a passkey login",
               self.login_finish, None, Me, body=CeremonyFinish, tag="auth"),
            op("GET", "/auth/me", "me", "The logged-in admin and the CSRF token", self.me,
               read, Me, cookie_only=True, tag="auth"),
            op("POST", "/auth/step-up/begin", "beginStepUp", "Start a fresh passkey assertion",
               self.step_up_begin, read, CeremonyBegun, cookie_only=True, tag="auth"),
            op("POST", "/auth/step-up/finish", "finishStepUp",
               "Finish the assertion: sensitive actions are allowed for 5 minutes",
               self.step_up_finish, read, Me, body=CeremonyFinish, cookie_only=True,
               tag="auth"),
            op("POST", "/auth/passkeys/begin", "beginAddPasskey",
               "Start adding another passkey (step-up)", self.passkey_begin, write,
               CeremonyBegun, cookie_only=True, tag="auth"),
            op("POST", "/auth/passkeys/finish", "finishAddPasskey", "Finish adding a passkey",
               self.passkey_finish, write, Ok, body=CeremonyFinish, cookie_only=True,
               tag="auth"),
            op("POST", "/auth/invites", "inviteAdmin",
               "A one-time setup link for another admin (step-up)", self.invite, write,
               InviteLink, body=AdminInvite, cookie_only=True, tag="auth"),
            op("POST", "/auth/logout", "logout", "End this login", self.logout, read, Ok,
               cookie_only=True, tag="auth"),
            *self.approvals.operations(),
        )
