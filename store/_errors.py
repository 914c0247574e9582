"""Store errors: what callers may catch, without knowing which database is behind the store.

    StoreError
    ├── NotFound        the named workspace, agent or session does not exist (in that workspace)
    ├── Conflict        a unique name is taken, or the row changed state (already revoked)
    ├── StoreUnavailable the database could not be reached or answered an error: fail closed
    └── NonceOutOfRange  a nonce beyond what the ledger records (MAX_LEDGER_NONCE): not signed
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of every store failure."""


class NotFound(StoreError):
    """No such row in the caller's workspace."""


class Conflict(StoreError):
    """The change contradicts the current state (duplicate name, already revoked)."""


class StoreUnavailable(StoreError):
    """The database failed; nothing that depends on it may be signed."""


class NonceOutOfRange(StoreError):
    """The nonce to sign with exceeds MAX_LEDGER_NONCE; the reserving transaction rolled back."""
