"""An operator's first day in Session Studio, in a real Chromium with a virtual passkey.

The tests run in file order and share one browser page (a module fixture), as one person would
use the page: set up a passkey from the link `init` printed, log out and back in, register an
agent, create sessions, filter, bulk revoke, rotate, export, and check on the RPC plane that
what the page revoked no longer signs. Each test checks one behaviour of that journey.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from e2e.harness import PRIMARY_CHAIN, Studio
from e2e.rpc_client import assert_error, assert_policy_denied, eth_transfer, fresh_address, post
from playwright.sync_api import Browser, Locator, Page, expect

from .studio_site import (
    Authenticator,
    Site,
    accepting_dialogs,
    add_authenticator,
    screenshot,
)

pytestmark = pytest.mark.browser
KEY_HASH = re.compile(r"/sessions/(0x[0-9a-f]{64})$")


@dataclass
class Operator:
    """The browser page of the one admin, and what the journey created so far."""

    page: Page
    passkey: Authenticator
    site: Site
    made: dict[str, Any] = field(default_factory=dict)

    def go(self, path: str) -> None:
        self.page.goto(self.site.admin_url + path)

    def path(self) -> str:
        return self.page.url.removeprefix(self.site.admin_url)

    def sign_count(self) -> int:
        return int(self.passkey.credentials()[0]["signCount"])

    def csrf(self) -> str:
        token = self.page.locator('meta[name="csrf-token"]').get_attribute("content")
        assert token
        return token


@pytest.fixture(scope="module")
def operator(site: Site, chromium: Browser) -> Iterator[Operator]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.admin_url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield Operator(page=page, passkey=add_authenticator(page), site=site)
    finally:
        context.close()


def _field(op: Operator, label: str) -> Locator:
    """The input whose label starts with `label` (labels go on with a hint in parentheses)."""
    return op.page.get_by_label(re.compile("^" + re.escape(label)))


def _fill_session_form(op: Operator, *, label: str, per_tx: str = "10", daily: str = "100",
                       agent: str | None = None) -> None:
    _field(op, "Label").fill(label)
    if agent is not None:
        _field(op, "Agent").select_option(agent)
    _field(op, "Chains").fill(str(PRIMARY_CHAIN))
    _field(op, "Tokens").fill("USDC, ETH")
    _field(op, "Per-transaction limit").fill(per_tx)
    _field(op, "Daily limit").fill(daily)
    _field(op, "Expires in").fill("7d")


def _artifact(op: Operator) -> dict[str, Any]:
    artifact: dict[str, Any] = json.loads(op.page.locator("#artifact-json").inner_text())
    return artifact


def _rows(op: Operator) -> list[str]:
    hashes: list[str] = op.page.locator("table.inventory tbody tr[data-key-hash]").evaluate_all(
        "rows => rows.map(row => row.dataset.keyHash)")
    return hashes


def _wait_for_usage(studio: Studio, key_hash: str) -> None:
    deadline = time.monotonic() + 10
    while studio.cli("sessions", "show", key_hash)["request_count"] == 0:
        assert time.monotonic() < deadline, "the session's use was never recorded"
        time.sleep(0.2)


# -- first login -----------------------------------------------------------------------------
def test_setup_link_registers_the_first_passkey_and_logs_in(operator: Operator) -> None:
    operator.page.goto(operator.site.first_setup_link)
    screenshot(operator.page, "setup")
    operator.page.get_by_role("button", name="Create passkey").click()
    operator.page.wait_for_url("**/sessions")
    assert len(operator.passkey.credentials()) == 1
    expect(operator.page.get_by_role("button", name="Log out")).to_be_visible()


def test_log_out_ends_the_login(operator: Operator) -> None:
    operator.page.get_by_role("button", name="Log out").click()
    operator.page.wait_for_url("**/login?logged_out=1")
    operator.go("/sessions?type=agent")
    assert urlsplit(operator.path()).path == "/login"
    assert parse_qs(urlsplit(operator.path()).query) == {"next": ["/sessions?type=agent"]}


def test_passkey_logs_back_in_and_returns_to_the_page_asked_for(operator: Operator) -> None:
    screenshot(operator.page, "login")
    operator.page.get_by_role("button", name="Log in with a passkey").click()
    operator.page.wait_for_url("**/sessions?type=agent")
    expect(operator.page.get_by_role("link", name="Agent Sessions")).to_have_attribute(
        "aria-current", "page")


# -- agents ----------------------------------------------------------------------------------
def test_registering_an_agent_shows_its_credential_once(operator: Operator) -> None:
    operator.go("/agents")
    operator.page.get_by_label("Name").fill("payments-bot")
    operator.page.get_by_label("Daily budget in USD").fill("500")
    operator.page.get_by_role("button", name="Register agent").click()
    credential = operator.page.locator("#agent-credential").inner_text().strip()
    assert credential.startswith("sst_")
    screenshot(operator.page, "agents")
    operator.made["agent_credential"] = credential
    operator.go("/agents")
    assert credential not in operator.page.content()
    expect(operator.page.get_by_role("cell", name="payments-bot")).to_be_visible()


# -- New Session forms -----------------------------------------------------------------------
def test_agent_session_form_creates_a_session_with_the_advanced_fields(
        operator: Operator) -> None:
    recipient = fresh_address().lower()
    operator.go("/sessions/new?type=agent")
    _fill_session_form(operator, label="daily payouts", agent="payments-bot")
    operator.page.locator("input[name=permissions][value=approve]").check()
    operator.page.get_by_text("Advanced (optional)").click()
    _field(operator, "Recipients allowlist").fill(recipient)
    _field(operator, "Rate limit").fill("30")
    _field(operator, "Max fee per gas").fill("100")
    screenshot(operator.page, "new-session")
    operator.page.get_by_role("button", name="Create agent session").click()
    expect(operator.page.get_by_role("heading", name="Session created")).to_be_visible()
    artifact = _artifact(operator)
    assert (artifact["agent"], artifact["permissions"], artifact["recipients"],
            artifact["rate_limit_per_minute"], artifact["max_fee_per_gas"]) == (
        "payments-bot", ["transfer", "approve"], [recipient], 30, str(100 * 10**9))
    assert artifact["credential"] == operator.made["agent_credential"]
    screenshot(operator.page, "session-created")
    operator.made["agent_session"] = artifact


def test_invalid_form_comes_back_naming_the_field_and_keeping_the_input(
        operator: Operator) -> None:
    operator.go("/sessions/new?type=agent")
    _fill_session_form(operator, label="typo", agent="payments-bot", per_tx="ten")
    operator.page.get_by_role("button", name="Create agent session").click()
    expect(operator.page.get_by_role("alert")).to_contain_text("Per-transaction limit")
    expect(_field(operator, "Label")).to_have_value("typo")
    expect(_field(operator, "Per-transaction limit")).to_have_attribute(
        "aria-invalid", "true")


def test_service_refusal_comes_back_naming_the_field(operator: Operator) -> None:
    operator.go("/sessions/new?type=agent")
    _fill_session_form(operator, label="over", agent="payments-bot", per_tx="200", daily="100")
    operator.page.get_by_role("button", name="Create agent session").click()
    expect(operator.page.get_by_role("alert")).to_contain_text(
        "Per-transaction limit: must not exceed the daily limit")


def test_app_session_creation_confirms_with_the_passkey_first(operator: Operator) -> None:
    operator.site.age_step_up()  # the login's own assertion is now older than five minutes
    before = operator.sign_count()
    operator.go("/sessions/new?type=app")
    _fill_session_form(operator, label="checkout backend")
    operator.page.get_by_role("button", name="Create app session").click()
    expect(operator.page.get_by_role("heading", name="Session created")).to_be_visible()
    assert operator.sign_count() > before
    artifact = _artifact(operator)
    assert artifact["type"] == "app" and artifact["credential"].startswith("sst_")
    operator.made["app_session"] = artifact


def test_app_session_without_a_fresh_passkey_is_refused(operator: Operator) -> None:
    operator.site.age_step_up()
    operator.go("/sessions/new?type=app")
    answer = operator.page.request.post(operator.site.admin_url + "/sessions/new", form={
        "csrf": operator.csrf(), "type": "app", "label": "sneaky", "chain_ids": "31337",
        "permissions": "transfer", "tokens": "ETH", "per_tx_limit": "1", "daily_limit": "1",
        "expires_in": "1h"})
    assert answer.status == 403
    assert "confirm with your passkey" in answer.text().lower()
    assert operator.site.studio.cli("sessions", "list", "--label", "sneaky") == []


def test_copy_button_puts_the_credential_on_the_clipboard(operator: Operator) -> None:
    key_hash = operator.made["app_session"]["key_hash"]
    operator.go(f"/sessions/{key_hash}")
    operator.page.get_by_role("button", name="Show provisioning artifact").click()
    operator.page.get_by_role("button", name="Copy credential").click()
    expect(operator.page.get_by_role("button", name="Copied")).to_be_visible()
    copied = operator.page.evaluate("navigator.clipboard.readText()")
    assert copied == operator.made["app_session"]["credential"]


def test_showing_an_app_sessions_artifact_again_confirms_with_the_passkey_first(
        operator: Operator) -> None:
    # Its credential is worth what creating the session is: the same fresh step-up.
    operator.site.age_step_up()
    before = operator.sign_count()
    operator.go(f"/sessions/{operator.made['app_session']['key_hash']}")
    operator.page.get_by_role("button", name="Show provisioning artifact").click()
    expect(operator.page.get_by_role("heading", name="Provisioning artifact", level=1)
           ).to_be_visible()
    assert operator.sign_count() > before
    assert _artifact(operator)["credential"] == operator.made["app_session"]["credential"]


# -- the inventory ---------------------------------------------------------------------------
def test_health_badges_show_in_the_inventory_and_on_the_session_page(
        operator: Operator) -> None:
    studio = operator.site.studio
    soon = studio.create_session(agent="payments-bot", label="expiring soon",
                                 expires_in="30m", fund=False)
    busy = studio.create_session(agent="payments-bot", label="busy payer", per_tx="20",
                                 daily="20", expires_in="7d")
    w3 = studio.web3(busy)
    tx = studio.usdc_contract(w3).functions.transfer(fresh_address(), 17_000_000).transact(
        {"from": busy["address"]})
    assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    operator.go("/sessions?type=agent")
    row = operator.page.locator(f'tr[data-key-hash="{soon["key_hash"]}"]')
    expect(row.locator(".badge")).to_have_text("Expiring soon")
    row = operator.page.locator(f'tr[data-key-hash="{busy["key_hash"]}"]')
    expect(row.locator(".badge")).to_have_text("Near daily limit")
    screenshot(operator.page, "inventory")
    _wait_for_usage(studio, busy["key_hash"])  # usage is written in batches, every second
    operator.go(f"/sessions/{busy['key_hash']}")
    expect(operator.page.locator("h1 .badge")).to_have_text("Near daily limit")
    expect(operator.page.locator("table.events")).to_contain_text("signed")
    screenshot(operator.page, "session")
    operator.made["soon"] = soon


def test_inventory_filters_by_label_substring(operator: Operator) -> None:
    studio = operator.site.studio
    batch = {studio.create_session(agent="payments-bot", label=f"Nightly batch {n}",
                                   fund=False)["key_hash"] for n in range(3)}
    operator.go("/sessions?type=agent")
    operator.page.get_by_label("Label contains").fill("nightly")
    operator.page.get_by_role("button", name="Apply").click()
    operator.page.wait_for_url("**label=nightly**")
    assert set(_rows(operator)) == batch
    operator.made["batch"] = batch


def test_inventory_sorts_by_expiry(operator: Operator) -> None:
    operator.go("/sessions?type=agent")
    operator.page.get_by_label("Sort").select_option(label="Expiring soonest")
    operator.page.get_by_role("button", name="Apply").click()
    operator.page.wait_for_url("**sort=expiry**")
    assert _rows(operator)[0] == operator.made["soon"]["key_hash"]


def test_inventory_pages_with_a_cursor(operator: Operator) -> None:
    operator.go("/sessions?type=agent&limit=2")
    first = _rows(operator)
    operator.page.get_by_role("link", name="Next page").click()
    second = _rows(operator)
    assert len(first) == 2 and second and not set(first) & set(second)
    expect(operator.page.get_by_role("link", name="First page")).to_be_visible()


def test_bulk_revoke_shows_the_count_before_revoking(operator: Operator) -> None:
    operator.go("/sessions?type=agent&label=nightly")
    operator.page.get_by_role("link", name="Revoke all matching…").click()
    expect(operator.page.locator("[data-revoke-count]")).to_contain_text(
        "This will revoke 3 active sessions")
    screenshot(operator.page, "bulk-revoke")
    listed = operator.site.studio.cli("sessions", "list", "--label", "Nightly",
                                      "--status", "active")
    assert len(listed) == 3  # counting revoked nothing
    operator.page.get_by_role("button", name="Revoke 3 sessions").click()
    expect(operator.page.get_by_role("status")).to_have_text("Revoked 3 session(s).")
    assert operator.site.studio.cli("sessions", "list", "--label", "Nightly",
                                    "--status", "active") == []


def test_bulk_revoke_recounts_when_the_fleet_changed(operator: Operator) -> None:
    studio = operator.site.studio
    studio.create_session(agent="payments-bot", label="weekly job 1", fund=False)
    operator.go("/sessions/revoke-matching?type=agent&label=weekly")
    expect(operator.page.locator("[data-revoke-count]")).to_contain_text("revoke 1 active")
    studio.create_session(agent="payments-bot", label="weekly job 2", fund=False)
    operator.page.get_by_role("button", name="Revoke 1 session").click()
    expect(operator.page.get_by_role("alert")).to_contain_text("it was 1, it is now 2")
    assert len(studio.cli("sessions", "list", "--label", "weekly", "--status", "active")) == 2


def test_bulk_revoked_agent_session_can_no_longer_sign(operator: Operator) -> None:
    key_hash = sorted(operator.made["batch"])[0]
    session = operator.site.studio.cli("sessions", "show", key_hash)
    credential = operator.made["agent_credential"]
    answer = post(operator.site.studio, credential, "eth_sendTransaction",
                  [eth_transfer(session, fresh_address())])[1]
    assert_policy_denied(answer, "session_revoked")


# -- one session -----------------------------------------------------------------------------
def test_dismissing_the_revoke_dialog_keeps_the_session(operator: Operator) -> None:
    key_hash = operator.made["agent_session"]["key_hash"]
    operator.go(f"/sessions/{key_hash}")
    operator.page.once("dialog", lambda dialog: dialog.dismiss())
    operator.page.get_by_role("button", name="Revoke").click()
    expect(operator.page.locator("h1 .status")).to_have_text("active")
    assert operator.site.studio.cli("sessions", "show", key_hash)["status"] == "active"


def test_rotate_shows_the_successor_and_revokes_the_old_key(operator: Operator) -> None:
    old = operator.made["agent_session"]["key_hash"]
    operator.go(f"/sessions/{old}")
    with accepting_dialogs(operator.page) as dialogs:
        operator.page.get_by_role("button", name="Rotate key").click()
        expect(operator.page.get_by_role("heading", name="Session rotated")).to_be_visible()
    assert dialogs and dialogs[0].startswith("Rotate this session?")
    successor = _artifact(operator)
    assert successor["key_hash"] != old and successor["label"] == "daily payouts"
    assert operator.site.studio.cli("sessions", "show", old)["status"] == "revoked"
    operator.made["successor"] = successor


def test_export_shows_the_agent_config(operator: Operator) -> None:
    successor = operator.made["successor"]
    operator.go(f"/sessions/{successor['key_hash']}")
    operator.page.get_by_role("button", name="Export agent config").click()
    exported = _artifact(operator)
    assert {k: exported[k] for k in ("address", "key_hash", "agent", "credential")} == {
        "address": successor["address"], "key_hash": successor["key_hash"],
        "agent": "payments-bot", "credential": operator.made["agent_credential"]}
    assert exported["rpc_url"].endswith(f"/rpc/{PRIMARY_CHAIN}")


def test_session_page_offers_python_viem_and_ethers_snippets(operator: Operator) -> None:
    operator.go(f"/sessions/{operator.made['successor']['key_hash']}")
    for title, marker in (("Python (web3.py)", "from web3 import Web3"),
                          ("TypeScript (viem)", 'from "viem"'),
                          ("TypeScript (ethers v6)", 'from "ethers"')):
        snippet = operator.page.locator("details.snippet", has_text=title)
        if snippet.get_attribute("open") is None:  # the first one starts open
            snippet.locator("summary").click()
        expect(operator.page.get_by_role("button", name=f"Copy {title}")).to_be_visible()
        assert marker in operator.page.content()


def test_revoking_an_app_session_stops_its_credential(operator: Operator) -> None:
    app = operator.made["app_session"]
    studio = operator.site.studio
    status, answer = post(studio, app["credential"], "eth_accounts", [])
    assert status == 200 and [a.lower() for a in answer["result"]] == [app["address"].lower()]
    operator.go(f"/sessions/{app['key_hash']}")
    with accepting_dialogs(operator.page):
        operator.page.get_by_role("button", name="Revoke").click()
        expect(operator.page.get_by_role("status")).to_have_text(
            "Session revoked: it can no longer sign.")
    expect(operator.page.locator("h1 .status")).to_have_text("revoked")
    status, answer = post(studio, app["credential"], "eth_sendTransaction",
                          [eth_transfer(app, fresh_address())])
    assert status == 401
    assert_error(answer, 4100)


# -- tokens and admins -----------------------------------------------------------------------
def test_api_token_is_created_after_step_up_and_shown_once(operator: Operator) -> None:
    operator.site.age_step_up()
    before = operator.sign_count()
    operator.go("/tokens")
    operator.page.get_by_label("Name", exact=True).fill("weekly rotation")
    operator.page.get_by_role("checkbox", name="sessions:write").check()
    operator.page.get_by_role("button", name="Create token").click()
    token = operator.page.locator("#api-token").inner_text().strip()
    assert token.startswith("ssa_") and operator.sign_count() > before
    screenshot(operator.page, "tokens")
    listed = operator.page.request.get(operator.site.admin_url + "/api/v1/sessions",
                                       headers={"Authorization": f"Bearer {token}"})
    assert listed.status == 200
    operator.go("/tokens")
    assert token not in operator.page.content()
    operator.made["api_token"] = token


def test_revoked_api_token_no_longer_opens_the_api(operator: Operator) -> None:
    operator.go("/tokens")
    with accepting_dialogs(operator.page):
        operator.page.get_by_role("button", name="Revoke weekly rotation").click()
        expect(operator.page.get_by_role("status")).to_contain_text("Token revoked")
    answer = operator.page.request.get(
        operator.site.admin_url + "/api/v1/sessions",
        headers={"Authorization": f"Bearer {operator.made['api_token']}"})
    assert answer.status == 401


def test_invite_creates_a_one_time_setup_link(operator: Operator) -> None:
    operator.site.age_step_up()
    operator.go("/tokens")
    operator.page.get_by_label("Their admin name").fill("alice")
    operator.page.get_by_role("button", name="Create setup link").click()
    link = operator.page.locator("#setup-link").inner_text().strip()
    assert link.startswith(operator.site.admin_url + "/setup#ssu_")


# -- robustness ------------------------------------------------------------------------------
def test_unknown_session_is_a_not_found_page(operator: Operator) -> None:
    answer = operator.page.goto(f"{operator.site.admin_url}/sessions/0x{'0' * 64}")
    assert answer is not None and answer.status == 404
    expect(operator.page.get_by_role("heading", name="Not found")).to_be_visible()


@pytest.mark.parametrize("path", [
    "/sessions?type=agent&chain=abc", "/sessions?sort=sideways", "/sessions?cursor=%%%",
    "/sessions?limit=0", "/sessions?status=gone&type=x", "/sessions/0xabc",
    "/sessions/new?type=robot", "/sessions/revoke-matching?chain=-1", "/nowhere",
])
def test_bad_addresses_never_break_the_page(operator: Operator, path: str) -> None:
    answer = operator.page.request.get(operator.site.admin_url + path)
    assert answer.status < 500 and "text/html" in answer.headers["content-type"]


def test_form_without_the_csrf_token_is_refused(operator: Operator) -> None:
    key_hash = operator.made["successor"]["key_hash"]
    answer = operator.page.request.post(
        f"{operator.site.admin_url}/sessions/{key_hash}/revoke", form={"csrf": "forged"})
    assert answer.status == 403
    assert operator.site.studio.cli("sessions", "show", key_hash)["status"] == "active"


@pytest.mark.parametrize("form", [
    {"type": "agent", "label": "", "chain_ids": "x", "per_tx_limit": "-1"},
    {"type": "agent", "label": "l", "agent": "nobody", "chain_ids": "31337",
     "permissions": "transfer", "tokens": "ETH", "per_tx_limit": "1", "daily_limit": "2",
     "expires_in": "1h"},
    {"type": "agent", "label": "l", "agent": "payments-bot", "chain_ids": "999",
     "permissions": "fly", "tokens": "ETH", "per_tx_limit": "1", "daily_limit": "2",
     "expires_in": "99999d", "contracts": "0xnot-an-address: 0x12"},
    {"type": "app", "label": "l" * 500, "rate_limit_per_minute": "many"},
])
def test_bad_session_forms_are_answered_with_the_form_again(operator: Operator,
                                                           form: dict[str, str]) -> None:
    operator.go("/sessions/new?type=agent")
    answer = operator.page.request.post(operator.site.admin_url + "/sessions/new",
                                        form={"csrf": operator.csrf(), **form})
    assert answer.status in (403, 422)
    assert 'role="alert"' in answer.text()
