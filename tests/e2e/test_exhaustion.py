"""Catalogue 14 and the nonce half of 15: requests built to cost the sidecar work or break its
arithmetic, tried against the real `serve` + anvil.

One request may cost milliseconds, never seconds, and never while it holds the ledger's lock;
the server keeps answering everyone else meanwhile. Timing bounds here are deliberately
generous (the machine is shared): they tell "answered at once" from "froze for seconds", and the
measured figures live in bench/exhaustion.py.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from session_studio_dev import free_port

from .harness import PRIMARY_CHAIN, Studio

pytestmark = pytest.mark.e2e

RPC_NESTING_CAP = 64  # session_studio.proxy._envelope MAX_NESTING
ADMIN_NESTING_CAP = 32  # session_studio.admin_ui._operations MAX_NESTING
PROMPT_S = 3.0  # "answered at once", with room for a loaded CI machine


# -- helpers ---------------------------------------------------------------------------------
def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    target = urlsplit(url)
    conn = http.client.HTTPConnection(target.hostname or "", target.port, timeout=120)
    try:
        conn.request("POST", target.path, body=body,
                     headers={"Content-Type": "application/json", **headers})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _healthz_answers_within(url: str, seconds: float) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=seconds) as answer:
            return int(answer.status) == 200
    except OSError:
        return False


def _while_attacking(attack: Callable[[], tuple[int, bytes]], healthz: str
                     ) -> tuple[int, bytes, float, list[bool]]:
    """Run `attack` in a thread and probe `healthz` meanwhile: (status, body, seconds the attack
    took, whether each probe was answered promptly)."""
    outcome: list[Any] = []

    def run() -> None:
        started = time.monotonic()
        status, body = attack()
        outcome.extend((status, body, time.monotonic() - started))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    probes = []
    for _ in range(3):
        time.sleep(0.05)
        probes.append(_healthz_answers_within(healthz, PROMPT_S))
    thread.join(timeout=120)
    assert outcome, "the attack got no answer within 120 s"
    return outcome[0], outcome[1], outcome[2], probes


def escaped_quotes(size: int, *, brackets: int) -> bytes:
    """More brackets than the cap, then one open string of escaped quotes: the body that made
    the old regex guard backtrack over the whole rest of the body from every quote."""
    head = b"[" * brackets + b'"'
    return head + b'\\"' * ((size - len(head)) // 2)


def rpc_call(studio: Studio, credential: str, method: str, params: list[Any]) -> Any:
    status, raw = _post(studio.rpc_url(), json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode(),
        {"Authorization": f"Bearer {credential}"})
    assert status == 200, raw
    return json.loads(raw)


# -- item 10: the JSON nesting guard was quadratic --------------------------------------------
@pytest.mark.parametrize("size", [40 * 1024, 200 * 1024], ids=["40KB", "200KB"])
def test_escaped_quote_body_is_refused_at_once_on_the_rpc_plane(studio: Studio,
                                                                 size: int) -> None:
    session = studio.create_session(type_="app", fund=False)
    body = escaped_quotes(size, brackets=RPC_NESTING_CAP + 1)

    status, raw, seconds, probes = _while_attacking(
        lambda: _post(studio.rpc_url(), body, {"Authorization": f"Bearer {session['credential']}"}),
        f"http://127.0.0.1:{studio.rpc_port}/healthz")

    assert probes == [True, True, True], "the server froze while parsing one body"
    assert status == 200
    answer = json.loads(raw)
    assert answer["id"] is None and answer["error"]["code"] == -32700, answer
    assert seconds < PROMPT_S


@pytest.mark.parametrize("size", [40 * 1024, 200 * 1024], ids=["40KB", "200KB"])
def test_escaped_quote_body_is_refused_at_once_on_a_public_admin_endpoint(studio: Studio,
                                                                          size: int) -> None:
    # No credential needed: login/finish is where a passkey assertion arrives.
    body = escaped_quotes(size, brackets=ADMIN_NESTING_CAP + 1)

    status, raw, seconds, probes = _while_attacking(
        lambda: _post(f"http://127.0.0.1:{studio.admin_port}/api/v1/auth/login/finish", body,
                      {}),
        f"http://127.0.0.1:{studio.rpc_port}/healthz")

    assert probes == [True, True, True], "the server froze while parsing one body"
    assert status == 400, raw
    assert json.loads(raw)["error"]["code"] == "bad_json"
    assert seconds < PROMPT_S


def test_typed_data_nested_deeply_behind_unicode_escapes_is_invalid_params(
        studio: Studio) -> None:
    # `\u005b` is "[": the outer body holds one flat string, the typed data inside it nests
    # 50 000 deep. The typed data is parsed by the same parser with the same cap.
    session = studio.create_session(type_="app", permissions="sign_typed_data", fund=False)
    depth = 50_000
    inner = "\\u005b" * depth + "\\u005d" * depth
    body = ('{"jsonrpc":"2.0","id":7,"method":"eth_signTypedData_v4","params":["'
            + session["address"] + '","' + inner + '"]}').encode()

    status, raw = _post(studio.rpc_url(), body,
                        {"Authorization": f"Bearer {session['credential']}"})

    assert status == 200
    answer = json.loads(raw)
    assert answer["id"] == 7 and answer["error"]["code"] == -32602, answer
    assert "nested deeper" in answer["error"]["message"]


def test_deep_nesting_in_utf16_is_a_parse_error_and_the_server_survives(studio: Studio) -> None:
    # json.loads reads UTF-16 bytes; the old regex guard read them as if they were UTF-8, so an
    # escaped quote ended its string early and the brackets that followed looked like string
    # content. py_ecc (loaded by the first signature) lets the recursion run into the C stack.
    port = free_port()
    server = studio.start_server(rpc_port=port)
    session = studio.create_session(type_="app", permissions="sign_message", fund=False)
    url = studio.rpc_url(port=port)
    headers = {"Authorization": f"Bearer {session['credential']}"}
    signed = _post(url, json.dumps({"jsonrpc": "2.0", "id": 1, "method": "personal_sign",
                                    "params": ["0x68656c6c6f", session["address"]]}).encode(),
                   headers)
    assert "result" in json.loads(signed[1]), signed
    text = '["\\"", ' + "[" * 120_000 + ' "x"'
    try:
        status, raw = _post(url, text.encode("utf-16-le"), headers)
    except (ConnectionError, http.client.HTTPException) as exc:
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=5)
        raise AssertionError(f"connection dropped ({exc!r}); serve exit code "
                             f"{server.poll()}") from exc
    assert status == 200
    answer = json.loads(raw)
    assert answer["id"] is None and answer["error"]["code"] == -32700, answer
    assert server.poll() is None


# -- item 12: nonce overflow ------------------------------------------------------------------
GWEI = 10**9
NEAR_2_63 = 2**63 - 2  # the largest nonce whose successor SQLite's signed INTEGER still holds


def _transfer(session: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"from": session["address"], "to": "0x000000000000000000000000000000000000dEaD",
            "value": hex(1), "gas": hex(21_000), "maxFeePerGas": hex(2 * GWEI),
            "maxPriorityFeePerGas": hex(GWEI), **fields}


def _normal_send_is_mined(studio: Studio, session: dict[str, Any]) -> None:
    answer = rpc_call(studio, session["credential"], "eth_sendTransaction", [_transfer(session)])
    assert "result" in answer, answer
    receipt = studio.chain_web3().eth.wait_for_transaction_receipt(answer["result"], timeout=30)
    assert receipt["status"] == 1


@pytest.mark.parametrize("method", ["eth_signTransaction", "eth_sendTransaction"])
def test_explicit_nonce_near_2_63_does_not_break_the_sessions_next_sends(
        studio: Studio, method: str) -> None:
    session = studio.create_session(type_="app")
    _normal_send_is_mined(studio, session)

    far = rpc_call(studio, session["credential"], method,
                   [_transfer(session, nonce=hex(NEAR_2_63))])

    # Signed (and, for a send, whatever the node makes of it), but the sidecar's own nonces
    # carry on from the chain's count instead of from 2**63 - 1, which overflowed before.
    assert "result" in far or far["error"]["code"] != -32603, far
    for _ in range(2):
        _normal_send_is_mined(studio, session)


@pytest.mark.parametrize("nonce", [2**63 - 1, 2**63, 2**64 - 2, 2**64 - 1, 2**64, 2**256 - 1],
                         ids=["2^63-1", "2^63", "2^64-2", "2^64-1", "2^64", "2^256-1"])
def test_explicit_nonce_beyond_what_an_account_can_reach_is_invalid_params(
        studio: Studio, nonce: int) -> None:
    session = studio.create_session(type_="app")
    before = studio.chain_web3().eth.get_transaction_count(session["address"], "pending")
    for method in ("eth_signTransaction", "eth_sendTransaction"):
        answer = rpc_call(studio, session["credential"], method,
                          [_transfer(session, nonce=hex(nonce))])
        assert "result" not in answer, answer
        assert answer["error"]["code"] == -32602, answer
        assert "nonce" in answer["error"]["message"]
    assert studio.chain_web3().eth.get_transaction_count(session["address"], "pending") == before
    _normal_send_is_mined(studio, session)


# -- item 11: typed data held the ledger lock for minutes -------------------------------------
MAIL_APP = "0x00000000000000000000000000000000000a11ce"


def types_times_instances(types: int, instances: int) -> dict[str, Any]:
    """A chain of `types` structs and `instances` empty-looking instances of its head: cheap to
    send, and eth-account walks every type again for every instance it hashes."""
    declared: dict[str, Any] = {
        "EIP712Domain": [{"name": "chainId", "type": "uint256"},
                         {"name": "verifyingContract", "type": "address"}],
        "Main": [{"name": "items", "type": "T0[]"}]}
    for i in range(types - 1):
        declared[f"T{i}"] = [{"name": "n", "type": f"T{i + 1}[]"}]
    declared[f"T{types - 1}"] = []
    return {"types": declared, "primaryType": "Main",
            "domain": {"chainId": PRIMARY_CHAIN, "verifyingContract": MAIL_APP},
            "message": {"items": [{"n": []}] * instances}}


def test_typed_data_of_many_types_times_instances_is_refused_and_never_holds_the_ledger(
        studio: Studio) -> None:
    attacker = studio.create_session(type_="app", permissions="sign_typed_data",
                                     contracts=MAIL_APP, fund=False)
    bystander = studio.create_session(type_="app")
    payload = json.dumps(types_times_instances(300, 20_000))
    timing: dict[str, float] = {}

    def attack() -> tuple[int, bytes]:
        return _post(studio.rpc_url(), json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": "eth_signTypedData_v4",
             "params": [attacker["address"], payload]}).encode(),
            {"Authorization": f"Bearer {attacker['credential']}"})

    outcome: list[Any] = []
    thread = threading.Thread(target=lambda: outcome.append(attack()), daemon=True)
    started = time.monotonic()
    thread.start()
    time.sleep(0.2)  # the attack is parsed, decided and, before the fix, in the ledger by now
    before = time.monotonic()
    signed = rpc_call(studio, bystander["credential"], "eth_signTransaction",
                      [_transfer(bystander, nonce=hex(0))])
    timing["bystander"] = time.monotonic() - before
    thread.join(timeout=300)
    timing["attack"] = time.monotonic() - started

    assert "result" in signed, signed
    assert timing["bystander"] < PROMPT_S, timing
    assert outcome, "the attack got no answer"
    status, raw = outcome[0]
    answer = json.loads(raw)
    assert status == 200 and answer["error"]["code"] == -32602, answer
    assert "types" in answer["error"]["message"]
    assert timing["attack"] < PROMPT_S + 0.2, timing
