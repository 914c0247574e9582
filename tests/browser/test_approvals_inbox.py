"""The approvals inbox in a real Chromium with a virtual passkey, against `serve` and anvil.

An agent session holds every request over 10 USD for a person. The agent's 20 USDC transfer is
held (4001 approval_required), the nav's badge counts it, the admin reads it in words on the
inbox, approves it with a passkey assertion and sees the transaction, which is on chain with
exactly the held recipient and amount. A second held transfer is rejected with a reason and
moves nothing. The tests run in file order on one page, as one admin would work through it.

The last test leaves two pending and two decided approvals on the inbox and takes the
screenshot the docs show (tests/artifacts/approvals-inbox.png, copied to
docs/screenshots/approvals-inbox.png).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from e2e.harness import PRIMARY_CHAIN, Studio
from e2e.rpc_client import (
    assert_policy_denied,
    calldata,
    eth_transfer,
    fresh_address,
    send,
    token_call,
    usdc,
)
from playwright.sync_api import Browser, Locator, Page, expect

from .studio_site import Authenticator, Site, add_authenticator, screenshot

pytestmark = pytest.mark.browser
USDC_ATOMS = 10**6
TX_HASH = re.compile(r"0x[0-9a-f]{64}")


@dataclass
class Desk:
    """The admin's page and passkey, the agent's session, and what the tests held so far."""

    page: Page
    passkey: Authenticator
    site: Site
    session: dict[str, Any]
    held: dict[str, str] = field(default_factory=dict)  # name -> approval_id

    @property
    def studio(self) -> Studio:
        return self.site.studio

    def go(self, path: str) -> None:
        self.page.goto(self.site.admin_url + path)

    def sign_count(self) -> int:
        return int(self.passkey.credentials()[0]["signCount"])

    def badge(self) -> Locator:
        return self.page.get_by_role("navigation", name="Main").locator("[data-pending-count]")

    def card(self, name: str) -> Locator:
        return self.page.locator(f"#approval-{self.held[name]}")

    def hold_usdc(self, name: str, to: str, whole: int) -> str:
        """The agent sends `whole` USDC to `to`: held, not signed. Returns the approval id."""
        answer = send(self.studio, self.session, token_call(
            self.studio, self.session, calldata(self.studio, "transfer", to,
                                                whole * USDC_ATOMS)))
        error = assert_policy_denied(answer, "approval_required")
        self.held[name] = str(error["data"]["approval_id"])
        return self.held[name]


@pytest.fixture(scope="module")
def desk(site: Site, chromium: Browser) -> Iterator[Desk]:
    studio = site.studio
    studio.cli("agents", "register", "treasurer")
    session: dict[str, Any] = studio.cli(
        "sessions", "create", "--type", "agent", "--agent", "treasurer", "--label",
        "vendor payouts", "--chains", str(PRIMARY_CHAIN), "--permissions", "transfer",
        "--tokens", "USDC,ETH", "--per-tx-limit", "50", "--daily-limit", "200",
        "--limit-unit", "USD", "--expires-in", "1d", "--approve-above", "10")
    studio.fund(session["address"])
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(20_000)
    page = context.new_page()
    passkey = add_authenticator(page)
    page.goto(site.invite("approver"))
    page.get_by_role("button", name="Create passkey").click()
    page.wait_for_url("**/sessions")
    try:
        yield Desk(page=page, passkey=passkey, site=site, session=session)
    finally:
        context.close()


def test_a_held_transfer_shows_in_the_nav_badge(desk: Desk) -> None:
    desk.go("/sessions")
    expect(desk.badge()).to_have_count(0)

    desk.hold_usdc("approve_me", fresh_address(), 20)
    desk.go("/sessions")

    expect(desk.badge()).to_have_text(re.compile(r"^\s*,?\s*1\s*pending\s*$"))
    assert desk.badge().get_attribute("data-pending-count") == "1"


def test_the_inbox_says_what_the_held_request_does(desk: Desk) -> None:
    desk.page.get_by_role("navigation", name="Main").get_by_role(
        "link", name=re.compile("^Approvals")).click()
    desk.page.wait_for_url("**/approvals")

    card = desk.card("approve_me")
    expect(card.locator("h3.summary")).to_have_text(
        re.compile(r"^transfer 20 USDC to 0x[0-9a-fA-F]{40} on "))
    expect(card).to_contain_text("vendor payouts")
    expect(card).to_contain_text("treasurer")
    expect(card).to_contain_text("Per-transaction limit")
    expect(card.locator(".time-left")).to_contain_text("min")


def test_approving_asks_for_the_passkey_and_shows_the_transaction(desk: Desk) -> None:
    desk.site.age_step_up()  # the login's own assertion is older than five minutes
    recipient = _recipient(desk, "approve_me")
    before = desk.sign_count()

    desk.card("approve_me").get_by_role("button", name=re.compile("^Approve")).click()
    desk.page.wait_for_url(f"**/approvals/{desk.held['approve_me']}")

    assert desk.sign_count() > before
    expect(desk.page.locator("h1 .status")).to_have_text("approved")
    tx_hash = desk.page.locator("dl.decision code.result").inner_text().strip()
    assert TX_HASH.fullmatch(tx_hash), tx_hash
    screenshot(desk.page, "approval-approved")
    desk.held["approved_tx"] = tx_hash
    desk.held["approved_to"] = recipient


def test_the_approved_transfer_is_on_chain_with_the_held_recipient_and_amount(
        desk: Desk) -> None:
    w3 = desk.studio.chain_web3()
    receipt = w3.eth.wait_for_transaction_receipt(desk.held["approved_tx"], timeout=30)
    transfers = usdc(desk.studio).events.Transfer().process_receipt(receipt)

    assert receipt["status"] == 1
    assert [(t.args["from"].lower(), t.args["to"].lower(), t.args["value"])
            for t in transfers] == [(desk.session["address"].lower(),
                                     desk.held["approved_to"].lower(), 20 * USDC_ATOMS)]
    assert desk.studio.usdc_balance(desk.held["approved_to"]) == 20 * USDC_ATOMS


def test_the_badge_is_gone_once_nothing_waits(desk: Desk) -> None:
    desk.go("/approvals")

    expect(desk.badge()).to_have_count(0)
    expect(desk.page.get_by_text("Nothing waits for a decision.")).to_be_visible()


def test_rejecting_with_a_reason_shows_it_and_moves_nothing(desk: Desk) -> None:
    recipient = fresh_address()
    desk.hold_usdc("reject_me", recipient, 30)
    nonce = desk.studio.chain_web3().eth.get_transaction_count(desk.session["address"])
    desk.go("/approvals")

    card = desk.card("reject_me")
    card.get_by_label("Reason").fill("unknown vendor, ask finance")
    card.get_by_role("button", name="Reject").click()
    desk.page.wait_for_url(f"**/approvals/{desk.held['reject_me']}")

    expect(desk.page.locator("h1 .status")).to_have_text("rejected")
    expect(desk.page.locator("dl.decision .reason")).to_have_text("unknown vendor, ask finance")
    w3 = desk.studio.chain_web3()
    assert desk.studio.usdc_balance(recipient) == 0
    assert w3.eth.get_transaction_count(desk.session["address"]) == nonce


def test_the_history_lists_both_decisions(desk: Desk) -> None:
    desk.go("/approvals")
    history = desk.page.locator("table.approvals-history")

    expect(history.locator(f'tr[data-approval-id="{desk.held["approve_me"]}"]')).to_contain_text(
        "approved")
    expect(history.locator(f'tr[data-approval-id="{desk.held["reject_me"]}"]')).to_contain_text(
        "unknown vendor, ask finance")


def test_the_inbox_with_pending_and_decided_approvals_for_the_docs(desk: Desk) -> None:
    desk.hold_usdc("invoice", fresh_address(), 45)
    answer = send(desk.studio, desk.session, eth_transfer(desk.session, fresh_address(),
                                                          10**16))
    assert_policy_denied(answer, "approval_required")
    desk.go("/approvals")

    expect(desk.page.locator("article.approval")).to_have_count(2)
    expect(desk.badge()).to_have_attribute("data-pending-count", "2")
    screenshot(desk.page, "approvals-inbox")


def _recipient(desk: Desk, name: str) -> str:
    party = desk.card(name).locator("code.party").first.inner_text().strip()
    assert re.fullmatch(r"0x[0-9a-fA-F]{40}", party), party
    return party
