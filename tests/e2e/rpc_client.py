"""Raw JSON-RPC calls and on-chain snapshots shared by the refusal and catalogue tests."""

from __future__ import annotations

import http.client
import json
from decimal import Decimal
from typing import Any

from eth_account import Account
from session_studio_dev import bind_contract

from .harness import PRIMARY_CHAIN, SECOND_CHAIN, Studio

GWEI = 10**9
UINT256_MAX = 2**256 - 1
BOTH_CHAINS = f"{PRIMARY_CHAIN},{SECOND_CHAIN}"
ETH_FEES = {"gas": hex(21_000), "maxFeePerGas": hex(2 * GWEI),
            "maxPriorityFeePerGas": hex(GWEI)}
TOKEN_FEES = {"gas": hex(100_000), "maxFeePerGas": hex(2 * GWEI),
              "maxPriorityFeePerGas": hex(GWEI)}


def post(studio: Studio, credential: str, method: str, params: list[Any], *,
         chain_id: int = PRIMARY_CHAIN) -> tuple[int, dict[str, Any]]:
    """One JSON-RPC call with the bearer credential: (HTTP status, answer)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    conn = http.client.HTTPConnection("127.0.0.1", studio.rpc_port, timeout=60)
    try:
        conn.request("POST", f"/rpc/{chain_id}", body=body,
                     headers={"Authorization": f"Bearer {credential}",
                              "Content-Type": "application/json"})
        response = conn.getresponse()
        status, text = response.status, response.read()
    finally:
        conn.close()
    answer: dict[str, Any] = json.loads(text)
    assert answer["jsonrpc"] == "2.0"
    return status, answer


def rpc(studio: Studio, credential: str, method: str, params: list[Any], *,
        chain_id: int = PRIMARY_CHAIN) -> dict[str, Any]:
    """A call whose answer must be HTTP 200 (every JSON-RPC answer but a bad credential)."""
    status, answer = post(studio, credential, method, params, chain_id=chain_id)
    assert status == 200, answer
    assert answer["id"] == 1
    return answer


def send(studio: Studio, session: dict[str, Any], tx: dict[str, Any], *,
         chain_id: int = PRIMARY_CHAIN, method: str = "eth_sendTransaction") -> dict[str, Any]:
    return rpc(studio, session["credential"], method, [tx], chain_id=chain_id)


def assert_policy_denied(answer: dict[str, Any], reason: str) -> dict[str, Any]:
    assert "result" not in answer, answer
    error: dict[str, Any] = answer["error"]
    assert error["code"] == 4001, error
    assert error["message"].startswith("User denied"), error
    assert error["data"]["reason"] == reason, error
    return error


def assert_error(answer: dict[str, Any], code: int) -> dict[str, Any]:
    assert "result" not in answer, answer
    error: dict[str, Any] = answer["error"]
    assert error["code"] == code, error
    return error


def usdc(studio: Studio, chain_id: int = PRIMARY_CHAIN) -> Any:
    return bind_contract(studio.chain_web3(chain_id), "DemoUSDC", studio.usdc[chain_id])


def calldata(studio: Studio, function: str, *args: Any) -> str:
    return str(usdc(studio).encode_abi(function, args))


def allowance(studio: Studio, owner: str, spender: str, chain_id: int = PRIMARY_CHAIN) -> int:
    return int(usdc(studio, chain_id).functions.allowance(owner, spender).call())


def snapshot(studio: Studio, *addresses: str) -> dict[tuple[Any, ...], int]:
    """Nonce, ETH, USDC and permit nonce of each address on both chains, and every allowance
    among them: what an attack must not move."""
    state: dict[tuple[Any, ...], int] = {}
    for chain_id in studio.chains:
        w3 = studio.chain_web3(chain_id)
        token = usdc(studio, chain_id)
        for address in addresses:
            state[chain_id, address, "nonce"] = w3.eth.get_transaction_count(address, "pending")
            state[chain_id, address, "eth"] = w3.eth.get_balance(address)
            state[chain_id, address, "usdc"] = studio.usdc_balance(address, chain_id)
            state[chain_id, address, "permit_nonce"] = int(token.functions.nonces(address).call())
            for spender in addresses:
                state[chain_id, address, spender, "allowance"] = allowance(
                    studio, address, spender, chain_id)
    return state


def eth_transfer(session: dict[str, Any], to: str, value: int = 10**15) -> dict[str, Any]:
    return {"from": session["address"], "to": to, "value": hex(value), **ETH_FEES}


def token_call(studio: Studio, session: dict[str, Any], data: str, **extra: Any) -> dict[str, Any]:
    return {"from": session["address"], "to": studio.usdc[PRIMARY_CHAIN], "data": data,
            **TOKEN_FEES, **extra}


def fresh_address() -> str:
    return str(Account.create().address)


def spent(studio: Studio, session: dict[str, Any]) -> Decimal:
    return Decimal(studio.cli("sessions", "show", session["key_hash"])["spent_in_window"])


def mined(studio: Studio, answer: dict[str, Any]) -> Any:
    assert "error" not in answer, answer
    return studio.chain_web3().eth.wait_for_transaction_receipt(answer["result"], timeout=30)
