"""What a passkey guards, an admin API token cannot reach around (catalogue: admin plane).

Creating an app session needs a person with a fresh passkey assertion. Exporting or rotating
one hands out its credential just the same, so a `sessions:write` token must get 403
`passkey_required` there too, and the session must be left exactly as it was: same credential,
still signing. Agent sessions stay manageable with tokens (that is what tokens are for).
Everything runs against the real `serve` and anvil.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from .harness import Studio

pytestmark = pytest.mark.e2e


def _admin(studio: Studio, method: str, path: str, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{studio.admin_port}/api/v1{path}", method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        data=b"{}" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture(scope="module")
def writer_token(studio: Studio) -> str:
    token: str = studio.cli("tokens", "create", "--scope", "sessions:write")["token"]
    return token


def _still_signs(studio: Studio, artifact: dict[str, Any]) -> None:
    w3 = studio.web3(artifact)
    tx = w3.eth.send_transaction({"from": artifact["address"],
                                  "to": "0x000000000000000000000000000000000000dEaD",
                                  "value": 10**12})
    assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 1


def test_token_cannot_export_an_app_sessions_credential(studio: Studio,
                                                        writer_token: str) -> None:
    app = studio.create_session(type_="app", label="token-export")
    status, body = _admin(studio, "GET", f"/sessions/{app['key_hash']}/export", writer_token)
    assert (status, body["error"]["code"]) == (403, "passkey_required")
    assert app["credential"] not in json.dumps(body)


def test_token_cannot_rotate_an_app_session(studio: Studio, writer_token: str) -> None:
    app = studio.create_session(type_="app", label="token-rotate")
    status, body = _admin(studio, "POST", f"/sessions/{app['key_hash']}/rotate", writer_token)
    assert (status, body["error"]["code"]) == (403, "passkey_required")
    shown = studio.cli("sessions", "show", app["key_hash"])
    assert shown["status"] == "active"
    _still_signs(studio, app)


def test_token_still_exports_and_rotates_agent_sessions(studio: Studio,
                                                        writer_token: str) -> None:
    agent = studio.create_session(type_="agent", label="token-agent")
    status, exported = _admin(studio, "GET", f"/sessions/{agent['key_hash']}/export",
                              writer_token)
    assert status == 200 and exported["key_hash"] == agent["key_hash"]
    status, successor = _admin(studio, "POST", f"/sessions/{agent['key_hash']}/rotate",
                               writer_token)
    assert status == 200 and successor["key_hash"] != agent["key_hash"]
