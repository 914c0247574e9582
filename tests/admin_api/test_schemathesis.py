"""Schemathesis against a real `serve`: every operation of /api/v1/openapi.json, called with
generated input, never answers 5xx, and every answer conforms to the document (status code,
content type, body schema).

Two passes over the whole document, each with its own credentials:
- an admin API token with `sessions:write,agents:write` (what automation uses). The operations
  a token may not use (tokens, /auth/me, step-up, passkeys, invites, logout) answer the
  documented 403 `passkey_required`, checked like any other answer;
- a passkey login (cookie + X-CSRF-Token, registered with `SoftAuthenticator` through the real
  ceremony), which reaches every handler, app sessions and tokens included. Logout is left out
  of this pass only, because it would end the login the rest of the pass uses; the token pass
  runs it, and test_passkeys.py tests it.

The passkey `finish` operations receive generated credentials, which py_webauthn refuses (400
`passkey_rejected`, documented); real ceremonies are in test_passkeys.py.

Every operation runs in both passes; query parameters are documented (test_openapi.py), so
Schemathesis generates them too.

The run is bounded: 25 examples per operation and no deadline (the server does real work:
SQLite, key generation); the module takes well under a minute on two cores.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from .served import ServedStudio, initialised_studio
from .soft_authenticator import SoftAuthenticator

pytestmark = pytest.mark.e2e

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
BOUNDED = settings(max_examples=25, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedStudio]:
    studio = initialised_studio(tmp_path_factory.mktemp("schemathesis"))
    try:
        studio.start()
        yield studio
    finally:
        studio.stop()


@dataclass(frozen=True)
class Caller:
    """Who the pass calls as, and the resources its path parameters are pinned to (random key
    hashes would only ever reach the 404 branch; those are tested in test_sessions.py)."""

    headers: dict[str, str]
    cookies: dict[str, str]
    pinned: dict[str, str]

    def call(self, case: schemathesis.Case) -> None:
        # Schemathesis fills the document's security schemes with generated values (an
        # `Authorization: Bearer ...` header, a `studio_session` cookie): replace them with
        # the caller's real credentials, or a generated bearer would hide the login.
        case.headers = {k: v for k, v in (case.headers or {}).items()
                        if k.lower() != "authorization"}
        case.cookies = dict(self.cookies)
        case.call_and_validate(headers=self.headers, checks=CHECKS, timeout=30)


def _session(served: ServedStudio, kind: str, *extra: str) -> str:
    artifact = served.cli("sessions", "create", "--type", kind, *extra, "--label", "fuzzed",
                          "--chains", "31337", "--permissions", "transfer", "--tokens",
                          "USDC,ETH", "--per-tx-limit", "10", "--daily-limit", "100",
                          "--expires-in", "7d")
    key_hash: str = artifact["key_hash"]
    return key_hash


@pytest.fixture(scope="module")
def token_caller(served: ServedStudio) -> Caller:
    """A writer token, pinned to an agent session of its workspace."""
    created: dict[str, Any] = served.cli("tokens", "create", "--name", "schemathesis",
                                         "--scope", "sessions:write,agents:write")
    served.cli("agents", "register", "fuzz-bot")
    return Caller(headers={"Authorization": f"Bearer {created['token']}"}, cookies={},
                  pinned={"key_hash": _session(served, "agent", "--agent", "fuzz-bot")})


@pytest.fixture(scope="module")
def login_caller(served: ServedStudio) -> Caller:
    """A passkey login of an invited admin, pinned to an app session and a token to revoke."""
    link: str = served.cli("admins", "invite", "--name", "fuzzer")["setup_link"]
    authenticator = SoftAuthenticator(origin=served.admin_url, rp_id="localhost")
    api = f"{served.admin_url}/api/v1"
    begun = requests.post(f"{api}/auth/register/begin",
                          json={"setup_token": link.partition("#")[2]}, timeout=10)
    assert begun.status_code == 200, begun.text
    finished = requests.post(f"{api}/auth/register/finish", timeout=10, json={
        "challenge_id": begun.json()["challenge_id"],
        "credential": authenticator.create(begun.json()["options"])})
    assert finished.status_code == 200, finished.text
    victim = served.cli("tokens", "create", "--name", "to-revoke", "--scope", "sessions:read")
    return Caller(headers={"X-CSRF-Token": finished.json()["csrf_token"]},
                  cookies={"studio_session": finished.cookies["studio_session"]},
                  pinned={"key_hash": _session(served, "app"), "token_id": victim["id"]})


def _schema(served: ServedStudio, caller: Caller) -> OpenApiSchema:
    schema = schemathesis.openapi.from_url(f"{served.admin_url}/api/v1/openapi.json",
                                           wait_for_schema=10.0)
    schema.config.update(base_url=served.admin_url, parameters=caller.pinned)
    return schema


@pytest.fixture(scope="module")
def token_schema(served: ServedStudio, token_caller: Caller) -> OpenApiSchema:
    return _schema(served, token_caller)


@pytest.fixture(scope="module")
def login_schema(served: ServedStudio, login_caller: Caller) -> OpenApiSchema:
    return _schema(served, login_caller)


as_token = schemathesis.pytest.from_fixture("token_schema")
as_login = schemathesis.pytest.from_fixture("login_schema")


@as_token.parametrize()
@BOUNDED
def test_with_an_admin_api_token_every_answer_conforms_and_none_is_a_server_error(
        case: schemathesis.Case, token_caller: Caller) -> None:
    token_caller.call(case)


@as_login.exclude(operation_id=["logout"]).parametrize()
@BOUNDED
def test_with_a_passkey_login_every_answer_conforms_and_none_is_a_server_error(
        case: schemathesis.Case, login_caller: Caller) -> None:
    login_caller.call(case)


def test_the_passes_cover_every_operation_of_the_document(served: ServedStudio) -> None:
    """Nothing silently left out: the passes above run every operation of the document."""
    document = requests.get(f"{served.admin_url}/api/v1/openapi.json", timeout=10).json()
    ids = {op["operationId"] for path in document["paths"].values() for op in path.values()}
    assert len(ids) == sum(len(path) for path in document["paths"].values())
    assert "logout" in ids  # run by the token pass
