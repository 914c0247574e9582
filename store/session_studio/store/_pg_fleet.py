"""PostgreSQL: what observability reads and writes (`FleetReader`, `UsageWriter`).

Plain autocommit reads, no transaction: a metrics snapshot may mix states a few milliseconds
apart and never holds a lock a signature needs. Usage batches only move `last_used_at` forward.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._pg_base import MINUTE_MS, PgBase
from ._records import (
    FleetAgent,
    FleetSession,
    FleetSnapshot,
    SessionStatus,
    SessionType,
    SessionUsage,
)
from ._rows import FLEET_AGENTS, FLEET_SPEND_OF_BUDGETS, FLEET_SPEND_WITH_ACTIVE, pg

_SPEND_OF_BUDGETS = pg(FLEET_SPEND_OF_BUDGETS)
_SPEND_WITH_ACTIVE = pg(FLEET_SPEND_WITH_ACTIVE)


class PgFleet(PgBase):
    async def fleet_snapshot(
        self, *, now_ms: int, window_start_ms: int, denials_since_ms: int, per_session: bool,
    ) -> FleetSnapshot:
        counts: dict[tuple[SessionType, SessionStatus], int] = {}
        for r in await self._read_all(
                "SELECT type, CASE WHEN revoked_at IS NOT NULL THEN 'revoked'"
                " WHEN expires_at <= %s THEN 'expired' ELSE 'active' END AS status,"
                " COUNT(*) AS n FROM sessions GROUP BY 1, 2", (now_ms,)):
            counts[SessionType(r["type"]), SessionStatus(r["status"])] = int(r["n"])
        spent: dict[str, int] = {}
        for r in await self._read_all(
                _SPEND_WITH_ACTIVE if per_session else _SPEND_OF_BUDGETS,
                (window_start_ms // MINUTE_MS, now_ms) if per_session
                else (window_start_ms // MINUTE_MS,)):
            spent[r["lineage_id"]] = spent.get(r["lineage_id"], 0) + int(r["amount"])
        budgets: dict[tuple[str, str], int] = {}
        agent_spend: dict[tuple[str, str], int] = {}
        for r in await self._read_all(FLEET_AGENTS, ()):
            key = (r["workspace"], r["name"])
            budgets[key] = int(r["daily_budget"])
            agent_spend[key] = agent_spend.get(key, 0) + spent.get(r["lineage_id"], 0)
        agents = tuple(FleetAgent(workspace=workspace, name=name, daily_budget=budget,
                                  spent_in_window=agent_spend[workspace, name])
                       for (workspace, name), budget in budgets.items())
        sessions: tuple[FleetSession, ...] = ()
        if per_session:
            sessions = tuple(
                FleetSession(
                    key_hash=r["key_hash"], workspace=r["workspace"],
                    type=SessionType(r["type"]), label=r["label"], agent_name=r["agent_name"],
                    limit_unit=r["limit_unit"], daily_limit=int(r["daily_limit"]),
                    spent_in_window=spent.get(r["lineage_id"], 0),
                    recent_denials=int(r["denials"]), request_count=int(r["request_count"]),
                    last_used_at_ms=r["last_used_at"], created_at_ms=r["created_at"],
                    expires_at_ms=r["expires_at"])
                for r in await self._read_all(
                    "SELECT s.key_hash, w.name AS workspace, s.type, s.label,"
                    " a.name AS agent_name, s.limit_unit, s.daily_limit, s.lineage_id,"
                    " s.request_count, s.last_used_at, s.created_at, s.expires_at,"
                    " (SELECT COUNT(*) FROM decisions d"
                    " WHERE d.session_id = s.id AND d.at >= %s AND d.allowed = 0) AS denials"
                    " FROM sessions s JOIN workspaces w ON w.id = s.workspace_id"
                    " LEFT JOIN agents a ON a.id = s.agent_id"
                    " WHERE s.revoked_at IS NULL AND s.expires_at > %s"
                    " ORDER BY s.created_at, s.id", (denials_since_ms, now_ms)))
        return FleetSnapshot(taken_at_ms=now_ms, session_counts=counts, sessions=sessions,
                             agents=agents)

    async def record_usage(self, batch: Sequence[SessionUsage]) -> None:
        if not batch:
            return
        async with self._transaction() as conn, conn.cursor() as cur:
            await cur.executemany(
                "UPDATE sessions SET request_count = request_count + %s,"
                " last_used_at = GREATEST(COALESCE(last_used_at, 0), %s) WHERE id = %s",
                # In id order: two batches (two replicas) lock their rows in one order.
                [(u.requests, u.last_used_at_ms, u.session_id)
                 for u in sorted(batch, key=lambda u: u.session_id)])
