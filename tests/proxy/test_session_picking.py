"""Which session a request speaks for, when the caller holds only its credential's live
sessions: a `from` among them reads nothing more; a `from` outside them is one lookup by
address, so a dead session still gets its own refusal; anything else is 4100."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from eth_utils import to_checksum_address
from session_studio.policy import Permission
from session_studio.proxy._context import Caller
from session_studio.proxy._errors import InvalidParams, Unauthorized
from session_studio.proxy._sessions import pick_session
from session_studio.store import CredentialOwner, Session, SessionType

CHAIN_ID = 31337
NOW = 1_749_988_830_000


def _session(**changes: object) -> Session:
    session = Session(
        id=os.urandom(16).hex(), workspace_id="w", type=SessionType.AGENT, label="pick",
        agent_id="a", agent_name="agent", key_hash="0x" + os.urandom(32).hex(),
        address=to_checksum_address(os.urandom(20)), permissions=(Permission.TRANSFER,),
        chain_ids=(CHAIN_ID,), tokens=("ETH",), limit_unit="ETH", per_tx_limit=1,
        daily_limit=1, created_at_ms=NOW - 1000, expires_at_ms=NOW + 3_600_000,
        revoked_at_ms=None, lineage_id="l", predecessor_id=None, credential_version=1)
    return replace(session, **changes)  # type: ignore[arg-type]


class Directory:
    """The credential's sessions by address, as `session_by_address` reads them; counts reads."""

    def __init__(self, *sessions: Session) -> None:
        self._by_address = {s.address.lower(): s for s in sessions}
        self.reads: list[str] = []

    async def __call__(self, address: str) -> Session | None:
        self.reads.append(address)
        return self._by_address.get(address)


def _caller(live: tuple[Session, ...], directory: Directory,
            picked: list[Session] | None = None) -> Caller:
    return Caller(owner=CredentialOwner(workspace_id="w", kind="agent", owner_id="a"),
                  sessions=live, chain=None, chain_id=CHAIN_ID, request_id="r",
                  session_by_address=directory,
                  session_picked=(picked if picked is not None else []).append)


async def test_a_from_among_the_live_sessions_reads_nothing_more() -> None:
    live = _session()
    directory = Directory(live)
    assert await pick_session(_caller((live,), directory), live.address.lower(), NOW) is live
    assert directory.reads == []


async def test_a_from_naming_a_revoked_session_is_picked_so_its_refusal_names_it() -> None:
    live, revoked = _session(), _session(revoked_at_ms=NOW - 1)
    directory, picked = Directory(live, revoked), list[Session]()
    sender = revoked.address.lower()
    assert await pick_session(_caller((live,), directory, picked), sender, NOW) is revoked
    assert directory.reads == [sender] and picked == [revoked]


async def test_a_from_the_credential_does_not_reach_is_unauthorized() -> None:
    live = _session()
    with pytest.raises(Unauthorized):
        await pick_session(_caller((live,), Directory(live)), "0x" + "00" * 20, NOW)


async def test_without_from_the_only_live_session_on_the_chain_is_picked() -> None:
    live, other_chain = _session(), _session(chain_ids=(1,))
    directory = Directory(live, other_chain)
    assert await pick_session(_caller((live, other_chain), directory), None, NOW) is live
    assert directory.reads == []


async def test_without_from_a_credential_with_no_live_session_is_told_so() -> None:
    with pytest.raises(InvalidParams, match="no active session"):
        await pick_session(_caller((), Directory()), None, NOW)
