"""Who gets in: the login guard, one-time setup links, and user verification.

Each test uses its own browser context (its own cookies and virtual authenticator), so one
person's login never leaks into another test.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from .studio_site import Authenticator, Site, add_authenticator

pytestmark = pytest.mark.browser


@pytest.fixture
def context(chromium: Browser) -> Iterator[BrowserContext]:
    context = chromium.new_context()
    context.set_default_timeout(15_000)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture(scope="module")
def registered(site: Site, chromium: Browser) -> Iterator[Authenticator]:
    """An admin who registered a passkey through the first setup link (then closed the tab)."""
    context = chromium.new_context()
    page = context.new_page()
    passkey = add_authenticator(page)
    page.goto(site.first_setup_link)
    page.get_by_role("button", name="Create passkey").click()
    page.wait_for_url("**/sessions")
    try:
        yield passkey
    finally:
        context.close()


def _logged_in(page: Page, site: Site) -> bool:
    return page.request.get(site.admin_url + "/api/v1/auth/me").status == 200


def test_pages_send_visitors_without_a_login_to_the_login_page(site: Site,
                                                                context: BrowserContext) -> None:
    page = context.new_page()
    page.goto(site.admin_url + "/agents")
    assert page.url.startswith(site.admin_url + "/login?next=")
    assert parse_qs(urlsplit(page.url).query) == {"next": ["/agents"]}
    expect(page.get_by_role("button", name="Log in with a passkey")).to_be_visible()


def test_root_leads_to_the_inventory(site: Site, context: BrowserContext) -> None:
    page = context.new_page()
    page.goto(site.admin_url + "/")
    assert parse_qs(urlsplit(page.url).query) == {"next": ["/sessions"]}


def test_setup_page_without_its_secret_says_what_to_open(site: Site,
                                                          context: BrowserContext) -> None:
    page = context.new_page()
    page.goto(site.admin_url + "/setup")
    expect(page.get_by_text("This address has no setup token")).to_be_visible()
    expect(page.get_by_role("button", name="Create passkey")).to_be_disabled()


def test_setup_link_works_only_once(site: Site, registered: Authenticator,
                                    context: BrowserContext) -> None:
    page = context.new_page()
    add_authenticator(page)
    page.goto(site.first_setup_link)
    page.get_by_role("button", name="Create passkey").click()
    expect(page.get_by_role("alert").first).to_contain_text("already used")
    assert not _logged_in(page, site)


def test_invited_admin_registers_their_own_passkey(site: Site, registered: Authenticator,
                                                   context: BrowserContext) -> None:
    page = context.new_page()
    passkey = add_authenticator(page)
    page.goto(site.invite("bob"))
    assert "#" not in page.url  # the secret left the address bar and the history
    page.get_by_role("button", name="Create passkey").click()
    page.wait_for_url("**/sessions")
    expect(page.locator(".who")).to_contain_text("bob")
    assert len(passkey.credentials()) == 1


def test_authenticator_without_user_verification_cannot_log_in(
        site: Site, registered: Authenticator, context: BrowserContext) -> None:
    # The same passkey, held by an authenticator that cannot verify its user (no PIN or
    # biometrics): the server requires user verification, so the login must fail.
    page = context.new_page()
    no_uv = add_authenticator(page, user_verification=False)
    no_uv.add_credential(registered.credentials()[0])
    page.goto(site.admin_url + "/login")
    page.get_by_role("button", name="Log in with a passkey").click()
    expect(page.locator("[data-passkey-error]")).to_be_visible()
    assert page.url.startswith(site.admin_url + "/login")
    assert not _logged_in(page, site)


def test_assertion_without_the_user_verified_flag_is_refused_by_the_server(
        site: Site, registered: Authenticator, context: BrowserContext) -> None:
    # The authenticator claims to verify, but its answer lacks the UV flag: only the server's
    # check (require_user_verification) stands between it and a login.
    page = context.new_page()
    liar = add_authenticator(page)
    liar.add_credential(registered.credentials()[0])
    liar.cdp.send("WebAuthn.setResponseOverrideBits",
                  {"authenticatorId": liar.id, "isBadUV": True})
    page.goto(site.admin_url + "/login")
    page.get_by_role("button", name="Log in with a passkey").click()
    expect(page.locator("[data-passkey-error]")).to_contain_text("login refused")
    assert not _logged_in(page, site)


def test_registered_passkey_logs_in_from_a_fresh_browser(
        site: Site, registered: Authenticator, context: BrowserContext) -> None:
    page = context.new_page()
    holder = add_authenticator(page)
    holder.add_credential(registered.credentials()[0])
    page.goto(site.admin_url + "/login")
    page.get_by_role("button", name="Log in with a passkey").click()
    page.wait_for_url("**/sessions")
    assert _logged_in(page, site)



# Browsers drop tabs and newlines from URLs (WHATWG URL parser) and read "\\" as "/", so
# "/\t/evil.example" becomes the protocol-relative "//evil.example" once the login script
# follows it.
SMUGGLED_NEXT = ("/%09/evil.example", "/%0a/evil.example", "/%0d/evil.example",
                 "/%5C/evil.example", "/%09%09/evil.example", "%2F%2Fevil.example",
                 "/%0D%0A/evil.example")


def test_login_with_a_whitespace_smuggled_next_stays_on_the_site(
        site: Site, context: BrowserContext) -> None:
    page = context.new_page()
    add_authenticator(page)
    # Should the page leave, the foreign site "answers", so the test sees where it went.
    page.route(lambda url: urlsplit(url).hostname == "evil.example",
               lambda route: route.fulfill(body="<title>evil</title>", content_type="text/html"))
    page.goto(site.invite("redirect-probe"))
    page.get_by_role("button", name="Create passkey").click()
    page.wait_for_url("**/sessions")
    for next_param in SMUGGLED_NEXT:
        context.clear_cookies()
        page.goto(site.admin_url + "/login?next=" + next_param)
        page.get_by_role("button", name="Log in with a passkey").click()
        page.wait_for_url(lambda url: "/login" not in url)
        assert page.url == site.admin_url + "/sessions", (next_param, page.url)
        assert _logged_in(page, site)
