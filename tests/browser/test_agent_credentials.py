"""Cutting an agent credential off from the Agents page: Reissue shows the new credential once
and the running `serve` refuses the old one at once; Disable revokes every session of the agent.
Both ask for confirmation first."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import secret_scan
from e2e.rpc_client import post
from playwright.sync_api import Browser, Page, expect

from .studio_site import Site, accepting_dialogs, add_authenticator, screenshot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page(site: Site, chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    add_authenticator(page)
    page.goto(site.invite("agent-keeper"))
    page.get_by_role("button", name="Create passkey").click()
    page.wait_for_url("**/sessions")
    try:
        yield page
    finally:
        context.close()


def _agent(site: Site, name: str) -> dict[str, Any]:
    registered: dict[str, Any] = site.studio.cli("agents", "register", name)
    session = site.studio.create_session(agent=name, tokens="ETH", fund=False)
    return {**registered, "session": session}


def _row(page: Page, name: str) -> Any:
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=name, exact=True))


def test_reissue_from_the_agents_page_kills_the_old_credential(site: Site, page: Page) -> None:
    agent = _agent(site, "leaky-bot")
    page.goto(f"{site.admin_url}/agents")
    with accepting_dialogs(page) as asked:
        _row(page, "leaky-bot").get_by_role("button", name="Reissue").click()
        page.wait_for_selector("#agent-reissued-title")
    assert "stops working at once" in asked[0]
    new = page.locator("#agent-credential").inner_text().strip()
    secret_scan.record([new])  # the run-wide log scan looks for it too
    screenshot(page, "agent-reissued")
    assert new.startswith("sst_") and new != agent["credential"]
    assert post(site.studio, agent["credential"], "eth_accounts", [])[0] == 401
    assert post(site.studio, new, "eth_accounts", [])[1]["result"] == [
        agent["session"]["address"]]
    page.goto(f"{site.admin_url}/agents")
    assert new not in page.content()


def test_disable_from_the_agents_page_revokes_every_session(site: Site, page: Page) -> None:
    agent = _agent(site, "rogue-bot")
    page.goto(f"{site.admin_url}/agents")
    with accepting_dialogs(page):
        _row(page, "rogue-bot").get_by_role("button", name="Disable").click()
        expect(page.get_by_role("status")).to_contain_text("1 session(s) were revoked")
    expect(_row(page, "rogue-bot")).to_contain_text("disabled")
    assert post(site.studio, agent["credential"], "eth_accounts", [])[0] == 401
    shown = site.studio.cli("sessions", "show", agent["session"]["key_hash"])
    assert shown["status"] == "revoked"
