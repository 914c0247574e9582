"""`StudioClient` / `AsyncStudioClient`: the admin API (`/api/v1`) for operators' code.

The async client does the work; the sync client runs it on a private loop (`_portal.py`), so
both behave the same and errors are the same types. An admin API token comes from
`session-studio tokens create --scope sessions:write,agents:write --json`.

A token can create **agent** sessions, never **app** sessions: an app session mints a new
credential that a web app will hold, so the server demands a person logged in with a passkey
(403 `passkey_required`, raised as `Forbidden`). Create app sessions on the Studio page or with
`session-studio sessions create --type app`, then use them here (`select_session`).

Likewise a token can list and reject held requests (`approvals:write`) but never approve one:
approving moves money on a person's word, so it takes the CLI on the host or the Studio page
with a passkey. There is deliberately no `approve_approval` here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import quote

from web3 import AsyncWeb3, Web3

from ._admin_http import AdminTransport
from ._approval import Approval, ApprovalStatus
from ._errors import ValidationError
from ._limits import Amount, Limit, decimal_string, to_decimal
from ._portal import Portal
from ._types import AgentInfo, Artifact, BulkRevokeResult, Event, SessionInfo, Usage
from ._web3 import sidecar_async_web3, sidecar_web3

SessionType = Literal["agent", "app"]
Duration = str | int | timedelta
PAGE_SIZE = 200  # the API's maximum page


def duration_text(value: Duration) -> str:
    """`"7d"`, `3600` or `timedelta(days=7)` -> the API's duration string."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
        if seconds != int(seconds):
            raise ValidationError("expires_in: whole seconds only", field="expires_in")
        return str(int(seconds))
    if isinstance(value, bool):
        raise ValidationError("expires_in: a duration such as '7d' or 3600", field="expires_in")
    if isinstance(value, int):
        return str(value)
    return value


def _filters(**values: Any) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v is not None}


def _limit_fields(limit: Limit | None, per_tx_limit: Amount | None,
                  daily_limit: Amount | None, limit_unit: str) -> dict[str, str]:
    if limit is not None:
        if per_tx_limit is not None or daily_limit is not None:
            raise ValidationError("give limit=Limit(...) or per_tx_limit/daily_limit, not both",
                                  field="limit")
        return limit.as_fields()
    if per_tx_limit is None or daily_limit is None:
        raise ValidationError("give limit=Limit.usd(...)/Limit.token(...), or both "
                              "per_tx_limit and daily_limit", field="limit")
    return {"limit_unit": limit_unit,
            "per_tx_limit": decimal_string(to_decimal(per_tx_limit, "per_tx_limit")),
            "daily_limit": decimal_string(to_decimal(daily_limit, "daily_limit"))}


def session_body(*, type: SessionType, label: str, chains: Sequence[int],
                 permissions: Sequence[str], tokens: Sequence[str], expires_in: Duration,
                 limit: Limit | None = None, per_tx_limit: Amount | None = None,
                 daily_limit: Amount | None = None, limit_unit: str = "USD",
                 agent: str | None = None, recipients: Sequence[str] | None = None,
                 contracts: Mapping[str, Sequence[str] | None] | None = None,
                 rate_limit_per_minute: int | None = None,
                 max_fee_per_gas_gwei: Amount | None = None,
                 approve_above: Amount | None = None) -> dict[str, Any]:
    """The `POST /sessions` body (the admin API's `SessionCreate`)."""
    body: dict[str, Any] = {
        "type": type, "label": label, "chain_ids": list(chains),
        "permissions": list(permissions), "tokens": list(tokens),
        "expires_in": duration_text(expires_in),
        **_limit_fields(limit, per_tx_limit, daily_limit, limit_unit)}
    if agent is not None:
        body["agent"] = agent
    if recipients is not None:
        body["recipients"] = list(recipients)
    if contracts is not None:
        body["contracts"] = {a: None if s is None else list(s) for a, s in contracts.items()}
    if rate_limit_per_minute is not None:
        body["rate_limit_per_minute"] = rate_limit_per_minute
    if max_fee_per_gas_gwei is not None:
        body["max_fee_per_gas_gwei"] = decimal_string(
            to_decimal(max_fee_per_gas_gwei, "max_fee_per_gas_gwei"))
    if approve_above is not None:
        body["approve_above"] = decimal_string(to_decimal(approve_above, "approve_above"))
    return body


def pick_rpc_url(artifact: Artifact, chain_id: int | None) -> str:
    """The artifact's RPC URL for `chain_id` (default: its first chain)."""
    if chain_id is None:
        return artifact["rpc_url"]
    url = artifact["rpc_urls"].get(str(chain_id))
    if url is None:
        raise ValidationError(f"chain_id: the session is scoped to {artifact['chain_ids']}, "
                              f"not {chain_id}", field="chain_id")
    return url


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentCeiling:
    """The most an agent may give itself through `studio_createSession` (and rotate into):
    permissions, chains, tokens, limits, the longest lifetime, and how many live sessions."""

    permissions: Sequence[str]
    chains: Sequence[int]
    tokens: Sequence[str]
    limit: Limit
    max_lifetime: Duration
    max_live_sessions: int
    # Self-created sessions hold what costs more for a person; they inherit it and cannot
    # raise it. None: the ceiling bounds no threshold.
    approve_above: Amount | None = None

    def as_body(self) -> dict[str, Any]:
        body = {"permissions": list(self.permissions), "chain_ids": list(self.chains),
                "tokens": list(self.tokens), **self.limit.as_fields(),
                "max_lifetime": duration_text(self.max_lifetime),
                "max_live_sessions": self.max_live_sessions}
        if self.approve_above is not None:
            body["approve_above"] = decimal_string(to_decimal(self.approve_above,
                                                              "approve_above"))
        return body


class AsyncStudioClient:
    """The admin API, async. Use as `async with AsyncStudioClient(url, token) as studio:`.

    `admin_url` is the admin listener (`http://127.0.0.1:8646`); every call acts inside the
    token's workspace.
    """

    def __init__(self, admin_url: str, token: str, *, timeout_s: float = 30) -> None:
        self._http = AdminTransport(admin_url, token, timeout_s=timeout_s)

    async def __aenter__(self) -> AsyncStudioClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.close()

    # -- sessions ------------------------------------------------------------------------
    async def create_session(self, *, type: SessionType, label: str, chains: Sequence[int],
                             permissions: Sequence[str], tokens: Sequence[str],
                             expires_in: Duration, limit: Limit | None = None,
                             per_tx_limit: Amount | None = None,
                             daily_limit: Amount | None = None, limit_unit: str = "USD",
                             agent: str | None = None,
                             recipients: Sequence[str] | None = None,
                             contracts: Mapping[str, Sequence[str] | None] | None = None,
                             rate_limit_per_minute: int | None = None,
                             max_fee_per_gas_gwei: Amount | None = None,
                             approve_above: Amount | None = None) -> Artifact:
        """Create a session; returns its provisioning artifact (credential included).

        Limits: `limit=Limit.usd("10", daily="100")`, `limit=Limit.token("USDC",
        per_tx=10_000_000, daily=100_000_000, decimals=6)`, or `per_tx_limit`/`daily_limit`
        (decimal amounts in `limit_unit`). An agent session needs `agent`, a registered agent.
        `approve_above` (a decimal amount in the limit unit, at most the per-tx limit): a
        request costing more is held for a person's approval instead of signed.
        `type="app"` raises `Forbidden` (`passkey_required`) with an API token: see the module
        docstring.
        """
        body = session_body(type=type, label=label, chains=chains, permissions=permissions,
                            tokens=tokens, expires_in=expires_in, limit=limit,
                            per_tx_limit=per_tx_limit, daily_limit=daily_limit,
                            limit_unit=limit_unit, agent=agent, recipients=recipients,
                            contracts=contracts, rate_limit_per_minute=rate_limit_per_minute,
                            max_fee_per_gas_gwei=max_fee_per_gas_gwei,
                            approve_above=approve_above)
        artifact: Artifact = await self._http.request("POST", "/sessions", body=body)
        return artifact

    async def iter_sessions(self, *, type: SessionType | None = None,
                            status: str | None = None, chain: int | None = None,
                            agent: str | None = None, label: str | None = None,
                            sort: str = "-created",
                            page_size: int = PAGE_SIZE) -> AsyncIterator[SessionInfo]:
        """Every session matching the filters, fetching pages as it goes (cursor-paginated).

        `sort`: `created`, `last_used` or `expiry`, `-` prefix for descending. `label`
        matches a substring, case-insensitively.
        """
        cursor: str | None = None
        while True:
            params = _filters(type=type, status=status, chain=chain, agent=agent, label=label,
                              sort=sort, limit=page_size, cursor=cursor)
            page = await self._http.request("GET", "/sessions", params=params)
            for item in page["items"]:
                yield item
            cursor = page.get("next_cursor")
            if cursor is None:
                return

    async def list_sessions(self, *, type: SessionType | None = None, status: str | None = None,
                            chain: int | None = None, agent: str | None = None,
                            label: str | None = None, sort: str = "-created",
                            page_size: int = PAGE_SIZE) -> list[SessionInfo]:
        """All matching sessions (every page); see `iter_sessions` for the filters."""
        return [s async for s in self.iter_sessions(type=type, status=status, chain=chain,
                                                     agent=agent, label=label, sort=sort,
                                                     page_size=page_size)]

    async def get_session(self, key_hash: str) -> SessionInfo:
        session: SessionInfo = await self._http.request("GET", f"/sessions/{key_hash}")
        return session

    async def get_usage(self, key_hash: str) -> Usage:
        usage: Usage = await self._http.request("GET", f"/sessions/{key_hash}/usage")
        return usage

    async def list_events(self, key_hash: str, *, limit: int = 50) -> list[Event]:
        """The session's recent signing decisions, newest first."""
        page = await self._http.request("GET", f"/sessions/{key_hash}/events",
                                        params={"limit": str(limit)})
        events: list[Event] = page["items"]
        return events

    async def revoke_session(self, key_hash: str) -> SessionInfo:
        """Revoke now: the sidecar stops signing for it before this returns. Revoking a
        revoked session raises `Conflict`."""
        session: SessionInfo = await self._http.request("POST", f"/sessions/{key_hash}/revoke")
        return session

    async def rotate_session(self, key_hash: str) -> Artifact:
        """A new key with the same terms, spend window and expiry; the old key is revoked.
        App sessions get a new credential (in the returned artifact)."""
        artifact: Artifact = await self._http.request("POST", f"/sessions/{key_hash}/rotate")
        return artifact

    async def export_session(self, key_hash: str) -> Artifact:
        """The provisioning artifact / agent config again, credential included (audited).
        For an app session a token gets `Forbidden` (`passkey_required`)."""
        artifact: Artifact = await self._http.request("GET", f"/sessions/{key_hash}/export")
        return artifact

    async def get_snippet(self, key_hash: str, *, lang: str = "python") -> str:
        """Client code for the session: `python` (web3.py), `viem` or `ethers`."""
        snippet = await self._http.request("GET", f"/sessions/{key_hash}/snippet",
                                           params={"lang": lang})
        code: str = snippet["code"]
        return code

    async def bulk_revoke(self, *, type: SessionType | None = None, chain: int | None = None,
                          agent: str | None = None, label: str | None = None,
                          dry_run: bool = False) -> BulkRevokeResult:
        """Revoke every **active** session matching the filter; `dry_run=True` only says
        which. With no filter at all this is every active session of the workspace."""
        body: dict[str, Any] = {"type": type, "chain": chain, "agent": agent, "label": label,
                                "dry_run": dry_run}
        result: BulkRevokeResult = await self._http.request(
            "POST", "/sessions/bulk-revoke", body={k: v for k, v in body.items()
                                                   if v is not None})
        return result

    async def select_session(self, key_hash: str, *,
                             chain_id: int | None = None) -> AsyncWeb3[Any]:
        """An `AsyncWeb3` bound to the session through the sidecar: its credential in the
        header and its address as `eth.default_account`. Reads its export (needs the
        `sessions:write` scope; an app session's export needs a person with a passkey, so a
        token gets `Forbidden` with `code == "passkey_required"`: give an app backend its
        provisioning artifact instead). Use it on the calling loop; `await
        w3.provider.disconnect()` when done."""
        artifact = await self.export_session(key_hash)
        return sidecar_async_web3(pick_rpc_url(artifact, chain_id), artifact["credential"],
                                  account=artifact["address"])

    # -- agents --------------------------------------------------------------------------
    async def list_agents(self) -> list[AgentInfo]:
        page = await self._http.request("GET", "/agents")
        agents: list[AgentInfo] = page["items"]
        return agents

    async def register_agent(self, name: str, *, daily_budget: Amount | None = None,
                             ceiling: AgentCeiling | None = None,
                             rotate_every: Duration | None = None) -> AgentInfo:
        """Register an agent; the answer holds its RPC `credential` (shown only here).

        `daily_budget` (USD) caps the sum of all its sessions' spend, revoked and rotated
        ones included. Without a `ceiling` the agent cannot create sessions itself.
        `rotate_every` has the server rotate the agent's sessions on a schedule.
        """
        body: dict[str, Any] = {"name": name}
        if daily_budget is not None:
            body["daily_budget"] = decimal_string(to_decimal(daily_budget, "daily_budget"))
        if ceiling is not None:
            body["ceiling"] = ceiling.as_body()
        if rotate_every is not None:
            body["rotate_every"] = duration_text(rotate_every)
        agent: AgentInfo = await self._http.request("POST", "/agents", body=body)
        return agent

    async def reissue_agent(self, name: str) -> AgentInfo:
        """A new RPC credential for the agent (in the answer's `credential`, shown only here);
        the previous one is refused (HTTP 401) from the moment this returns, on every
        process. Use it when an agent's exported config may have leaked."""
        agent: AgentInfo = await self._http.request(
            "POST", f"/agents/{quote(name, safe='')}/reissue")
        return agent

    async def disable_agent(self, name: str) -> AgentInfo:
        """Cut the agent off for good: its credential dies, every session of it is revoked
        (keys destroyed; `revoked` lists them) and it gets nothing new. Audited."""
        agent: AgentInfo = await self._http.request(
            "POST", f"/agents/{quote(name, safe='')}/disable")
        return agent


    # -- approvals -----------------------------------------------------------------------
    async def iter_approvals(self, *, status: ApprovalStatus | None = None,
                             page_size: int = PAGE_SIZE) -> AsyncIterator[Approval]:
        """Held requests of the workspace, newest first, fetching pages as it goes; `status`
        `pending` is the inbox."""
        cursor: str | None = None
        while True:
            params = _filters(status=status, limit=page_size, cursor=cursor)
            page = await self._http.request("GET", "/approvals", params=params)
            for item in page["items"]:
                yield Approval.from_json(item)
            cursor = page.get("next_cursor")
            if cursor is None:
                return

    async def list_approvals(self, *, status: ApprovalStatus | None = None,
                             limit: int | None = None) -> list[Approval]:
        """Matching approvals: every page, or the first `limit` of them."""
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 1):
            raise ValidationError("limit: a positive int, or None for all", field="limit")
        page_size = PAGE_SIZE if limit is None else min(limit, PAGE_SIZE)
        found: list[Approval] = []
        async for approval in self.iter_approvals(status=status, page_size=page_size):
            found.append(approval)
            if limit is not None and len(found) >= limit:
                break
        return found

    async def get_approval(self, approval_id: str) -> Approval:
        return Approval.from_json(await self._http.request(
            "GET", f"/approvals/{quote(approval_id, safe='')}"))

    async def reject_approval(self, approval_id: str, reason: str | None = None) -> Approval:
        """Reject a pending approval (scope `approvals:write`): nothing is signed and its
        reserved cost is released; the agent waiting on it gets `approval_rejected` with
        `reason`. One already decided raises `Conflict`."""
        body = {} if reason is None else {"reason": reason}
        return Approval.from_json(await self._http.request(
            "POST", f"/approvals/{quote(approval_id, safe='')}/reject", body=body))


class StudioClient:
    """The admin API, blocking: the same methods as `AsyncStudioClient`, run on a private
    loop. Use as `with StudioClient(url, token) as studio:` (or call `close()`)."""

    def __init__(self, admin_url: str, token: str, *, timeout_s: float = 30) -> None:
        self._portal = Portal()
        self._aio = AsyncStudioClient(admin_url, token, timeout_s=timeout_s)

    def __enter__(self) -> StudioClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._portal.close(self._aio.aclose)

    def create_session(self, *, type: SessionType, label: str, chains: Sequence[int],
                       permissions: Sequence[str], tokens: Sequence[str], expires_in: Duration,
                       limit: Limit | None = None, per_tx_limit: Amount | None = None,
                       daily_limit: Amount | None = None, limit_unit: str = "USD",
                       agent: str | None = None, recipients: Sequence[str] | None = None,
                       contracts: Mapping[str, Sequence[str] | None] | None = None,
                       rate_limit_per_minute: int | None = None,
                       max_fee_per_gas_gwei: Amount | None = None,
                       approve_above: Amount | None = None) -> Artifact:
        """See `AsyncStudioClient.create_session` (app sessions need a passkey, not a token)."""
        return self._portal.call(self._aio.create_session(
            type=type, label=label, chains=chains, permissions=permissions, tokens=tokens,
            expires_in=expires_in, limit=limit, per_tx_limit=per_tx_limit,
            daily_limit=daily_limit, limit_unit=limit_unit, agent=agent, recipients=recipients,
            contracts=contracts, rate_limit_per_minute=rate_limit_per_minute,
            max_fee_per_gas_gwei=max_fee_per_gas_gwei, approve_above=approve_above))

    def list_sessions(self, *, type: SessionType | None = None, status: str | None = None,
                      chain: int | None = None, agent: str | None = None,
                      label: str | None = None, sort: str = "-created",
                      page_size: int = PAGE_SIZE) -> list[SessionInfo]:
        """Every matching session, all pages fetched; see `AsyncStudioClient.iter_sessions`."""
        return self._portal.call(self._aio.list_sessions(
            type=type, status=status, chain=chain, agent=agent, label=label, sort=sort,
            page_size=page_size))

    def get_session(self, key_hash: str) -> SessionInfo:
        return self._portal.call(self._aio.get_session(key_hash))

    def get_usage(self, key_hash: str) -> Usage:
        return self._portal.call(self._aio.get_usage(key_hash))

    def list_events(self, key_hash: str, *, limit: int = 50) -> list[Event]:
        return self._portal.call(self._aio.list_events(key_hash, limit=limit))

    def revoke_session(self, key_hash: str) -> SessionInfo:
        return self._portal.call(self._aio.revoke_session(key_hash))

    def rotate_session(self, key_hash: str) -> Artifact:
        return self._portal.call(self._aio.rotate_session(key_hash))

    def export_session(self, key_hash: str) -> Artifact:
        return self._portal.call(self._aio.export_session(key_hash))

    def get_snippet(self, key_hash: str, *, lang: str = "python") -> str:
        return self._portal.call(self._aio.get_snippet(key_hash, lang=lang))

    def bulk_revoke(self, *, type: SessionType | None = None, chain: int | None = None,
                    agent: str | None = None, label: str | None = None,
                    dry_run: bool = False) -> BulkRevokeResult:
        return self._portal.call(self._aio.bulk_revoke(type=type, chain=chain, agent=agent,
                                                      label=label, dry_run=dry_run))

    def select_session(self, key_hash: str, *, chain_id: int | None = None) -> Web3:
        """A `Web3` bound to the session through the sidecar (credential header, its
        address as `eth.default_account`)."""
        artifact = self.export_session(key_hash)
        return sidecar_web3(pick_rpc_url(artifact, chain_id), artifact["credential"],
                            account=artifact["address"])

    def list_agents(self) -> list[AgentInfo]:
        return self._portal.call(self._aio.list_agents())

    def register_agent(self, name: str, *, daily_budget: Amount | None = None,
                       ceiling: AgentCeiling | None = None,
                       rotate_every: Duration | None = None) -> AgentInfo:
        """See `AsyncStudioClient.register_agent`."""
        return self._portal.call(self._aio.register_agent(
            name, daily_budget=daily_budget, ceiling=ceiling, rotate_every=rotate_every))

    def reissue_agent(self, name: str) -> AgentInfo:
        """See `AsyncStudioClient.reissue_agent`."""
        return self._portal.call(self._aio.reissue_agent(name))

    def disable_agent(self, name: str) -> AgentInfo:
        """See `AsyncStudioClient.disable_agent`."""
        return self._portal.call(self._aio.disable_agent(name))

    def list_approvals(self, *, status: ApprovalStatus | None = None,
                       limit: int | None = None) -> list[Approval]:
        """See `AsyncStudioClient.list_approvals`."""
        return self._portal.call(self._aio.list_approvals(status=status, limit=limit))

    def get_approval(self, approval_id: str) -> Approval:
        return self._portal.call(self._aio.get_approval(approval_id))

    def reject_approval(self, approval_id: str, reason: str | None = None) -> Approval:
        """See `AsyncStudioClient.reject_approval` (tokens reject, never approve)."""
        return self._portal.call(self._aio.reject_approval(approval_id, reason))
