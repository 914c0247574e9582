"""The PostgreSQL `Store`: one pool and one lock order (`_pg_base`) behind every protocol.

Selected by `[database] url = "postgresql://..."`; N replicas share one database and behave as
one sidecar: every cap, window and nonce sequence is decided under row-scoped locks held in the
reserving transaction, never by a process-local one.
"""

from __future__ import annotations

from ._pg_admin import PgAdmin
from ._pg_fleet import PgFleet
from ._pg_ledger import PgLedger
from ._pg_outbox import PgOutbox
from ._pg_sessions import PgSessions


class PostgresStore(PgSessions, PgLedger, PgAdmin, PgFleet, PgOutbox):
    """`Store` on a PostgreSQL database (see `_pg_base` for the locks and their order)."""
