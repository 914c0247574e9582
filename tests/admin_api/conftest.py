"""The admin API in-process: a real `Studio` (SQLite file, keystore, session service) and the
real admin aiohttp application, driven through pytest-aiohttp's `aiohttp_client`.

Why in-process rather than `serve` as a subprocess: every test gets its own database in a few
milliseconds, and the admin plane's clock can be moved (step-up windows, challenge and token
expiry) without sleeping. Everything else is the real thing: the request pipeline, pydantic
validation, py_webauthn verification of passkeys made by `SoftAuthenticator`, the store.
The chains point at a closed port (http://127.0.0.1:1): nothing here signs, and creating,
listing, revoking, rotating and exporting sessions never contacts a chain. The events of a real
signing request are tested against anvil and `serve` in test_events_e2e.py, and Schemathesis
runs against `serve` in test_schemathesis.py.

The studio is built by the composition root, as `serve` builds it, around a `ManualClock`
(tests/manual_clock.py): the real time plus an offset a test may advance. It is the one clock of
every part, the admin plane's windows as well as the sessions' expiry.
"""

from __future__ import annotations

import base64
import json as jsonlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient
from manual_clock import ManualClock
from offline_config import chains_toml
from session_studio.admin_ui import AdminDeps, create_admin_app
from session_studio.policy import Permission, parse_amount
from session_studio.store import Scope, SessionType, SessionUsage, Workspace

from session_studio._app import Studio
from session_studio.services import SessionSpec
from session_studio.settings import load_settings

from .soft_authenticator import SoftAuthenticator

LOCAL_CHAIN = 31337
SECOND_CHAIN = 84532
UNCONFIGURED_CHAIN = 999
PUBLIC_RPC_URL = "http://127.0.0.1:8645"
ORIGIN = "http://localhost:8646"
RP_ID = "localhost"
API = "/api/v1"
MINUTE_MS = 60_000
KEY_HASH_OF_NOBODY = "0x" + "ab" * 32

CONFIG = f"""\
[server]
public_rpc_url = "{PUBLIC_RPC_URL}"

[database]
path = "studio.db"

[admin]
rp_id = "{RP_ID}"
origin = "{ORIGIN}"

{chains_toml(LOCAL_CHAIN, SECOND_CHAIN)}"""


# -- how a request authenticates ------------------------------------------------------------
@dataclass(frozen=True)
class Bearer:
    """An admin API token (`ssa_...`)."""

    token: str


@dataclass(frozen=True)
class Login:
    """A logged-in browser: the `studio_session` cookie and the CSRF token from /auth/me."""

    cookie: str
    csrf: str


Auth = Bearer | Login | None
_DEFAULT = object()


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: Any

    @property
    def error(self) -> dict[str, Any]:
        """The `error` object of an error answer."""
        assert isinstance(self.body, dict) and "error" in self.body, self.body
        error: dict[str, Any] = self.body["error"]
        return error

    @property
    def cookie(self) -> str | None:
        """The value of the `studio_session` cookie this answer sets, if any."""
        for header in self.headers.getall("Set-Cookie", []):
            name, _, rest = header.partition("=")
            if name.strip() == "studio_session":
                return rest.split(";", 1)[0].strip('"')
        return None


@dataclass
class AdminPlane:
    """The running admin app and the studio behind it, with helpers that read like the API."""

    client: TestClient[Any, Any]
    studio: Studio
    deps: AdminDeps
    clock: ManualClock
    workspaces: dict[str, Workspace]
    authenticators: list[SoftAuthenticator] = field(default_factory=list)

    # -- raw calls ---------------------------------------------------------------------------
    async def call(self, method: str, path: str, *, auth: Auth = None,
                   json: Any = _DEFAULT, data: bytes | str | None = None,
                   params: dict[str, str] | None = None, csrf: Any = _DEFAULT,
                   headers: dict[str, str] | None = None) -> Reply:
        """`csrf`: by default a `Login` sends its CSRF token on every request; pass None to
        leave the header out, or a string to send that instead."""
        sent: dict[str, str] = {}
        if isinstance(auth, Bearer):
            sent["Authorization"] = f"Bearer {auth.token}"
        elif isinstance(auth, Login):
            sent["Cookie"] = f"studio_session={auth.cookie}"
            token = auth.csrf if csrf is _DEFAULT else csrf
            if token is not None:
                sent["X-CSRF-Token"] = token
        sent.update(headers or {})
        kwargs: dict[str, Any] = {"headers": sent}
        if json is not _DEFAULT:
            kwargs["json"] = json
        if data is not None:
            kwargs["data"] = data
        if params is not None:
            kwargs["params"] = params
        async with self.client.request(method, API + path, **kwargs) as response:
            text = await response.text()
            try:
                body: Any = jsonlib.loads(text) if text else None
            except ValueError:
                body = text
            return Reply(status=response.status, body=body, headers=response.headers)

    async def get(self, path: str, *, auth: Auth = None,
                  params: dict[str, str] | None = None) -> Reply:
        return await self.call("GET", path, auth=auth, params=params)

    async def post(self, path: str, body: Any = _DEFAULT, *, auth: Auth = None,
                   csrf: Any = _DEFAULT) -> Reply:
        return await self.call("POST", path, auth=auth, json=body, csrf=csrf)

    # -- credentials -------------------------------------------------------------------------
    async def token(self, *scopes: str, workspace: str = "alpha",
                    expires_in_s: int | None = None) -> Bearer:
        """An admin API token, made as `session-studio tokens create` makes it."""
        _, secret = await self.deps.accounts.create_api_token(
            self.workspaces[workspace], name=f"test-{secrets.token_hex(3)}",
            scopes=frozenset(Scope(s) for s in scopes), expires_in_s=expires_in_s,
            created_by=None, actor="cli:test")
        return Bearer(secret)

    async def writer(self, workspace: str = "alpha") -> Bearer:
        return await self.token("sessions:write", "agents:write", workspace=workspace)

    async def setup_token(self, workspace: str = "alpha", admin_name: str = "admin") -> str:
        """The secret of a one-time setup link (what follows `#` in the printed URL)."""
        link = await self.deps.accounts.issue_setup_link(
            self.workspaces[workspace], admin_name=admin_name, actor="cli:test")
        assert link.startswith(f"{ORIGIN}/setup#ssu_"), link
        return link.partition("#")[2]

    def authenticator(self, *, counter: bool = True) -> SoftAuthenticator:
        authenticator = SoftAuthenticator(origin=ORIGIN, rp_id=RP_ID, counter=counter)
        self.authenticators.append(authenticator)
        return authenticator

    async def begin_registration(self, setup_token: str) -> dict[str, Any]:
        begun = await self.post("/auth/register/begin", {"setup_token": setup_token})
        assert begun.status == 200, begun.body
        result: dict[str, Any] = begun.body
        return result

    async def register(self, authenticator: SoftAuthenticator | None = None, *,
                       workspace: str = "alpha", admin_name: str = "admin") -> Login:
        """Redeem a fresh setup link with a new passkey; the answer logs in."""
        authenticator = authenticator or self.authenticator()
        begun = await self.begin_registration(await self.setup_token(workspace, admin_name))
        finished = await self.post("/auth/register/finish", {
            "challenge_id": begun["challenge_id"],
            "credential": authenticator.create(begun["options"])})
        assert finished.status == 200, finished.body
        assert finished.cookie is not None
        return Login(cookie=finished.cookie, csrf=finished.body["csrf_token"])

    async def login(self, authenticator: SoftAuthenticator, **assertion: Any) -> Reply:
        """A full passkey login; `assertion` forges the authenticator's answer."""
        begun = await self.post("/auth/login/begin")
        assert begun.status == 200, begun.body
        return await self.post("/auth/login/finish", {
            "challenge_id": begun.body["challenge_id"],
            "credential": authenticator.get(begun.body["options"], **assertion)})

    async def logged_in(self, authenticator: SoftAuthenticator) -> Login:
        reply = await self.login(authenticator)
        assert reply.status == 200, reply.body
        assert reply.cookie is not None
        return Login(cookie=reply.cookie, csrf=reply.body["csrf_token"])

    async def step_up(self, login: Login, authenticator: SoftAuthenticator) -> Reply:
        begun = await self.post("/auth/step-up/begin", auth=login)
        assert begun.status == 200, begun.body
        return await self.post("/auth/step-up/finish", {
            "challenge_id": begun.body["challenge_id"],
            "credential": authenticator.get(begun.body["options"])}, auth=login)

    # -- sessions and agents -----------------------------------------------------------------
    async def register_agent(self, auth: Auth, name: str) -> dict[str, Any]:
        reply = await self.post("/agents", {"name": name}, auth=auth)
        assert reply.status == 201, reply.body
        result: dict[str, Any] = reply.body
        return result

    async def create_session(self, auth: Auth, **fields: Any) -> dict[str, Any]:
        reply = await self.post("/sessions", session_body(**fields), auth=auth)
        assert reply.status == 201, reply.body
        result: dict[str, Any] = reply.body
        return result

    async def seed_session(self, *, workspace: str = "alpha", type: str = "app",
                           agent: str | None = None, label: str = "seeded",
                           chain_ids: tuple[int, ...] = (LOCAL_CHAIN,),
                           lifetime_s: int = 7 * 86400,
                           last_used_at_ms: int | None = None) -> dict[str, Any]:
        """A session made through the session service, not the API: for tests about reading
        and revoking, where how it was made does not matter (app sessions through the API need
        a passkey step-up each)."""
        spec = SessionSpec(
            type=SessionType(type), label=label, agent=agent, chain_ids=chain_ids,
            permissions=(Permission.TRANSFER,), tokens=("ETH",), limit_unit="USD",
            per_tx=parse_amount("10"), daily=parse_amount("100"), lifetime_s=lifetime_s)
        ws = self.workspaces[workspace]
        artifact = (await self.studio.service.create_session(ws, spec,
                                                             actor="cli:test")).as_json()
        if last_used_at_ms is not None:
            session = await self.studio.service.get_session(ws, artifact["key_hash"])
            await self.studio.store.record_usage([SessionUsage(
                session_id=session.id, requests=1, last_used_at_ms=last_used_at_ms)])
        return artifact


def session_body(**fields: Any) -> dict[str, Any]:
    """A valid `POST /sessions` body (an agent session needs `agent`); `fields` override."""
    body: dict[str, Any] = {
        "type": "agent", "label": "payouts", "chain_ids": [LOCAL_CHAIN],
        "permissions": ["transfer"], "tokens": ["USDC", "ETH"], "per_tx_limit": "10",
        "daily_limit": "100", "expires_in": "7d"}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def write_config(root: Path) -> Path:
    config = root / "session-studio.toml"
    config.write_text(CONFIG)
    return config


MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def admin(tmp_path: Path, aiohttp_client: MakeClient) -> AsyncIterator[AdminPlane]:
    """A fresh studio (workspaces `alpha` and `beta`) behind the admin app, one per test."""
    master_env = {"SESSION_STUDIO_MASTER_KEY":
                  base64.b64encode(secrets.token_bytes(32)).decode()}
    settings = load_settings(write_config(tmp_path))
    clock = ManualClock()
    studio = await Studio.open(settings, env=master_env, clock=clock)
    try:
        workspaces = {name: await studio.service.create_workspace(name, actor="cli:test")
                      for name in ("alpha", "beta")}
        # No cookie jar: every request says exactly which credentials it carries.
        client = await aiohttp_client(create_admin_app(studio.admin, version="0.0.0-test"),
                                      cookie_jar=DummyCookieJar())
        yield AdminPlane(client=client, studio=studio, deps=studio.admin, clock=clock,
                         workspaces=workspaces)
    finally:
        await studio.close()
