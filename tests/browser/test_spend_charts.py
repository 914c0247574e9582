"""Spend over time on the page: the session page and the agents page draw spend per hour
against the limit (or budget) as an SVG rendered on the server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from web3 import Web3

from .studio_site import Site, add_authenticator, screenshot

pytestmark = pytest.mark.browser
TO = Web3.to_checksum_address("0x000000000000000000000000000000000000beef")


@pytest.fixture(scope="module")
def spent(site: Site) -> dict[str, Any]:
    """An agent with a budget and a session that has spent once."""
    site.studio.cli("agents", "register", "charted", "--daily-budget", "100")
    session = site.studio.create_session(agent="charted")
    w3 = site.studio.web3(session)
    w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"from": session["address"], "to": TO, "value": 10**15}))
    return session


@pytest.fixture(scope="module")
def page(site: Site, chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    add_authenticator(page)
    page.goto(site.invite("chart-viewer"))
    page.get_by_role("button", name="Create passkey").click()
    page.wait_for_url("**/sessions")
    try:
        yield page
    finally:
        context.close()


def test_session_page_draws_the_hour_that_spent_against_the_daily_limit(
        site: Site, spent: dict[str, Any], page: Page) -> None:
    page.goto(f"{site.admin_url}/sessions/{spent['key_hash']}")
    chart = page.locator("#spend-chart svg.spend-chart")
    assert chart.locator("rect.bar").count() == 1
    assert chart.locator("line.limit").count() == 1
    screenshot(page, "session-spend-chart")


def test_agents_page_draws_a_chart_for_an_agent_with_a_budget(
        site: Site, spent: dict[str, Any], page: Page) -> None:
    page.goto(f"{site.admin_url}/agents")
    chart = page.locator("#agent-chart-charted svg.spend-chart")
    assert chart.locator("rect.bar").count() == 1
    assert "of 100 USD" in (chart.get_attribute("aria-label") or "")
