"""The store's interfaces: narrow protocols a backend implements one by one, and their unions.

Policy and the planes depend on these, never on SQLite. Each consumer is typed with the
narrowest protocol it uses; `Store` (every protocol) is for the composition root, which opens
one backend and hands each part of the house its slice:

    Readiness, StoreLifecycle   open / close / ping                  (this module)
    Ledger, LedgerReader        reserve_and_sign ... settle, reads   (_ledger_interface.py)
    CredentialResolver,         credentials, workspaces, agents,     (_session_interface.py)
      SessionRepository           sessions
    AdminRepository             setup links, passkeys, logins,       (_admin_interface.py)
                                  API tokens
    AuditLog                    append, read, verify the chain       (_audit_interface.py)
    ApprovalStore               held requests, their decisions, the  (_approval_interface.py)
      (Ledger, Reader, Outbox)    webhook outbox
    FleetReader, UsageWriter  the metrics snapshot, usage counts   (_fleet_interface.py)

Each protocol's module states its consistency contract; tests/store/contract/ is the suite
every backend passes. The protocols share one database on purpose: a session's revoke and the
ledger's reservation take the same lock, and every change commits with its audit row, so a
backend implements them over one transaction manager rather than as separate services.
"""

from __future__ import annotations

from typing import Protocol

from ._admin_interface import AdminRepository
from ._approval_interface import (
    ApprovalEvaluate,
    ApprovalLedger,
    ApprovalOutbox,
    ApprovalReader,
    ApprovalStore,
)
from ._audit_interface import AuditLog
from ._fleet_interface import FleetReader, UsageWriter
from ._ledger_interface import Clock, Evaluate, Ledger, LedgerReader, Sign
from ._session_interface import CredentialResolver, SessionRepository


class Readiness(Protocol):
    async def ping(self) -> None:
        """Raise StoreUnavailable unless a trivial query succeeds (readiness)."""


class StoreLifecycle(Readiness, Protocol):
    async def open(self) -> None:
        """Connect and apply pending migrations."""

    async def close(self) -> None: ...


class SigningStore(Readiness, CredentialResolver, Ledger, ApprovalLedger, ApprovalReader,
                   Protocol):
    """What the RPC plane needs: resolve a credential, reserve and sign (or hold), settle,
    and sign what a person approved."""


class Store(StoreLifecycle, SessionRepository, Ledger, AdminRepository, AuditLog, FleetReader,
            UsageWriter, ApprovalStore, Protocol):
    """The whole store, for the composition root (`open_store`) and the service layer."""


__all__ = [
    "AdminRepository",
    "ApprovalEvaluate",
    "ApprovalLedger",
    "ApprovalOutbox",
    "ApprovalReader",
    "ApprovalStore",
    "AuditLog",
    "Clock",
    "CredentialResolver",
    "Evaluate",
    "FleetReader",
    "Ledger",
    "LedgerReader",
    "Readiness",
    "SessionRepository",
    "Sign",
    "SigningStore",
    "Store",
    "StoreLifecycle",
    "UsageWriter",
]
