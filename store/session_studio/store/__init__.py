"""Persistence: schema, migrations, repositories and the spend ledger (reserve/release).

Callers see narrow protocols (`Ledger`, `SessionRepository`, `AdminRepository`, `AuditLog`,
`FleetReader`, ...; see `_interface.py`) and frozen records; which database is behind them is
decided in the composition root (`open_store`), which alone holds the whole `Store`.
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
from ._approval_records import (
    APPROVAL_EVENT_KINDS,
    Approval,
    ApprovalDraft,
    ApprovalEvent,
    ApprovalStatus,
    approval_event_body,
    approval_json,
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
from ._interface import (
    AdminRepository,
    ApprovalEvaluate,
    ApprovalLedger,
    ApprovalOutbox,
    ApprovalReader,
    ApprovalStore,
    AuditLog,
    CredentialResolver,
    Evaluate,
    FleetReader,
    Ledger,
    LedgerReader,
    Readiness,
    SessionRepository,
    SigningStore,
    Store,
    StoreLifecycle,
    UsageWriter,
)
from ._pg import PostgresStore
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
from ._rows import new_id
from ._sqlite import SqliteStore


def open_store(*, path: Path | None, url: str | None, pool_size: int = 10) -> Store:
    """The store for the configured database: PostgreSQL for a `url` (one ledger shared by
    replicas, at most `pool_size` connections from this process), else the SQLite file at
    `path`."""
    if url is not None:
        return PostgresStore(url, max_size=pool_size)
    if path is None:
        raise StoreUnavailable("database: expected a path or a url")
    return SqliteStore(path)


__all__ = [
    "APPROVAL_EVENT_KINDS",
    "MAX_LEDGER_NONCE",
    "Admin",
    "AdminLogin",
    "AdminRepository",
    "Agent",
    "AgentCeiling",
    "AgentDisabled",
    "ApiToken",
    "Approval",
    "ApprovalDraft",
    "ApprovalEvaluate",
    "ApprovalEvent",
    "ApprovalLedger",
    "ApprovalOutbox",
    "ApprovalReader",
    "ApprovalStatus",
    "ApprovalStore",
    "AuditEntry",
    "AuditEvent",
    "AuditLog",
    "AuditVerdict",
    "Challenge",
    "ChallengePurpose",
    "Conflict",
    "CredentialOwner",
    "CredentialResolver",
    "DecisionRecord",
    "Evaluate",
    "FleetAgent",
    "FleetReader",
    "FleetSession",
    "FleetSnapshot",
    "Ledger",
    "LedgerReader",
    "NonceGap",
    "NonceOutOfRange",
    "NonceRequest",
    "NotFound",
    "Passkey",
    "PostgresStore",
    "Readiness",
    "Reservation",
    "ReservationStatus",
    "Scope",
    "Session",
    "SessionFilter",
    "SessionRepository",
    "SessionStatus",
    "SessionType",
    "SessionUsage",
    "SetupLink",
    "SigningStore",
    "SqliteStore",
    "Store",
    "StoreError",
    "StoreLifecycle",
    "StoreUnavailable",
    "UnbroadcastSend",
    "UnsettledSend",
    "UsageWriter",
    "Workspace",
    "approval_event_body",
    "approval_json",
    "new_id",
    "open_store",
    "verify_chain",
]
