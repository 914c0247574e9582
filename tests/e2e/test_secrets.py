"""Attack catalogue 10: no key material or credential in the database, logs, errors or answers.

The test drives real traffic (allowed and refused sends, malformed input, a credential in the
URL path, a wrong credential), then recovers every session's private key from its sealed blob
(with the master key, as only the keystore can) and searches every byte the sidecar wrote or
answered for each secret in every encoding it could take.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from contextlib import closing
from typing import Any

import pytest
from session_studio.keystore import KeyContext, load_master_key
from session_studio.keystore._envelope import KeyEnvelope
from web3 import Web3
from web3.exceptions import Web3RPCError

from .harness import PRIMARY_CHAIN, Studio

pytestmark = pytest.mark.e2e

TO = Web3.to_checksum_address("0x000000000000000000000000000000000000beef")


def _post(url: str, body: bytes, headers: dict[str, str]) -> bytes:
    request = urllib.request.Request(url, data=body, headers={
        "Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as error:
        return bytes(error.read())


def _traffic(studio: Studio, session: dict[str, Any]) -> list[bytes]:
    """Allowed, refused and malformed requests; returns every answer body."""
    answers: list[bytes] = []
    w3 = studio.web3(session)
    me = session["address"]
    w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"from": me, "to": TO, "value": 1}))
    try:
        w3.eth.send_transaction({"from": me, "to": TO, "value": 10**21})
    except Web3RPCError as refused:
        answers.append(json.dumps(refused.rpc_response).encode())
    url = studio.rpc_url(PRIMARY_CHAIN)
    bearer = {"Authorization": f"Bearer {session['credential']}"}
    for body in (b"{not json", b'{"jsonrpc":"2.0","id":1,"method":"eth_sign","params":[]}',
                 b'{"jsonrpc":"2.0","id":2,"method":"eth_sendTransaction","params":[{"x":1}]}',
                 b'{"jsonrpc":"2.0","id":3,"method":"eth_chainId"}'):
        answers.append(_post(url, body, bearer))
        answers.append(_post(f"{url}/{session['credential']}", body, {}))
    answers.append(_post(url, b'{"jsonrpc":"2.0","id":4,"method":"eth_chainId"}',
                         {"Authorization": "Bearer sst_" + "A" * 43}))
    return answers


def _private_keys(studio: Studio, key_hashes: list[str]) -> list[bytes]:
    envelope = KeyEnvelope(load_master_key(path=studio.home / "master.key", env={}))
    with closing(sqlite3.connect(studio.home / "studio.db")) as db:
        rows = db.execute(
            "SELECT id, workspace_id, sealed_key FROM sessions WHERE key_hash IN "
            f"({','.join('?' * len(key_hashes))})", key_hashes).fetchall()
    return [envelope.open(sealed, KeyContext(workspace_id=ws, session_id=sid))
            for sid, ws, sealed in rows]


def _encodings(secret: bytes | str) -> list[bytes]:
    if isinstance(secret, str):
        return [secret.encode()]
    return [secret, secret.hex().encode(), secret.hex().upper().encode(),
            ("0x" + secret.hex()).encode()]


def test_no_credential_or_private_key_reaches_disk_logs_or_answers(studio: Studio) -> None:
    app = studio.create_session(type_="app")
    agent = studio.create_session()
    answers = [*_traffic(studio, app), *_traffic(studio, agent)]
    keys = _private_keys(studio, [app["key_hash"], agent["key_hash"]])
    assert len(keys) == 2
    secrets = [app["credential"], agent["credential"], *keys]

    written = [p for p in studio.home.iterdir()
               if p.name.startswith(("studio.db", "serve-")) and p.is_file()]
    assert any(p.name.startswith("serve-") for p in written)
    haystacks = {p.name: p.read_bytes() for p in written}
    haystacks.update({f"answer {i}": a for i, a in enumerate(answers)})
    leaks = [(name, secrets.index(secret)) for secret in secrets
             for encoded in _encodings(secret) for name, data in haystacks.items()
             if encoded in data]
    assert leaks == []
