"""Persistence: schema, migrations, repositories and the spend ledger (reserve/release).

Callers see the `Store` protocol and frozen records; which database is behind it is decided in
the composition root (`open_store`).
"""

from pathlib import Path

from ._admin_records import (
    Admin,
    AdminLogin,
    ApiToken,
    Challenge,
    ChallengePurpose,
    DecisionRecord,
    Passkey,
    Scope,
    SetupLink,
)
from ._audit import AuditEntry, AuditEvent, AuditVerdict, verify_chain
from ._errors import (
    AgentDisabled,
    Conflict,
    NonceGap,
    NonceOutOfRange,
    NotFound,
    StoreError,
    StoreUnavailable,
)
from ._interface import Evaluate, Store
from ._records import (
    MAX_LEDGER_NONCE,
    Agent,
    AgentCeiling,
    CredentialOwner,
    FleetAgent,
    FleetSession,
    FleetSnapshot,
    NonceRequest,
    Reservation,
    ReservationStatus,
    Session,
    SessionFilter,
    SessionStatus,
    SessionType,
    SessionUsage,
    UnbroadcastSend,
    UnsettledSend,
    Workspace,
)
from ._sqlite import SqliteStore, new_id


def open_store(*, path: Path | None, url: str | None) -> Store:
    """The store for the configured database; PostgreSQL (`url`) arrives with replicas."""
    if url is not None:
        raise StoreUnavailable("database.url (PostgreSQL) is not supported yet; use database.path")
    assert path is not None
    return SqliteStore(path)


__all__ = [
    "MAX_LEDGER_NONCE",
    "Admin",
    "AdminLogin",
    "Agent",
    "AgentCeiling",
    "AgentDisabled",
    "ApiToken",
    "AuditEntry",
    "AuditEvent",
    "AuditVerdict",
    "Challenge",
    "ChallengePurpose",
    "Conflict",
    "CredentialOwner",
    "DecisionRecord",
    "Evaluate",
    "FleetAgent",
    "FleetSession",
    "FleetSnapshot",
    "NonceGap",
    "NonceOutOfRange",
    "NonceRequest",
    "NotFound",
    "Passkey",
    "Reservation",
    "ReservationStatus",
    "Scope",
    "Session",
    "SessionFilter",
    "SessionStatus",
    "SessionType",
    "SessionUsage",
    "SetupLink",
    "SqliteStore",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "UnbroadcastSend",
    "UnsettledSend",
    "Workspace",
    "new_id",
    "open_store",
    "verify_chain",
]
