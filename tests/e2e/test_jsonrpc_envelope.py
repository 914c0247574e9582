"""JSON-RPC 2.0 by the letter, over raw HTTP: what a strict client or a hostile one sends.

Every body here is written by hand (no client library to tidy it up) and posted with urllib.
The rules come from the JSON-RPC 2.0 spec and CONTRACT.md: `id` echoed exactly (null when it
cannot be read), no answer to notifications, one error for an empty or oversized batch, HTTP 200
for every JSON-RPC answer except a bad credential (401) and an oversized body (413); malformed
input is refused with a clear error, nothing is signed, and the server keeps serving.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import subprocess
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import pytest
from eth_account import Account
from session_studio_dev import free_port

from .harness import PRIMARY_CHAIN, Studio

pytestmark = pytest.mark.e2e

GWEI = 10**9
CHAIN_ID_HEX = hex(PRIMARY_CHAIN)


# -- helpers ---------------------------------------------------------------------------------
def post(url: str, body: bytes, *, credential: str | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """POST raw bytes; (HTTP status, raw body) whatever the status."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if credential is not None:
        all_headers["Authorization"] = f"Bearer {credential}"
    target = urlsplit(url)
    conn = http.client.HTTPConnection(target.hostname or "", target.port, timeout=60)
    try:
        conn.request("POST", target.path, body=body, headers=all_headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def call(studio: Studio, session: dict[str, Any], payload: Any, *,
         chain_id: int = PRIMARY_CHAIN) -> Any:
    """Post a JSON payload with the session's credential; expects HTTP 200 and a JSON answer."""
    status, body = post(studio.rpc_url(chain_id), json.dumps(payload).encode(),
                        credential=session["credential"])
    assert status == 200, body
    return json.loads(body)


def post_bytes(studio: Studio, session: dict[str, Any], body: bytes) -> tuple[int, bytes]:
    return post(studio.rpc_url(), body, credential=session["credential"])


def request(method: str, params: list[Any] | None = None, id_: Any = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "method": method, "params": params or []}


def notification(method: str, params: list[Any] | None = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": params or []}


def assert_error(answer: Any, code: int, id_: Any) -> dict[str, Any]:
    assert isinstance(answer, dict), answer
    assert answer["jsonrpc"] == "2.0"
    assert "result" not in answer, answer
    assert answer["id"] == id_ and type(answer["id"]) is type(id_), answer
    error: dict[str, Any] = answer["error"]
    assert error["code"] == code, answer
    assert isinstance(error["message"], str) and error["message"]
    return error


def transfer(session: dict[str, Any], to: str, value: int = 1) -> dict[str, Any]:
    return {"from": session["address"], "to": to, "value": hex(value), "gas": hex(21_000),
            "maxFeePerGas": hex(2 * GWEI), "maxPriorityFeePerGas": hex(GWEI)}


def on_chain(studio: Studio, address: str) -> tuple[int, int, int]:
    w3 = studio.chain_web3()
    return (w3.eth.get_transaction_count(address, "pending"), w3.eth.get_balance(address),
            studio.usdc_balance(address))


def fresh_address() -> str:
    return str(Account.create().address)


# -- parse errors and invalid requests -------------------------------------------------------
def test_bad_json_is_a_parse_error_with_null_id(studio: Studio) -> None:
    session = studio.create_session(type_="app", fund=False)
    bodies = [b"{", b"nope", b"", b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId",}',
              b'{"jsonrpc":"2.0","id":NaN,"method":"eth_chainId"}', b"\xff\xfe{}",
              b'[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}']
    for body in bodies:
        status, raw = post_bytes(studio, session, body)
        assert status == 200, body
        assert_error(json.loads(raw), -32700, None)


def test_non_object_request_is_an_invalid_request_with_null_id(studio: Studio) -> None:
    session = studio.create_session(type_="app", fund=False)
    for payload in (1, "eth_chainId", None, True, [1, 2]):
        answer = call(studio, session, payload)
        answers = answer if isinstance(payload, list) else [answer]
        assert len(answers) == (len(payload) if isinstance(payload, list) else 1)
        for each in answers:
            assert_error(each, -32600, None)


def test_malformed_envelope_is_an_invalid_request_that_keeps_its_id(studio: Studio) -> None:
    session = studio.create_session(type_="app", fund=False)
    envelopes = [
        {"jsonrpc": "1.0", "id": 7, "method": "eth_chainId"},
        {"id": 8, "method": "eth_chainId"},
        {"jsonrpc": 2.0, "id": 9, "method": "eth_chainId"},
        {"jsonrpc": "2.0", "id": 10, "method": 5},
        {"jsonrpc": "2.0", "id": 11},
        {"jsonrpc": "2.0", "id": 12, "method": "eth_chainId", "params": "0x1"},
    ]
    for envelope in envelopes:
        assert_error(call(studio, session, envelope), -32600, envelope["id"])


def test_a_method_that_is_not_a_string_is_an_invalid_request_alone_or_in_a_batch(
        studio: Studio) -> None:
    """Unhashable methods (a list, an object) once met a set lookup before the envelope was
    validated: -32603 instead of -32600."""
    session = studio.create_session(type_="app", fund=False)
    for method in ([], {"a": 1}):
        envelope = {"jsonrpc": "2.0", "id": 21, "method": method}
        assert_error(call(studio, session, envelope), -32600, 21)
        batch = call(studio, session, [envelope, request("eth_chainId", id_=22)])
        assert_error(batch[0], -32600, 21)
        assert batch[1]["result"] == hex(PRIMARY_CHAIN)


def test_id_is_echoed_exactly(studio: Studio) -> None:
    session = studio.create_session(type_="app", fund=False)
    for id_ in ("abc", "", "0x1", "1", 0, 42, -7, 2**70, None):
        status, raw = post_bytes(studio, session,
                                 json.dumps(request("eth_chainId", id_=id_)).encode())
        assert status == 200
        answer = json.loads(raw)
        assert answer == {"jsonrpc": "2.0", "id": id_, "result": CHAIN_ID_HEX}, raw
        assert type(answer["id"]) is type(id_)


def test_id_of_the_wrong_type_is_an_invalid_request_with_null_id(studio: Studio) -> None:
    session = studio.create_session(type_="app", fund=False)
    for id_ in (True, False, 1.5, [1], {"id": 1}):
        assert_error(call(studio, session, request("eth_chainId", id_=id_)), -32600, None)


def test_params_by_name_are_invalid_params(studio: Studio) -> None:
    session = studio.create_session(type_="app", fund=False)
    payload = {"jsonrpc": "2.0", "id": "named", "method": "eth_getBalance",
               "params": {"address": session["address"], "block": "latest"}}
    assert_error(call(studio, session, payload), -32602, "named")


def test_unknown_method_is_method_not_found_in_geth_wording(studio: Studio) -> None:
    session = studio.create_session(type_="app")
    before = on_chain(studio, session["address"])
    # Node administration must never pass through to the upstream (anvil would obey it).
    for method in ("foo_bar", "anvil_setBalance", "evm_mine", "anvil_impersonateAccount",
                   "debug_traceTransaction", "eth_signTypedData"):
        params = [session["address"], hex(10**30)] if method == "anvil_setBalance" else []
        error = assert_error(call(studio, session, request(method, params)), -32601, 1)
        assert error["message"] == f"the method {method} does not exist/is not available"
    assert on_chain(studio, session["address"]) == before


# -- notifications and batches ---------------------------------------------------------------
def test_notifications_get_no_response(studio: Studio) -> None:
    session = studio.create_session(type_="app", fund=False)
    payloads: list[Any] = [notification("eth_chainId"), notification("eth_blockNumber"),
                           notification("no_such_method")]
    # A batch of nothing but notifications answers nothing at all, never `[]`.
    payloads.append([notification("eth_chainId"), notification("net_version")])
    for payload in payloads:
        status, raw = post_bytes(studio, session, json.dumps(payload).encode())
        assert (status, raw) == (200, b""), (payload, raw)


def test_notification_with_params_by_name_gets_no_response(studio: Studio) -> None:
    session = studio.create_session(type_="app", fund=False)
    payload = {"jsonrpc": "2.0", "method": "eth_getBalance",
               "params": {"address": session["address"]}}
    status, raw = post_bytes(studio, session, json.dumps(payload).encode())
    assert (status, raw) == (200, b"")


def test_notification_inside_a_batch_is_omitted(studio: Studio) -> None:
    session = studio.create_session(type_="app", fund=False)
    answer = call(studio, session, [request("eth_chainId", id_=1), notification("eth_chainId"),
                                    notification("no_such_method"),
                                    request("net_version", id_="two")])
    assert isinstance(answer, list)
    by_id = {each["id"]: each for each in answer}
    assert set(by_id) == {1, "two"}
    assert by_id[1]["result"] == CHAIN_ID_HEX
    assert by_id["two"]["result"] == str(PRIMARY_CHAIN)


def test_empty_batch_or_one_over_100_is_a_single_invalid_request(studio: Studio) -> None:
    session = studio.create_session(type_="app", fund=False)
    for batch_size in (0, 101):
        batch = [request("eth_chainId", id_=i) for i in range(batch_size)]
        assert_error(call(studio, session, batch), -32600, None)  # one object, not a list
    full = call(studio, session, [request("eth_chainId", id_=i) for i in range(100)])
    assert isinstance(full, list)
    assert sorted(each["id"] for each in full) == list(range(100))
    assert all(each["result"] == CHAIN_ID_HEX for each in full)


def test_batch_mixing_valid_and_invalid_entries_answers_each(studio: Studio) -> None:
    session = studio.create_session(type_="app")
    to = fresh_address()
    answer = call(studio, session, [
        request("eth_chainId", id_=1),
        42,
        request("no_such_method", id_=3),
        request("eth_sendTransaction", [transfer(session, to, 5)], id_=4),
        {"jsonrpc": "2.0", "id": 5, "method": "eth_getBalance", "params": {"a": 1}},
        request("eth_sendTransaction", [{**transfer(session, to), "value": "-0x1"}], id_=6),
        request("eth_blockNumber", id_=7),
    ])
    assert isinstance(answer, list) and len(answer) == 7
    by_id: dict[Any, list[dict[str, Any]]] = {}
    for each in answer:
        by_id.setdefault(each["id"], []).append(each)
    assert by_id[1][0]["result"] == CHAIN_ID_HEX
    assert_error(by_id[None][0], -32600, None)
    assert_error(by_id[3][0], -32601, 3)
    receipt = studio.chain_web3().eth.wait_for_transaction_receipt(by_id[4][0]["result"])
    assert receipt["status"] == 1
    assert_error(by_id[5][0], -32602, 5)
    assert_error(by_id[6][0], -32602, 6)
    assert int(by_id[7][0]["result"], 16) >= 0
    assert studio.chain_web3().eth.get_balance(to) == 5  # only entry 4 moved anything


# -- malformed transactions ------------------------------------------------------------------
MALFORMED_FIELDS: list[tuple[str, dict[str, Any]]] = [
    ("negative value", {"value": -1}),
    ("negative hex value", {"value": "-0x1"}),
    ("value of 2**256 as hex", {"value": hex(2**256)}),
    ("value of 2**256 as a number", {"value": 2**256}),
    ("value with 65 hex digits", {"value": "0x" + "0" * 64 + "1"}),
    ("odd-length data", {"data": "0xabc"}),
    ("non-hex data", {"data": "0xzz"}),
    ("non-hex quantity", {"value": "0xzz"}),
    ("decimal string quantity", {"value": "12"}),
    ("empty quantity", {"gas": "0x"}),
    ("fractional quantity", {"value": 1.5}),
    ("boolean quantity", {"value": True}),
    ("unknown field", {"foo": "0x1"}),
    ("short address", {"to": "0x1234"}),
    ("data and input differ", {"data": "0xab", "input": "0xcd"}),
    ("legacy and EIP-1559 fees", {"gasPrice": hex(GWEI)}),
    ("blob transaction", {"maxFeePerBlobGas": "0x1", "blobVersionedHashes": []}),
]


def test_malformed_transaction_fields_are_invalid_params_and_nothing_is_signed(
        studio: Studio) -> None:
    session = studio.create_session(type_="app")
    to = fresh_address()
    before, recipient_before = on_chain(studio, session["address"]), on_chain(studio, to)
    wrong: list[str] = []
    for name, fields in MALFORMED_FIELDS:
        for method in ("eth_sendTransaction", "eth_signTransaction"):
            answer = call(studio, session, request(method, [{**transfer(session, to), **fields}]))
            if answer.get("error", {}).get("code") != -32602 or "result" in answer:
                wrong.append(f"{method} with {name}: {answer}")
    assert wrong == []
    assert on_chain(studio, session["address"]) == before
    assert on_chain(studio, to) == recipient_before


# -- HTTP level ------------------------------------------------------------------------------
def test_body_over_1_mib_is_refused_with_413(studio: Studio) -> None:
    session = studio.create_session(type_="app", fund=False)
    big = json.dumps(request("eth_chainId", ["x" * (2 * 1024 * 1024)])).encode()
    status, raw = post_bytes(studio, session, big)
    assert status == 413
    assert_error(json.loads(raw), -32600, None)
    # Without a Content-Length (chunked), the cap must hold while reading.
    conn = http.client.HTTPConnection("127.0.0.1", studio.rpc_port, timeout=60)
    try:
        chunks = (big[i:i + 65536] for i in range(0, len(big), 65536))
        conn.request("POST", f"/rpc/{PRIMARY_CHAIN}", body=chunks, encode_chunked=True,
                     headers={"Authorization": f"Bearer {session['credential']}",
                              "Content-Type": "application/json"})
        response = conn.getresponse()
        assert response.status == 413
        assert_error(json.loads(response.read()), -32600, None)
    finally:
        conn.close()


def test_missing_or_wrong_credential_is_401_with_4100(studio: Studio) -> None:
    session = studio.create_session(type_="app")
    to = fresh_address()
    before = on_chain(studio, session["address"])
    body = json.dumps(request("eth_sendTransaction", [transfer(session, to)])).encode()
    url = studio.rpc_url()
    unknown = "sst_" + "A" * 43  # well-formed, never issued
    attempts = [
        (url, {}),
        (url, {"Authorization": f"Bearer {unknown}"}),
        (url, {"Authorization": "Bearer not-a-credential"}),
        (url, {"Authorization": f"Basic {session['credential']}"}),
        (url, {"Authorization": f"Bearer {session['credential'][:-1]}x"}),
        (f"{url}/{unknown}", {}),
    ]
    for target, headers in attempts:
        status, raw = post(target, body, headers=headers)
        assert status == 401, (target, headers, raw)
        assert_error(json.loads(raw), 4100, None)
        assert session["credential"][4:] not in raw.decode()
    assert on_chain(studio, session["address"]) == before


def test_credential_in_the_url_path_works(studio: Studio) -> None:
    session = studio.create_session(type_="app")
    url = f"{studio.rpc_url()}/{session['credential']}"
    status, raw = post(url, json.dumps(request("eth_accounts")).encode())
    assert status == 200
    assert json.loads(raw)["result"] == [session["address"]]
    to = fresh_address()
    status, raw = post(url, json.dumps(request("eth_sendTransaction",
                                               [transfer(session, to, 9)])).encode())
    assert status == 200
    studio.chain_web3().eth.wait_for_transaction_receipt(json.loads(raw)["result"])
    assert studio.chain_web3().eth.get_balance(to) == 9


def test_unknown_chain_in_the_url_is_4901(studio: Studio) -> None:
    session = studio.create_session(type_="app")
    before = on_chain(studio, session["address"])
    for method, params in (("eth_chainId", []), ("eth_accounts", []),
                           ("eth_getBalance", [session["address"], "latest"]),
                           ("eth_sendTransaction", [transfer(session, fresh_address())])):
        assert_error(call(studio, session, request(method, params), chain_id=5), 4901, 1)
    assert on_chain(studio, session["address"]) == before


def test_non_numeric_chain_in_the_url_is_an_invalid_request(studio: Studio) -> None:
    session = studio.create_session(type_="app", fund=False)
    for chain in ("base", "0x7a69", "-1"):
        status, raw = post(f"http://127.0.0.1:{studio.rpc_port}/rpc/{chain}",
                           json.dumps(request("eth_chainId")).encode(),
                           credential=session["credential"])
        assert status == 200
        assert_error(json.loads(raw), -32600, None)


def test_server_keeps_serving_after_abuse(studio: Studio) -> None:
    session = studio.create_session(type_="app")
    rpc = studio.rpc_url()
    abuse = [b"{", b"\x00" * 1024, json.dumps([request("eth_chainId")] * 101).encode(),
             json.dumps(request("eth_sendTransaction", [{"value": -1}])).encode(),
             b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":' + b"[" * 500
             + b"]" * 500 + b"}", b"x" * (1024 * 1024 + 1)]
    for body in abuse:
        post(rpc, body, credential=session["credential"])
        post(rpc, body, credential="sst_" + "B" * 43)
    with urllib.request.urlopen(f"http://127.0.0.1:{studio.rpc_port}/healthz",
                                timeout=10) as health:
        assert health.status == 200
        assert json.loads(health.read()) == {"status": "ok"}
    to = fresh_address()
    answer = call(studio, session, request("eth_sendTransaction", [transfer(session, to, 3)]))
    assert studio.chain_web3().eth.wait_for_transaction_receipt(answer["result"])["status"] == 1
    assert studio.chain_web3().eth.get_balance(to) == 3


def test_deeply_nested_json_is_a_parse_error_and_the_server_survives(studio: Studio) -> None:
    # A server of its own (same database), so that the crash cannot take the module's down.
    port = free_port()
    server = studio.start_server(rpc_port=port)
    session = studio.create_session(type_="app", fund=False)
    depth = 100_000
    try:
        status, raw = post(studio.rpc_url(port=port), b"[" * depth + b"]" * depth,
                           credential=session["credential"])
    except (ConnectionError, http.client.HTTPException) as exc:
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=5)
        raise AssertionError(f"connection dropped ({exc!r}); serve exit code "
                             f"{server.poll()}") from exc
    assert status == 200
    assert_error(json.loads(raw), -32700, None)
    assert server.poll() is None
