"""Store errors: what callers may catch, without knowing which database is behind the store.

    StoreError
    ├── NotFound        the named workspace, agent or session does not exist (in that workspace)
    ├── Conflict        a unique name is taken, or the row changed state (already revoked)
    │   └── AgentDisabled   the agent was disabled: no new session, credential or reissue
    ├── StoreUnavailable the database could not be reached or answered an error: fail closed
    ├── NonceOutOfRange  a nonce beyond what the ledger records (MAX_LEDGER_NONCE): not signed
    └── NonceGap         a client's nonce past the signer's next one: not signed
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of every store failure."""


class NotFound(StoreError):
    """No such row in the caller's workspace."""


class Conflict(StoreError):
    """The change contradicts the current state (duplicate name, already revoked)."""


class AgentDisabled(Conflict):
    """The agent was disabled (`agents disable`): it gets nothing new, ever."""


class StoreUnavailable(StoreError):
    """The database failed; nothing that depends on it may be signed."""


class NonceOutOfRange(StoreError):
    """The nonce to sign with exceeds MAX_LEDGER_NONCE; the reserving transaction rolled back."""


class NonceGap(StoreError):
    """A client's explicit nonce lies past the signer's next nonce; nothing was signed.

    A transaction behind a gap waits in the node's queue and lands whenever the gap is filled,
    which the session holder controls: days later, outside the spend window it was counted in,
    together with others held back the same way (POLICY.md catalogue 15). So the ledger never
    signs one; the next nonce, or one already counted (a replacement), is always allowed.
    """

    def __init__(self, nonce: int, next_nonce: int) -> None:
        super().__init__(f"nonce {nonce} would leave a gap: this account's next nonce is "
                         f"{next_nonce}")
        self.nonce = nonce
        self.next_nonce = next_nonce
