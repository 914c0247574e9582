"""The hash-chained audit log, as a backend offers it.

Consistency contract (tests/store/contract/ checks it):
- Entries are appended in one total order (`seq` without gaps), each chained to the one before
  (`_audit.py`), whoever appends: two processes appending at once still make one valid chain.
- An entry that belongs to a change (the `audit` argument of a repository mutation, the
  ledger's `rpc.decision`) commits in the same transaction as the change; `append_audit` is
  for an action with no write of its own. Its place in the chain (`seq`, hashes) may be fixed
  after that commit (PostgreSQL chains committed events in a background batch, `_pg_audit`;
  SQLite chains inline), never before it, and an event is chained exactly once.
- `audit_entries` and `verify_audit` see every entry whose change committed before the call
  began; one committed meanwhile may be missing from what they return, never half there.
"""

from __future__ import annotations

from typing import Protocol

from ._audit import AuditEntry, AuditEvent, AuditVerdict


class AuditLog(Protocol):
    async def append_audit(self, event: AuditEvent, *, now_ms: int) -> None:
        """An audit entry for an action with no write of its own (an export, a view)."""
    async def audit_entries(self, *, workspace_id: str | None, subject: str | None = None,
                            after_seq: int = 0, limit: int = 1000) -> list[AuditEntry]: ...
    async def verify_audit(self) -> AuditVerdict:
        """Walk the whole chain and report the first entry that does not hold."""
