"""Agent self-service over JSON-RPC (`studio_*`, CONTRACT.md "RPC plane"): an agent holding its
agent credential lists, creates, rotates and revokes its own sessions, never beyond the ceiling
its operator set. The RPC plane only translates; the rules live behind `AgentSelfService`,
implemented by the composition root over the same service the CLI and admin API use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from session_studio.store import CredentialOwner

from ._context import Caller
from ._errors import InvalidParams, RpcError, UnsupportedMethod
from ._params import arity

STUDIO_METHODS = frozenset({
    "studio_listSessions", "studio_getSessionStatuses", "studio_createSession",
    "studio_revokeSession", "studio_rotateSession",
})


class SelfServiceRefused(Exception):
    """The agent asked for more than it may have: a policy denial (4001)."""

    def __init__(self, reason: str, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.field = field


class SelfServiceInvalid(ValueError):
    """Malformed parameters or a session that is not the agent's: -32602."""


class SessionRecord(Protocol):
    """What the service answers (a `SessionView` or `SessionArtifact`): a typed record that
    knows its CONTRACT.md JSON shape; this plane only renders it."""

    def as_json(self) -> dict[str, Any]: ...


class AgentSelfService(Protocol):
    async def list_sessions(self, owner: CredentialOwner) -> Sequence[SessionRecord]: ...
    async def create_session(self, owner: CredentialOwner,
                             config: Mapping[str, Any]) -> SessionRecord: ...
    async def revoke(self, owner: CredentialOwner, key_hash: str) -> SessionRecord: ...
    async def rotate(self, owner: CredentialOwner, key_hash: str) -> SessionRecord: ...


# What `studio_getSessionStatuses` shows of each session: the list without the terms.
STATUS_FIELDS = ("key_hash", "address", "status", "expires_at", "spent_in_window", "limits",
                 "health", "chain_ids")


class Refused(RpcError):
    """4001 like every policy denial, so SDKs and ethers/viem treat it the same way."""

    code = 4001

    def __init__(self, refusal: SelfServiceRefused) -> None:
        data: dict[str, Any] = {"reason": refusal.reason, "detail": refusal.detail}
        if refusal.field is not None:
            data["field"] = refusal.field
        super().__init__(f"User denied the request: {refusal.detail}", data)


async def studio_call(agents: AgentSelfService | None, caller: Caller, method: str,
                      params: list[Any]) -> Any:
    if agents is None or caller.owner.kind != "agent":
        raise UnsupportedMethod(f"{method} is for agent credentials: an app session's "
                                "credential cannot manage sessions")
    owner = caller.owner
    try:
        if method == "studio_listSessions":
            arity(params, 0, 0, method)
            return [record.as_json() for record in await agents.list_sessions(owner)]
        if method == "studio_getSessionStatuses":
            arity(params, 0, 0, method)
            return [{key: shown[key] for key in STATUS_FIELDS}
                    for shown in (r.as_json() for r in await agents.list_sessions(owner))]
        arity(params, 1, 1, method)
        if method == "studio_createSession":
            if not isinstance(params[0], dict):
                raise InvalidParams(f"invalid params: {method} takes one config object")
            return (await agents.create_session(owner, params[0])).as_json()
        if not isinstance(params[0], str):
            raise InvalidParams(f"invalid params: {method} takes one key hash")
        if method == "studio_revokeSession":
            return (await agents.revoke(owner, params[0])).as_json()
        return (await agents.rotate(owner, params[0])).as_json()
    except SelfServiceRefused as exc:
        raise Refused(exc) from exc
    except SelfServiceInvalid as exc:
        raise InvalidParams(f"invalid params: {exc}") from exc
