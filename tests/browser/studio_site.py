"""A running Session Studio for the browser tests: one anvil chain, `serve` as a subprocess with
the admin page on `http://localhost:<free port>`, and helpers for Chromium with a CDP virtual
authenticator (CONVENTIONS.md, section 2).

WebAuthn binds passkeys to the page's origin, and browsers refuse `127.0.0.1` as a relying-party
id, so the config's `[admin]` origin names `localhost` and the very port the browser opens.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from e2e.harness import PRIMARY_CHAIN, Studio, write_config
from playwright.sync_api import Browser, CDPSession, Page, Playwright
from session_studio_dev import AnvilNode, deploy_demo_usdc, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SETUP_LINK = re.compile(r"http://localhost:\d+/setup#ssu_[A-Za-z0-9_-]+")


@dataclass
class Site:
    """The sidecar under test and where its admin page lives."""

    studio: Studio
    admin_url: str
    first_setup_link: str

    def invite(self, name: str) -> str:
        """A fresh one-time setup link, as `session-studio admins invite` prints it."""
        link: str = self.studio.cli("admins", "invite", "--name", name)["setup_link"]
        return link

    def age_step_up(self, seconds: int = 360) -> None:
        """Make every login's last passkey assertion `seconds` older, as if time had passed.

        Waiting five real minutes for a step-up to lapse would make the suite slow; the server
        reads this column on every request, so moving it back is the same as waiting.
        """
        with sqlite3.connect(self.studio.home / "studio.db", timeout=30) as db:
            db.execute("UPDATE admin_logins SET last_assertion_at = last_assertion_at - ?",
                       (seconds * 1000,))


def start_site(home: Path) -> Site:
    node = AnvilNode(port=0, chain_id=PRIMARY_CHAIN, log_path=home / "anvil.log")
    node.start()
    chains = {PRIMARY_CHAIN: node}
    usdc: dict[int, str] = {PRIMARY_CHAIN: str(deploy_demo_usdc(node.web3()))}
    rpc_port, admin_port, metrics_port = free_port(), free_port(), free_port()
    config = write_config(home, chains, usdc, rpc_port=rpc_port, admin_port=admin_port,
                          metrics_port=metrics_port)
    admin_url = f"http://localhost:{admin_port}"
    with config.open("a") as out:
        out.write(f'[admin]\nrp_id = "localhost"\norigin = "{admin_url}"\n')
    studio = Studio(home=home, config=config, chains=chains, usdc=usdc, rpc_port=rpc_port,
                    admin_port=admin_port, metrics_port=metrics_port)
    init = studio.cli_raw("init")
    if init.returncode != 0:
        raise AssertionError(f"init failed: {init.stderr}")
    found = SETUP_LINK.search(init.stdout)
    if found is None:
        raise AssertionError(f"init printed no setup link: {init.stdout}")
    studio.start_server()
    _wait_for(f"{admin_url}/healthz")
    return Site(studio=studio, admin_url=admin_url, first_setup_link=found.group(0))


def stop_site(site: Site) -> None:
    site.studio.stop_servers()
    for node in site.studio.chains.values():
        node.stop()


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium; its absence fails the test (CONVENTIONS.md: never skip)."""
    if shutil.which(CHROMIUM) is None:
        raise AssertionError(f"{CHROMIUM} is missing: run `make system-packages`")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@dataclass
class Authenticator:
    """A CDP virtual authenticator attached to one page."""

    cdp: CDPSession
    id: str

    def credentials(self) -> list[dict[str, Any]]:
        answer = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})
        credentials: list[dict[str, Any]] = answer["credentials"]
        return credentials

    def add_credential(self, credential: dict[str, Any]) -> None:
        self.cdp.send("WebAuthn.addCredential", {"authenticatorId": self.id,
                                                 "credential": credential})

    def remove(self) -> None:
        self.cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": self.id})


def add_authenticator(page: Page, *, user_verification: bool = True) -> Authenticator:
    """A platform passkey provider (ctap2, internal, resident keys); without user
    verification when asked, like a security key with no PIN or biometrics."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    answer = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "ctap2Version": "ctap2_1", "transport": "internal",
        "hasResidentKey": True, "hasUserVerification": user_verification,
        "isUserVerified": user_verification, "automaticPresenceSimulation": True}})
    return Authenticator(cdp=cdp, id=answer["authenticatorId"])


def screenshot(page: Page, name: str) -> Path:
    """A full-page screenshot under tests/artifacts/ (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@contextmanager
def accepting_dialogs(page: Page) -> Iterator[list[str]]:
    """Accept the confirm() dialogs raised inside the block; yields their messages."""
    messages: list[str] = []

    def accept(dialog: Any) -> None:
        messages.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    try:
        yield messages
    finally:
        page.remove_listener("dialog", accept)
