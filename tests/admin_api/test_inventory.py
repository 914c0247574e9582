"""The inventory: cursor pagination through every sort, the filters, and bulk revoke."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import LOCAL_CHAIN, SECOND_CHAIN, AdminPlane, Bearer

SORTS = ["created", "-created", "last_used", "-last_used", "expiry", "-expiry"]
DAY_S = 86400


async def _seven_sessions(admin: AdminPlane) -> list[dict[str, Any]]:
    """Seven sessions whose creation, last use and expiry orders all differ (three never
    used)."""
    now = admin.clock()
    lifetimes = [3, 1, 6, 2, 7, 5, 4]
    last_used = [now - 50_000, None, now - 10_000, None, now - 30_000, now - 20_000, None]
    return [await admin.seed_session(label=f"s{i}", lifetime_s=days * DAY_S,
                                     last_used_at_ms=used)
            for i, (days, used) in enumerate(zip(lifetimes, last_used, strict=True))]


async def _expected_order(admin: AdminPlane, seeded: list[dict[str, Any]],
                          sort: str) -> list[str]:
    """Key hashes ordered by the sort value, ties broken by session id (stable pages)."""
    ws = admin.workspaces["alpha"]
    sessions = [await admin.studio.service.get_session(ws, s["key_hash"]) for s in seeded]
    key = sort.lstrip("-")

    def value(s: Any) -> int:
        if key == "last_used":
            return int(s.last_used_at_ms or 0)
        return int(s.expires_at_ms if key == "expiry" else s.created_at_ms)

    ordered = sorted(sessions, key=lambda s: (value(s), s.id), reverse=sort.startswith("-"))
    return [s.key_hash for s in ordered]


async def _all_pages(admin: AdminPlane, auth: Bearer, params: dict[str, str]
                     ) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        query = dict(params) if cursor is None else {**params, "cursor": cursor}
        reply = await admin.get("/sessions", auth=auth, params=query)
        assert reply.status == 200, reply.body
        pages.append([s["key_hash"] for s in reply.body["items"]])
        cursor = reply.body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 20, "pagination does not end"


# -- pagination -----------------------------------------------------------------------------
@pytest.mark.parametrize("sort", SORTS)
async def test_paging_by_three_returns_every_session_once_in_sort_order(
        admin: AdminPlane, sort: str) -> None:
    seeded = await _seven_sessions(admin)
    reader = await admin.token("sessions:read")

    pages = await _all_pages(admin, reader, {"sort": sort, "limit": "3"})

    assert [len(p) for p in pages] == [3, 3, 1]
    flat = [k for page in pages for k in page]
    assert flat == await _expected_order(admin, seeded, sort)


async def test_the_default_order_is_newest_first(admin: AdminPlane) -> None:
    seeded = await _seven_sessions(admin)
    reader = await admin.token("sessions:read")

    listed = await admin.get("/sessions", auth=reader)

    assert [s["key_hash"] for s in listed.body["items"]] == await _expected_order(
        admin, seeded, "-created")
    assert listed.body["next_cursor"] is None


async def test_a_page_that_holds_everything_has_no_next_cursor(admin: AdminPlane) -> None:
    await _seven_sessions(admin)
    reader = await admin.token("sessions:read")

    reply = await admin.get("/sessions", auth=reader, params={"limit": "7"})

    assert len(reply.body["items"]) == 7
    assert reply.body["next_cursor"] is None


async def test_a_cursor_of_one_sort_is_refused_under_another(admin: AdminPlane) -> None:
    await _seven_sessions(admin)
    reader = await admin.token("sessions:read")
    first = await admin.get("/sessions", auth=reader, params={"sort": "expiry", "limit": "3"})

    reply = await admin.get("/sessions", auth=reader, params={
        "sort": "created", "limit": "3", "cursor": first.body["next_cursor"]})

    assert reply.status == 422
    assert reply.error["field"] == "cursor"


async def test_pages_of_a_filtered_listing_hold_only_matching_sessions(
        admin: AdminPlane) -> None:
    seeded = await _seven_sessions(admin)
    wanted = {s["key_hash"] for s in seeded[:5]}
    writer = await admin.writer()
    for session in seeded[5:]:
        await admin.post(f"/sessions/{session['key_hash']}/revoke", auth=writer)

    pages = await _all_pages(admin, writer, {"status": "active", "limit": "2",
                                             "sort": "expiry"})

    assert [len(p) for p in pages] == [2, 2, 1]
    assert {k for page in pages for k in page} == wanted


async def test_a_session_revoked_between_pages_does_not_shift_the_next_page(
        admin: AdminPlane) -> None:
    """Keyset pagination: the cursor names a position, not an offset."""
    seeded = await _seven_sessions(admin)
    writer = await admin.writer()
    first = await admin.get("/sessions", auth=writer,
                            params={"sort": "created", "limit": "3", "status": "active"})
    await admin.post(f"/sessions/{first.body['items'][0]['key_hash']}/revoke", auth=writer)

    rest = await _all_pages(admin, writer, {"sort": "created", "limit": "3",
                                            "status": "active",
                                            "cursor": first.body["next_cursor"]})

    expected = await _expected_order(admin, seeded, "created")
    assert [k for page in rest for k in page] == expected[3:]


# -- filters --------------------------------------------------------------------------------
async def _mixed_inventory(admin: AdminPlane) -> dict[str, dict[str, Any]]:
    writer = await admin.writer()
    await admin.register_agent(writer, "payments-bot")
    await admin.register_agent(writer, "other-bot")
    made = {
        "app": await admin.seed_session(label="Alpha checkout"),
        "agent": await admin.seed_session(type="agent", agent="payments-bot",
                                          label="daily payouts",
                                          chain_ids=(SECOND_CHAIN,)),
        "other": await admin.seed_session(type="agent", agent="other-bot", label="refunds",
                                          chain_ids=(LOCAL_CHAIN, SECOND_CHAIN)),
        "revoked": await admin.seed_session(label="old checkout"),
    }
    await admin.post(f"/sessions/{made['revoked']['key_hash']}/revoke", auth=writer)
    return made


@pytest.mark.parametrize(("params", "expected"), [
    ({"type": "app"}, {"app", "revoked"}),
    ({"type": "agent"}, {"agent", "other"}),
    ({"status": "active"}, {"app", "agent", "other"}),
    ({"status": "revoked"}, {"revoked"}),
    ({"status": "expired"}, set()),
    ({"chain": str(SECOND_CHAIN)}, {"agent", "other"}),
    ({"chain": str(LOCAL_CHAIN)}, {"app", "other", "revoked"}),
    ({"agent": "payments-bot"}, {"agent"}),
    ({"agent": "nobody"}, set()),
    ({"label": "CHECKOUT"}, {"app", "revoked"}),
    ({"label": "%"}, set()),  # a substring, not a LIKE pattern
    ({"type": "app", "status": "active", "label": "check"}, {"app"}),
], ids=lambda v: "&".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else None)
async def test_the_inventory_filters(admin: AdminPlane, params: dict[str, str],
                                     expected: set[str]) -> None:
    made = await _mixed_inventory(admin)
    reader = await admin.token("sessions:read")

    listed = await admin.get("/sessions", auth=reader, params=params)

    assert listed.status == 200
    names = {name for name, s in made.items()
             if s["key_hash"] in {i["key_hash"] for i in listed.body["items"]}}
    assert names == expected


async def test_an_expired_session_is_listed_as_expired(admin: AdminPlane) -> None:
    short = await admin.seed_session(lifetime_s=1)
    admin.clock.advance(1_001)  # past its one-second lifetime
    reader = await admin.token("sessions:read")

    expired = await admin.get("/sessions", auth=reader, params={"status": "expired"})
    active = await admin.get("/sessions", auth=reader, params={"status": "active"})

    assert [s["key_hash"] for s in expired.body["items"]] == [short["key_hash"]]
    assert expired.body["items"][0]["status"] == "expired"
    assert active.body["items"] == []


# -- bulk revoke ----------------------------------------------------------------------------
async def test_a_dry_run_counts_what_would_be_revoked_and_revokes_nothing(
        admin: AdminPlane) -> None:
    made = await _mixed_inventory(admin)
    writer = await admin.writer()

    reply = await admin.post("/sessions/bulk-revoke", {"type": "agent", "dry_run": True},
                             auth=writer)

    assert reply.status == 200
    assert reply.body["dry_run"] is True
    assert reply.body["count"] == 2
    assert set(reply.body["key_hashes"]) == {made["agent"]["key_hash"],
                                             made["other"]["key_hash"]}
    active = await admin.get("/sessions", auth=writer, params={"status": "active"})
    assert len(active.body["items"]) == 3


async def test_bulk_revoke_revokes_exactly_the_matching_active_sessions(
        admin: AdminPlane) -> None:
    made = await _mixed_inventory(admin)
    writer = await admin.writer()
    counted = await admin.post("/sessions/bulk-revoke", {"type": "agent", "dry_run": True},
                               auth=writer)

    reply = await admin.post("/sessions/bulk-revoke", {"type": "agent"}, auth=writer)

    assert reply.body["dry_run"] is False
    assert reply.body["count"] == counted.body["count"] == 2
    assert set(reply.body["key_hashes"]) == set(counted.body["key_hashes"])
    statuses = {name: (await admin.get(f"/sessions/{s['key_hash']}", auth=writer)
                       ).body["status"] for name, s in made.items()}
    assert statuses == {"app": "active", "agent": "revoked", "other": "revoked",
                        "revoked": "revoked"}


async def test_bulk_revoke_skips_sessions_already_revoked(admin: AdminPlane) -> None:
    made = await _mixed_inventory(admin)
    writer = await admin.writer()

    reply = await admin.post("/sessions/bulk-revoke", {"label": "checkout"}, auth=writer)

    assert reply.body["key_hashes"] == [made["app"]["key_hash"]]


async def test_bulk_revoke_leaves_expired_sessions_alone(admin: AdminPlane) -> None:
    short = await admin.seed_session(lifetime_s=1, label="short")
    admin.clock.advance(1_001)  # past its one-second lifetime
    writer = await admin.writer()

    reply = await admin.post("/sessions/bulk-revoke", {}, auth=writer)

    assert reply.body["count"] == 0
    shown = await admin.get(f"/sessions/{short['key_hash']}", auth=writer)
    assert shown.body["status"] == "expired"


@pytest.mark.parametrize(("body", "expected"), [
    ({"type": "app"}, {"app"}),
    ({"agent": "payments-bot"}, {"agent"}),
    ({"label": "REFUND"}, {"other"}),
    ({"chain": SECOND_CHAIN}, {"agent", "other"}),
    ({"chain": LOCAL_CHAIN, "type": "agent"}, {"other"}),
    ({}, {"app", "agent", "other"}),
], ids=["type", "agent", "label", "chain", "chain+type", "everything"])
async def test_bulk_revoke_filters(admin: AdminPlane, body: dict[str, Any],
                                   expected: set[str]) -> None:
    made = await _mixed_inventory(admin)
    writer = await admin.writer()

    reply = await admin.post("/sessions/bulk-revoke", body, auth=writer)

    revoked = {name for name, s in made.items() if s["key_hash"] in reply.body["key_hashes"]}
    assert revoked == expected
    assert reply.body["count"] == len(expected)
    for name in set(made) - expected - {"revoked"}:
        shown = await admin.get(f"/sessions/{made[name]['key_hash']}", auth=writer)
        assert shown.body["status"] == "active", name


async def test_bulk_revoke_through_a_login_needs_the_csrf_token(admin: AdminPlane) -> None:
    made = await _mixed_inventory(admin)
    login = await admin.register()

    refused = await admin.post("/sessions/bulk-revoke", {}, auth=login, csrf=None)
    done = await admin.post("/sessions/bulk-revoke", {}, auth=login)

    assert refused.status == 403
    assert done.status == 200
    assert done.body["count"] == 3
    assert made["app"]["key_hash"] in done.body["key_hashes"]
