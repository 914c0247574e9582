"""Reading the audit trail: what the CLI exports and verifies and the admin API pages through.

Writes never come through here: each change appends its own entry in its own transaction
(the services pass an `AuditEvent` to the store), so no entry can exist without its change.
"""

from __future__ import annotations

from session_studio.store import AuditEntry, AuditVerdict, Store


class AuditTrail:
    def __init__(self, *, store: Store) -> None:
        self._store = store

    async def entries(self, *, workspace_id: str | None, subject: str | None = None,
                      after_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """Oldest first, after `after_seq`; every workspace when `workspace_id` is None."""
        return await self._store.audit_entries(workspace_id=workspace_id, subject=subject,
                                               after_seq=after_seq, limit=limit)

    async def verify(self) -> AuditVerdict:
        """Walk the whole hash chain and report the first entry that does not hold."""
        return await self._store.verify_audit()
