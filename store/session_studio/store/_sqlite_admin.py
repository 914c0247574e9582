"""SQLite side of the admin plane, as a mixin of `SqliteStore` (same writer thread and reader).

Kept apart from the ledger: nothing here is on the signing path, and each method is one small
transaction. Single-use rules (setup links, challenges) are enforced by the UPDATE/DELETE that
consumes them, so two racing requests cannot both redeem one.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from . import _audit as audit
from ._admin_records import (
    Admin,
    AdminLogin,
    ApiToken,
    Challenge,
    ChallengePurpose,
    DecisionRecord,
    Passkey,
    SetupLink,
)
from ._audit import AuditEntry, AuditEvent, AuditVerdict
from ._errors import Conflict, NotFound
from ._rows import admin_from_row, api_token_from_row, audit_page_query, passkey_from_row

R = TypeVar("R")


class AdminTables:
    if TYPE_CHECKING:
        async def _transaction(self, fn: Callable[[sqlite3.Connection], R]) -> R: ...
        async def _read_one(self, sql: str, args: Sequence[Any]) -> Any: ...
        async def _read_all(self, sql: str, args: Sequence[Any]) -> list[Any]: ...

    # -- setup links and challenges --------------------------------------------------------
    async def create_setup_link(self, link: SetupLink) -> None:
        await self._transaction(lambda db: db.execute(
            "INSERT INTO setup_links VALUES (?, ?, ?, ?, ?, NULL)",
            (link.token_hash, link.workspace_id, link.admin_name, link.created_at_ms,
             link.expires_at_ms)))

    async def invite_admin(self, link: SetupLink, *, now_ms: int,
                           audit: AuditEvent | None = None) -> None:
        """Issue a setup link for a new admin name, with its audit row, in one transaction.

        The name check runs inside the writing transaction (BEGIN IMMEDIATE: no other write
        interleaves), so two racing invites, or an invite racing a registration, cannot both
        see the name free; registration itself stays guarded by UNIQUE (workspace_id, name)."""
        def invite(db: sqlite3.Connection) -> None:
            taken = db.execute("SELECT 1 FROM admins WHERE workspace_id = ? AND name = ?",
                               (link.workspace_id, link.admin_name)).fetchone()
            if taken is not None:
                raise Conflict(f"an admin named {link.admin_name!r} already exists")
            db.execute("INSERT INTO setup_links VALUES (?, ?, ?, ?, ?, NULL)",
                       (link.token_hash, link.workspace_id, link.admin_name,
                        link.created_at_ms, link.expires_at_ms))
            _audit(db, audit, now_ms)

        await self._transaction(invite)

    async def setup_link(self, token_hash: bytes, *, now_ms: int) -> SetupLink | None:
        """The link if it exists, is unused and has not expired."""
        row = await self._read_one(
            "SELECT * FROM setup_links WHERE token_hash = ? AND used_at IS NULL"
            " AND expires_at > ?", (token_hash, now_ms))
        if row is None:
            return None
        return SetupLink(token_hash=row["token_hash"], workspace_id=row["workspace_id"],
                         admin_name=row["admin_name"], created_at_ms=row["created_at"],
                         expires_at_ms=row["expires_at"])

    async def save_challenge(self, challenge: Challenge, *, now_ms: int) -> None:
        def save(db: sqlite3.Connection) -> None:
            # Expired challenges are garbage: sweep them on the way.
            db.execute("DELETE FROM webauthn_challenges WHERE expires_at <= ?", (now_ms,))
            db.execute(
                "INSERT INTO webauthn_challenges VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (challenge.id, challenge.purpose.value, challenge.challenge,
                 challenge.workspace_id, challenge.admin_id, challenge.setup_hash,
                 challenge.admin_name, challenge.user_handle, challenge.expires_at_ms))

        await self._transaction(save)

    async def take_challenge(self, challenge_id: str, purpose: ChallengePurpose, *,
                             now_ms: int) -> Challenge | None:
        """Consume a challenge: it is deleted whether or not the assertion later verifies."""
        def take(db: sqlite3.Connection) -> Challenge | None:
            row = db.execute(
                "DELETE FROM webauthn_challenges WHERE id = ? RETURNING *",
                (challenge_id,)).fetchone()
            if row is None or row["purpose"] != purpose.value or row["expires_at"] <= now_ms:
                return None
            return Challenge(
                id=row["id"], purpose=ChallengePurpose(row["purpose"]),
                challenge=row["challenge"], expires_at_ms=row["expires_at"],
                workspace_id=row["workspace_id"], admin_id=row["admin_id"],
                setup_hash=row["setup_hash"], admin_name=row["admin_name"],
                user_handle=row["user_handle"])

        return await self._transaction(take)

    # -- admins and passkeys ---------------------------------------------------------------
    async def register_admin(self, admin: Admin, passkey: Passkey, *, setup_hash: bytes,
                             now_ms: int, audit: AuditEvent | None = None) -> None:
        """Redeem the setup link, create the admin and store its first passkey, atomically."""
        def register(db: sqlite3.Connection) -> None:
            cur = db.execute(
                "UPDATE setup_links SET used_at = ? WHERE token_hash = ? AND used_at IS NULL"
                " AND expires_at > ? AND workspace_id = ?",
                (now_ms, setup_hash, now_ms, admin.workspace_id))
            if cur.rowcount != 1:
                raise Conflict("the setup link was already used or has expired")
            try:
                db.execute("INSERT INTO admins VALUES (?, ?, ?, ?, ?)",
                           (admin.id, admin.workspace_id, admin.name, admin.user_handle,
                            admin.created_at_ms))
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"an admin named {admin.name!r} already exists") from exc
            _insert_passkey(db, passkey)
            _audit(db, audit, now_ms)

        await self._transaction(register)

    async def get_admin(self, admin_id: str) -> Admin:
        row = await self._read_one("SELECT * FROM admins WHERE id = ?", (admin_id,))
        if row is None:
            raise NotFound(f"no admin {admin_id}")
        return admin_from_row(row)

    async def list_admins(self, workspace_id: str) -> list[Admin]:
        rows = await self._read_all(
            "SELECT * FROM admins WHERE workspace_id = ? ORDER BY created_at", (workspace_id,))
        return [admin_from_row(r) for r in rows]

    async def add_passkey(self, passkey: Passkey, *, audit: AuditEvent | None = None) -> None:
        def add(db: sqlite3.Connection) -> None:
            _insert_passkey(db, passkey)
            _audit(db, audit, passkey.created_at_ms)

        try:
            await self._transaction(add)
        except sqlite3.IntegrityError as exc:
            raise Conflict("this passkey is already registered") from exc

    async def get_passkey(self, credential_id: bytes) -> Passkey | None:
        row = await self._read_one("SELECT * FROM passkeys WHERE credential_id = ?",
                                   (credential_id,))
        return None if row is None else passkey_from_row(row)

    async def passkeys_of(self, admin_id: str) -> list[Passkey]:
        rows = await self._read_all(
            "SELECT * FROM passkeys WHERE admin_id = ? ORDER BY created_at", (admin_id,))
        return [passkey_from_row(r) for r in rows]

    async def record_assertion(self, credential_id: bytes, *, sign_count: int,
                               now_ms: int) -> None:
        await self._transaction(lambda db: db.execute(
            # Only forward: two assertions verified concurrently must not lower the stored count
            # (which would let a replayed or cloned counter pass later).
            "UPDATE passkeys SET sign_count = MAX(sign_count, ?), last_used_at = ?"
            " WHERE credential_id = ?",
            (sign_count, now_ms, credential_id)))

    # -- browser logins --------------------------------------------------------------------
    async def create_login(self, login: AdminLogin, *, audit: AuditEvent | None = None) -> None:
        def create(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO admin_logins VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                (login.token_hash, login.admin_id, login.workspace_id, login.created_at_ms,
                 login.expires_at_ms, login.last_assertion_at_ms, login.passkey_id))
            _audit(db, audit, login.created_at_ms)

        await self._transaction(create)

    async def get_login(self, token_hash: bytes, *, now_ms: int) -> AdminLogin | None:
        row = await self._read_one(
            "SELECT * FROM admin_logins WHERE token_hash = ? AND revoked_at IS NULL"
            " AND expires_at > ?", (token_hash, now_ms))
        if row is None:
            return None
        return AdminLogin(token_hash=row["token_hash"], admin_id=row["admin_id"],
                          workspace_id=row["workspace_id"], created_at_ms=row["created_at"],
                          expires_at_ms=row["expires_at"],
                          last_assertion_at_ms=row["last_assertion_at"],
                          passkey_id=row["passkey_id"])

    async def refresh_assertion(self, token_hash: bytes, *, now_ms: int) -> None:
        await self._transaction(lambda db: db.execute(
            "UPDATE admin_logins SET last_assertion_at = ? WHERE token_hash = ?",
            (now_ms, token_hash)))

    async def end_login(self, token_hash: bytes, *, now_ms: int,
                        audit: AuditEvent | None = None) -> None:
        def end(db: sqlite3.Connection) -> None:
            db.execute("UPDATE admin_logins SET revoked_at = ? WHERE token_hash = ?"
                       " AND revoked_at IS NULL", (now_ms, token_hash))
            _audit(db, audit, now_ms)

        await self._transaction(end)

    # -- admin API tokens ------------------------------------------------------------------
    async def create_api_token(self, token: ApiToken, *, token_hash: bytes,
                               audit: AuditEvent | None = None) -> None:
        def create(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO api_tokens VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                (token.id, token.workspace_id, token.name, token_hash,
                 json.dumps([s.value for s in token.scopes]), token.created_by,
                 token.created_at_ms, token.expires_at_ms))
            _audit(db, audit, token.created_at_ms)

        try:
            await self._transaction(create)
        except sqlite3.IntegrityError as exc:  # pragma: no cover - 256-bit collision
            raise Conflict("token collision, try again") from exc

    async def resolve_api_token(self, token_hash: bytes, *, now_ms: int) -> ApiToken | None:
        row = await self._read_one("SELECT * FROM api_tokens WHERE token_hash = ?",
                                   (token_hash,))
        if row is None:
            return None
        token = api_token_from_row(row)
        return token if token.active(now_ms) else None

    async def list_api_tokens(self, workspace_id: str) -> list[ApiToken]:
        rows = await self._read_all(
            "SELECT * FROM api_tokens WHERE workspace_id = ? ORDER BY created_at DESC, id",
            (workspace_id,))
        return [api_token_from_row(r) for r in rows]

    async def revoke_api_token(self, workspace_id: str, token_id: str, *, now_ms: int,
                               audit: AuditEvent | None = None) -> ApiToken:
        def revoke(db: sqlite3.Connection) -> ApiToken:
            row = db.execute("SELECT * FROM api_tokens WHERE id = ? AND workspace_id = ?",
                             (token_id, workspace_id)).fetchone()
            if row is None:
                raise NotFound(f"no token {token_id}")
            if row["revoked_at"] is not None:
                raise Conflict(f"token {token_id} is already revoked")
            db.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", (now_ms, token_id))
            _audit(db, audit, now_ms)
            return api_token_from_row({**dict(row), "revoked_at": now_ms})

        return await self._transaction(revoke)

    # -- what sessions did -----------------------------------------------------------------
    async def recent_decisions(self, session_id: str, *, limit: int) -> list[DecisionRecord]:
        rows = await self._read_all(
            "SELECT d.at, d.method, d.allowed, d.reason, d.detail, d.cost, r.tx_hash"
            " FROM decisions d LEFT JOIN reservations r ON r.id = d.reservation_id"
            " WHERE d.session_id = ? ORDER BY d.at DESC, d.id DESC LIMIT ?",
            (session_id, limit))
        return [DecisionRecord(at_ms=r["at"], method=r["method"], allowed=bool(r["allowed"]),
                               reason=r["reason"], detail=r["detail"], cost=int(r["cost"]),
                               tx_hash=r["tx_hash"]) for r in rows]

    async def spend_by_hour(self, lineage_ids: Sequence[str], *,
                            since_ms: int) -> dict[int, int]:
        """Spend of these lineages per hour (start of the hour, unix ms -> unit atoms),
        summed in Python: amounts are TEXT integers beyond SQLite's 64 bits."""
        if not lineage_ids:
            return {}
        marks = ",".join("?" * len(lineage_ids))
        rows = await self._read_all(
            f"SELECT minute, amount FROM spend_buckets WHERE lineage_id IN ({marks})"  # noqa: S608 - placeholders only
            " AND minute >= ?", (*lineage_ids, since_ms // 60_000))
        hours: dict[int, int] = {}
        for r in rows:
            hour = r["minute"] // 60 * 3_600_000
            hours[hour] = hours.get(hour, 0) + int(r["amount"])
        return hours

    # -- the audit trail -------------------------------------------------------------------
    async def append_audit(self, event: AuditEvent, *, now_ms: int) -> None:
        await self._transaction(lambda db: audit.append(db, event, now_ms=now_ms))

    async def audit_entries(self, *, workspace_id: str | None, subject: str | None = None,
                            after_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        sql, args = audit_page_query(workspace_id=workspace_id, subject=subject,
                                     after_seq=after_seq, limit=limit)
        return [audit.entry_from_row(r) for r in await self._read_all(sql, args)]

    async def verify_audit(self) -> AuditVerdict:
        """Check the whole chain, page by page (it can be long)."""
        async def pages() -> list[AuditEntry]:
            out: list[AuditEntry] = []
            after = 0
            while True:
                page = await self.audit_entries(workspace_id=None, after_seq=after,
                                                limit=5000)
                if not page:
                    return out
                out.extend(page)
                after = page[-1].seq

        return audit.verify_chain(await pages())


def _audit(db: sqlite3.Connection, event: AuditEvent | None, now_ms: int) -> None:
    if event is not None:
        audit.append(db, event, now_ms=now_ms)


def _insert_passkey(db: sqlite3.Connection, p: Passkey) -> None:
    db.execute("INSERT INTO passkeys VALUES (?, ?, ?, ?, ?, ?, NULL)",
               (p.credential_id, p.admin_id, p.public_key, p.sign_count, int(p.backed_up),
                p.created_at_ms))
