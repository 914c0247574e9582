"""The approvals inbox page (/approvals), in-process: what it shows of a held request, the nav
badge, and the decisions a page form can make without a chain (reject; approve refused without
a fresh step-up). Approving for real, with a passkey in Chromium and the transfer on anvil, is
tests/browser/test_approvals_inbox.py.

Held requests are made the way the RPC plane makes them, through the ledger's
`reserve_and_sign(hold=...)` with a held verdict, so their cost is really reserved.
"""

from __future__ import annotations

import re
from typing import Any, NoReturn

from session_studio.admin_ui._pages_approvals import HISTORY_PAGE
from session_studio.policy import Decision, ReasonCode, SessionState, parse_amount
from session_studio.store import ApprovalDraft, ApprovalStatus, new_id

from .conftest import LOCAL_CHAIN, MINUTE_MS, AdminPlane, Login

RECIPIENT = "0x" + "be" * 20
HOSTILE = '<img src=x onerror="alert(1)">'


async def _page(admin: AdminPlane, method: str, path: str, login: Login,
                data: dict[str, str] | None = None) -> tuple[int, str, str]:
    """(status, Location, body) of a page request with the login's cookie."""
    async with admin.client.request(method, path, data=data, allow_redirects=False,
                                    headers={"Cookie": f"studio_session={login.cookie}"}
                                    ) as answer:
        return answer.status, answer.headers.get("Location", ""), await answer.text()


def _never_signs(_nonce: int | None, _raw: bytes | None) -> NoReturn:
    raise AssertionError("a held request is never signed when it is held")


async def _hold(admin: AdminPlane, session: dict[str, Any], *, cost: str = "20",
                summary: str | None = None, detail: dict[str, Any] | None = None) -> str:
    """A request held for `session` as the RPC plane holds one: its cost reserved."""
    found = await admin.studio.service.get_session(admin.workspaces["alpha"],
                                                   session["key_hash"])
    atoms = parse_amount(cost)

    def held(_state: SessionState, _now: int) -> Decision:
        return Decision(allowed=False, held=True, reason=ReasonCode.APPROVAL_REQUIRED,
                        detail="over the approval threshold", cost=atoms)

    draft = ApprovalDraft(
        id=new_id(), chain_id=LOCAL_CHAIN, unit="USD", ttl_ms=60 * MINUTE_MS,
        summary=summary or f"transfer {cost} USDC to {RECIPIENT} on local",
        detail=detail or {"chain_id": LOCAL_CHAIN, "chain": "local", "to": RECIPIENT,
                          "value_wei": "0", "broadcast": True, "intents": [
                              {"kind": "token_transfer", "asset": "USDC", "amount": cost,
                               "counterparty": RECIPIENT, "selector": None}]},
        payload={"kind": "transaction"})
    decision, _, _ = await admin.studio.store.reserve_and_sign(
        session_id=found.id, method="eth_sendTransaction", clock=admin.clock,
        window_mode="rolling_24h", evaluate=held, nonce=None, sign=_never_signs, hold=draft)
    assert decision.held, decision
    return draft.id


async def _session(admin: AdminPlane) -> dict[str, Any]:
    await admin.register_agent(await admin.writer(), "payer")
    return await admin.seed_session(type="agent", agent="payer", label="payouts")


def _pending_badge(html: str) -> int:
    found = re.search(r'data-pending-count="(\d+)"', html)
    return 0 if found is None else int(found.group(1))


async def test_the_inbox_shows_a_held_transfer_in_words_against_its_session_limits(
        admin: AdminPlane) -> None:
    login = await admin.register()
    session = await _session(admin)
    approval_id = await _hold(admin, session, cost="7")

    status, _, html = await _page(admin, "GET", "/approvals", login)

    assert status == 200
    card = html[html.index(f'id="approval-{approval_id}"'):]
    assert f"transfer 7 USDC to {RECIPIENT} on local" in card
    assert f'<code class="party">{RECIPIENT}</code>' in card
    assert "Per-transaction limit</dt><dd>10 USD" in card
    assert f'href="/sessions/{session["key_hash"]}">payouts</a>' in card
    assert "<dt>Agent</dt><dd>payer</dd>" in card
    assert "Time left" in card


async def test_markup_in_a_held_request_is_shown_as_text(admin: AdminPlane) -> None:
    login = await admin.register()
    session = await _session(admin)
    approval_id = await _hold(admin, session, summary=f"sign Permit: {HOSTILE}", detail={
        "chain_id": LOCAL_CHAIN, "chain": "local", "primary_type": "Permit",
        "domain": {"name": HOSTILE}, "message": f"{{'note': '{HOSTILE}'}}", "intents": []})

    for path in ("/approvals", f"/approvals/{approval_id}"):
        status, _, html = await _page(admin, "GET", path, login)

        assert status == 200
        assert HOSTILE not in html
        assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html


async def test_the_nav_badge_counts_the_pending_approvals_on_every_page(
        admin: AdminPlane) -> None:
    login = await admin.register()
    session = await _session(admin)
    _, _, before = await _page(admin, "GET", "/agents", login)
    await _hold(admin, session, cost="2")
    await _hold(admin, session, cost="3")

    _, _, after = await _page(admin, "GET", "/agents", login)

    assert (_pending_badge(before), _pending_badge(after)) == (0, 2)


async def test_rejecting_from_the_page_keeps_the_reason_and_moves_it_to_the_history(
        admin: AdminPlane) -> None:
    login = await admin.register()
    session = await _session(admin)
    approval_id = await _hold(admin, session)

    status, location, _ = await _page(admin, "POST", f"/approvals/{approval_id}/reject",
                                      login, {"csrf": login.csrf, "reason": "not this vendor"})

    assert (status, location) == (303, f"/approvals/{approval_id}")
    decided = await admin.studio.store.get_approval(approval_id, workspace_id=None)
    assert (decided.status, decided.reason) == (ApprovalStatus.REJECTED, "not this vendor")
    _, _, inbox = await _page(admin, "GET", "/approvals", login)
    history = inbox[inbox.index('id="history-title"'):]
    assert "not this vendor" in history and _pending_badge(inbox) == 0


async def test_a_reject_without_the_forms_csrf_token_changes_nothing(
        admin: AdminPlane) -> None:
    login = await admin.register()
    approval_id = await _hold(admin, await _session(admin))

    status, _, _ = await _page(admin, "POST", f"/approvals/{approval_id}/reject", login,
                               {"csrf": "forged", "reason": "x"})

    assert status == 403
    still = await admin.studio.store.get_approval(approval_id, workspace_id=None)
    assert still.status is ApprovalStatus.PENDING


async def test_approving_without_a_fresh_step_up_is_refused_and_leaves_it_pending(
        admin: AdminPlane) -> None:
    login = await admin.register()
    approval_id = await _hold(admin, await _session(admin))
    admin.clock.advance(6 * MINUTE_MS)  # the login's passkey assertion is now too old

    status, _, html = await _page(admin, "POST", f"/approvals/{approval_id}/approve", login,
                                  {"csrf": login.csrf})

    assert status == 403
    assert "confirm with your passkey" in html
    still = await admin.studio.store.get_approval(approval_id, workspace_id=None)
    assert still.status is ApprovalStatus.PENDING


async def test_an_approval_of_another_workspace_is_not_found(admin: AdminPlane) -> None:
    approval_id = await _hold(admin, await _session(admin))
    other = await admin.register(workspace="beta", admin_name="other")

    status, _, _ = await _page(admin, "GET", f"/approvals/{approval_id}", other)

    assert status == 404


async def test_a_history_cursor_edited_by_hand_shows_the_newest_page(admin: AdminPlane) -> None:
    login = await admin.register()
    approval_id = await _hold(admin, await _session(admin))

    status, _, html = await _page(admin, "GET", "/approvals?cursor=not-a-cursor", login)

    assert status == 200
    assert f'id="approval-{approval_id}"' in html


async def test_the_history_shows_decided_approvals_however_many_still_wait(
        admin: AdminPlane) -> None:
    login = await admin.register()
    session = await _session(admin)
    rejected = await _hold(admin, session, summary="the decided one")
    await _page(admin, "POST", f"/approvals/{rejected}/reject", login,
                {"csrf": login.csrf, "reason": "kept in the history"})
    for _ in range(HISTORY_PAGE + 1):  # newer than it, all still waiting
        await _hold(admin, session)

    _, _, inbox = await _page(admin, "GET", "/approvals", login)

    assert "kept in the history" in inbox[inbox.index('id="history-title"'):]
