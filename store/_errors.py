"""Store errors: what callers may catch, without knowing which database is behind the store.

    StoreError
    ├── NotFound        the named workspace, agent or session does not exist (in that workspace)
    ├── Conflict        a unique name is taken, or the row changed state (already revoked)
    │   └── AgentDisabled   the agent was disabled: no new session, credential or reissue
    └── StoreUnavailable the database could not be reached or answered an error: fail closed
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
