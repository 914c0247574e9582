"""An agent's ceiling bounds the permissions it may give itself, `sign_digest` included.

`sign_digest` (personal_sign of exactly 32 bytes, possibly a Safe or ERC-4337 hash) is a separate
grant from `sign_message`: a ceiling that allows messages does not allow digests.
"""

from __future__ import annotations

from dataclasses import replace

from session_studio.policy import Permission
from session_studio.store import AgentCeiling

from session_studio.services import Requested, beyond_ceiling

CEILING = AgentCeiling(permissions=(Permission.TRANSFER, Permission.SIGN_MESSAGE),
                       chain_ids=(8453,), tokens=("USDC",), limit_unit="USD", per_tx=10,
                       daily=100, max_lifetime_s=3600, max_live_sessions=3)


def asking_for(*permissions: str) -> Requested:
    return Requested(permissions=frozenset(permissions), chain_ids=frozenset({8453}),
                     tokens=frozenset({"USDC"}), limit_unit="USD", per_tx=10, daily=100,
                     lifetime_s=3600)


def test_sign_message_in_the_ceiling_does_not_let_an_agent_give_itself_sign_digest() -> None:
    exceeded = beyond_ceiling(CEILING, asking_for("sign_message", "sign_digest"))
    assert exceeded is not None
    assert (exceeded.field, "sign_digest" in exceeded.detail) == ("permissions", True)


def test_sign_digest_in_the_ceiling_can_be_self_granted() -> None:
    ceiling = replace(CEILING, permissions=(*CEILING.permissions, Permission.SIGN_DIGEST))
    assert beyond_ceiling(ceiling, asking_for("sign_digest")) is None
