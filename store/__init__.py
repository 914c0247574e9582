"""Persistence: schema, migrations, repositories and the spend ledger (reserve/release).

Callers see the `Store` protocol and frozen records; which database is behind it is decided in
the composition root (`open_store`).
"""

from pathlib import Path

from ._errors import Conflict, NotFound, StoreError, StoreUnavailable
from ._interface import Evaluate, Store
from ._records import (
    Agent,
    CredentialOwner,
    NonceRequest,
    Reservation,
    ReservationStatus,
    Session,
    SessionFilter,
    SessionStatus,
    SessionType,
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
    "Agent",
    "Conflict",
    "CredentialOwner",
    "Evaluate",
    "NonceRequest",
    "NotFound",
    "Reservation",
    "ReservationStatus",
    "Session",
    "SessionFilter",
    "SessionStatus",
    "SessionType",
    "SqliteStore",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "UnbroadcastSend",
    "UnsettledSend",
    "Workspace",
    "new_id",
    "open_store",
]
