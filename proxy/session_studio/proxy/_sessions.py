"""Which of the credential's sessions a request speaks for (POLICY.md, `from` spoofing)."""

from __future__ import annotations

from session_studio.store import Session, SessionStatus

from ._context import Caller
from ._errors import InvalidParams, Unauthorized
from ._params import address


async def pick_session(caller: Caller, sender: str | None, now_ms: int) -> Session:
    """The session named by `from`, else the credential's only active one on this chain.

    Addresses compare case-insensitively; an address that is not one of the credential's
    sessions (another session's, another workspace's) is refused with 4100 whatever it is.
    A revoked or expired session is still *picked*, so the refusal names the real reason:
    `caller.sessions` holds the live ones only, so a `from` outside them costs one read of
    that address (never the agent's whole history, which the agent can grow at will).
    """
    if sender is not None:
        named = next((s for s in caller.sessions if s.address.lower() == sender), None)
        if named is None:
            named = await caller.session_by_address(sender)
        if named is None:
            raise Unauthorized(f"the account {sender} is not available to this credential")
        caller.session_picked(named)
        return named
    # No `from`: only unambiguous if exactly one active session covers this chain. The
    # reserving transaction re-checks revocation and expiry authoritatively.
    active = [s for s in caller.sessions if caller.chain_id in s.chain_ids
              and s.status(now_ms) is SessionStatus.ACTIVE]
    if len(active) == 1:
        caller.session_picked(active[0])
        return active[0]
    if not active:
        raise InvalidParams(f"invalid params: this credential has no active session for chain "
                            f"{caller.chain_id}")
    raise InvalidParams("invalid params: 'from' is required: this credential holds "
                        f"{len(active)} sessions for chain {caller.chain_id}")


async def session_for_address(caller: Caller, value: object, name: str) -> Session:
    # An address is given, so no clock is needed (only the no-`from` choice reads one).
    return await pick_session(caller, address(value, name), now_ms=0)


def active_addresses(caller: Caller, now_ms: int) -> list[str]:
    return [s.address for s in caller.sessions
            if caller.chain_id in s.chain_ids and s.status(now_ms) is SessionStatus.ACTIVE]
