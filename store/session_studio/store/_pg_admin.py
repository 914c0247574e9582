"""PostgreSQL: the admin plane's accounts (`AdminRepository`); the audit trail is `_pg_audit`.

Nothing here is on the signing path. Single-use rules (setup links, challenges) are enforced by
the UPDATE/DELETE that consumes them (one of two racing statements finds the row gone).
Invites and registrations of a workspace take a transaction-scoped advisory lock on its admin
names, so an invite cannot see free a name that a racing invite or registration is taking;
UNIQUE (workspace_id, name) guards registration itself.
"""

from __future__ import annotations

import json

import psycopg

from ._admin_records import (
    Admin,
    AdminLogin,
    ApiToken,
    Challenge,
    ChallengePurpose,
    Passkey,
    SetupLink,
)
from ._audit import AuditEvent
from ._errors import Conflict, NotFound
from ._pg_audit import PgAuditChain
from ._pg_base import Conn, fetch_one
from ._rows import admin_from_row, api_token_from_row, passkey_from_row

_ADMIN_NAMES_LOCK = 10  # advisory lock class of a workspace's admin names (admin plane only)


class PgAdmin(PgAuditChain):
    # -- setup links and challenges --------------------------------------------------------
    async def create_setup_link(self, link: SetupLink) -> None:
        async with self._transaction() as conn:
            await _insert_link(conn, link)

    async def invite_admin(self, link: SetupLink, *, now_ms: int,
                           audit: AuditEvent | None = None) -> None:
        async with self._transaction() as conn:
            await _lock_admin_names(conn, link.workspace_id)
            taken = await fetch_one(conn, "SELECT 1 AS taken FROM admins"
                                          " WHERE workspace_id = %s AND name = %s",
                                    (link.workspace_id, link.admin_name))
            if taken is not None:
                raise Conflict(f"an admin named {link.admin_name!r} already exists")
            await _insert_link(conn, link)
            await self._append_audit(conn, audit, now_ms)

    async def setup_link(self, token_hash: bytes, *, now_ms: int) -> SetupLink | None:
        row = await self._read_one(
            "SELECT * FROM setup_links WHERE token_hash = %s AND used_at IS NULL"
            " AND expires_at > %s", (token_hash, now_ms))
        if row is None:
            return None
        return SetupLink(token_hash=row["token_hash"], workspace_id=row["workspace_id"],
                         admin_name=row["admin_name"], created_at_ms=row["created_at"],
                         expires_at_ms=row["expires_at"])

    async def save_challenge(self, challenge: Challenge, *, now_ms: int) -> None:
        async with self._transaction() as conn:
            # Expired challenges are garbage: sweep them on the way.
            await conn.execute("DELETE FROM webauthn_challenges WHERE expires_at <= %s",
                               (now_ms,))
            await conn.execute(
                "INSERT INTO webauthn_challenges VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (challenge.id, challenge.purpose.value, challenge.challenge,
                 challenge.workspace_id, challenge.admin_id, challenge.setup_hash,
                 challenge.admin_name, challenge.user_handle, challenge.expires_at_ms))

    async def take_challenge(self, challenge_id: str, purpose: ChallengePurpose, *,
                             now_ms: int) -> Challenge | None:
        """Consume a challenge: it is deleted whether or not the assertion later verifies."""
        async with self._transaction() as conn:
            row = await fetch_one(conn, "DELETE FROM webauthn_challenges WHERE id = %s"
                                        " RETURNING *", (challenge_id,))
        if row is None or row["purpose"] != purpose.value or row["expires_at"] <= now_ms:
            return None
        return Challenge(
            id=row["id"], purpose=ChallengePurpose(row["purpose"]),
            challenge=row["challenge"], expires_at_ms=row["expires_at"],
            workspace_id=row["workspace_id"], admin_id=row["admin_id"],
            setup_hash=row["setup_hash"], admin_name=row["admin_name"],
            user_handle=row["user_handle"])

    # -- admins and passkeys ---------------------------------------------------------------
    async def register_admin(self, admin: Admin, passkey: Passkey, *, setup_hash: bytes,
                             now_ms: int, audit: AuditEvent | None = None) -> None:
        try:
            async with self._transaction() as conn:
                await _lock_admin_names(conn, admin.workspace_id)
                cur = await conn.execute(
                    "UPDATE setup_links SET used_at = %s WHERE token_hash = %s"
                    " AND used_at IS NULL AND expires_at > %s AND workspace_id = %s",
                    (now_ms, setup_hash, now_ms, admin.workspace_id))
                if cur.rowcount != 1:
                    raise Conflict("the setup link was already used or has expired")
                await conn.execute("INSERT INTO admins VALUES (%s, %s, %s, %s, %s)",
                                   (admin.id, admin.workspace_id, admin.name,
                                    admin.user_handle, admin.created_at_ms))
                await _insert_passkey(conn, passkey)
                await self._append_audit(conn, audit, now_ms)
        except psycopg.errors.UniqueViolation as exc:
            raise Conflict(f"an admin named {admin.name!r} already exists") from exc

    async def get_admin(self, admin_id: str) -> Admin:
        row = await self._read_one("SELECT * FROM admins WHERE id = %s", (admin_id,))
        if row is None:
            raise NotFound(f"no admin {admin_id}")
        return admin_from_row(row)

    async def list_admins(self, workspace_id: str) -> list[Admin]:
        rows = await self._read_all(
            "SELECT * FROM admins WHERE workspace_id = %s ORDER BY created_at", (workspace_id,))
        return [admin_from_row(r) for r in rows]

    async def add_passkey(self, passkey: Passkey, *, audit: AuditEvent | None = None) -> None:
        try:
            async with self._transaction() as conn:
                await _insert_passkey(conn, passkey)
                await self._append_audit(conn, audit, passkey.created_at_ms)
        except psycopg.errors.UniqueViolation as exc:
            raise Conflict("this passkey is already registered") from exc

    async def get_passkey(self, credential_id: bytes) -> Passkey | None:
        row = await self._read_one("SELECT * FROM passkeys WHERE credential_id = %s",
                                   (credential_id,))
        return None if row is None else passkey_from_row(row)

    async def passkeys_of(self, admin_id: str) -> list[Passkey]:
        rows = await self._read_all(
            "SELECT * FROM passkeys WHERE admin_id = %s ORDER BY created_at", (admin_id,))
        return [passkey_from_row(r) for r in rows]

    async def record_assertion(self, credential_id: bytes, *, sign_count: int,
                               now_ms: int) -> None:
        async with self._transaction() as conn:
            # Only forward: two assertions verified concurrently must not lower the count.
            await conn.execute(
                "UPDATE passkeys SET sign_count = GREATEST(sign_count, %s), last_used_at = %s"
                " WHERE credential_id = %s", (sign_count, now_ms, credential_id))

    # -- browser logins --------------------------------------------------------------------
    async def create_login(self, login: AdminLogin, *, audit: AuditEvent | None = None) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO admin_logins VALUES (%s, %s, %s, %s, %s, %s, %s, NULL)",
                (login.token_hash, login.admin_id, login.workspace_id, login.created_at_ms,
                 login.expires_at_ms, login.last_assertion_at_ms, login.passkey_id))
            await self._append_audit(conn, audit, login.created_at_ms)

    async def get_login(self, token_hash: bytes, *, now_ms: int) -> AdminLogin | None:
        row = await self._read_one(
            "SELECT * FROM admin_logins WHERE token_hash = %s AND revoked_at IS NULL"
            " AND expires_at > %s", (token_hash, now_ms))
        if row is None:
            return None
        return AdminLogin(token_hash=row["token_hash"], admin_id=row["admin_id"],
                          workspace_id=row["workspace_id"], created_at_ms=row["created_at"],
                          expires_at_ms=row["expires_at"],
                          last_assertion_at_ms=row["last_assertion_at"],
                          passkey_id=row["passkey_id"])

    async def refresh_assertion(self, token_hash: bytes, *, now_ms: int) -> None:
        async with self._transaction() as conn:
            await conn.execute("UPDATE admin_logins SET last_assertion_at = %s"
                               " WHERE token_hash = %s", (now_ms, token_hash))

    async def end_login(self, token_hash: bytes, *, now_ms: int,
                        audit: AuditEvent | None = None) -> None:
        async with self._transaction() as conn:
            await conn.execute("UPDATE admin_logins SET revoked_at = %s WHERE token_hash = %s"
                               " AND revoked_at IS NULL", (now_ms, token_hash))
            await self._append_audit(conn, audit, now_ms)

    # -- admin API tokens ------------------------------------------------------------------
    async def create_api_token(self, token: ApiToken, *, token_hash: bytes,
                               audit: AuditEvent | None = None) -> None:
        try:
            async with self._transaction() as conn:
                await conn.execute(
                    "INSERT INTO api_tokens VALUES (%s, %s, %s, %s, %s, %s, %s, %s, NULL, NULL)",
                    (token.id, token.workspace_id, token.name, token_hash,
                     json.dumps([s.value for s in token.scopes]), token.created_by,
                     token.created_at_ms, token.expires_at_ms))
                await self._append_audit(conn, audit, token.created_at_ms)
        except psycopg.errors.UniqueViolation as exc:  # pragma: no cover - 256-bit collision
            raise Conflict("token collision, try again") from exc

    async def resolve_api_token(self, token_hash: bytes, *, now_ms: int) -> ApiToken | None:
        row = await self._read_one("SELECT * FROM api_tokens WHERE token_hash = %s",
                                   (token_hash,))
        if row is None:
            return None
        token = api_token_from_row(row)
        return token if token.active(now_ms) else None

    async def list_api_tokens(self, workspace_id: str) -> list[ApiToken]:
        rows = await self._read_all(
            "SELECT * FROM api_tokens WHERE workspace_id = %s ORDER BY created_at DESC, id",
            (workspace_id,))
        return [api_token_from_row(r) for r in rows]

    async def revoke_api_token(self, workspace_id: str, token_id: str, *, now_ms: int,
                               audit: AuditEvent | None = None) -> ApiToken:
        async with self._transaction() as conn:
            row = await fetch_one(conn, "SELECT * FROM api_tokens WHERE id = %s"
                                        " AND workspace_id = %s FOR UPDATE",
                                  (token_id, workspace_id))
            if row is None:
                raise NotFound(f"no token {token_id}")
            if row["revoked_at"] is not None:
                raise Conflict(f"token {token_id} is already revoked")
            await conn.execute("UPDATE api_tokens SET revoked_at = %s WHERE id = %s",
                               (now_ms, token_id))
            await self._append_audit(conn, audit, now_ms)
            return api_token_from_row({**row, "revoked_at": now_ms})


async def _lock_admin_names(conn: Conn, workspace_id: str) -> None:
    """Invites and registrations of one workspace, one at a time."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                       (_ADMIN_NAMES_LOCK, workspace_id))


async def _insert_link(conn: Conn, link: SetupLink) -> None:
    await conn.execute("INSERT INTO setup_links VALUES (%s, %s, %s, %s, %s, NULL)",
                       (link.token_hash, link.workspace_id, link.admin_name,
                        link.created_at_ms, link.expires_at_ms))


async def _insert_passkey(conn: Conn, p: Passkey) -> None:
    await conn.execute("INSERT INTO passkeys VALUES (%s, %s, %s, %s, %s, %s, NULL)",
                       (p.credential_id, p.admin_id, p.public_key, p.sign_count,
                        int(p.backed_up), p.created_at_ms))

