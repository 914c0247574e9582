"""Latency of one ETH transfer: through the sidecar vs signed locally and sent straight to anvil.

Both paths use web3.py against the same anvil (automine), sequentially, so the difference is
the sidecar's own cost: policy, the ledger transaction, signing and its extra upstream calls.
Also times the two signing primitives the keystore sits on. Run: `make bench`.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from coincurve import PrivateKey
from eth_account import Account
from web3 import Web3

# The e2e harness, importable as pytest sees it (tests/ on the path, its helpers top-level).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from e2e.harness import start_studio, stop_studio

N = 200
TO = Web3.to_checksum_address("0x000000000000000000000000000000000000beef")


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def summary(name: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    return (f"| {name} | {statistics.median(ms):.3f} | {ms[int(len(ms) * 0.95) - 1]:.3f} | "
            f"{len(ms) / (sum(ms) / 1000):.0f} |")


def main() -> None:
    rows = ["| path | median ms | p95 ms | per second |", "|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        studio = start_studio(Path(tmp))
        # N held-back eth_signTransaction results below: lift the outstanding bound (default 4).
        with studio.config.open("a") as config:
            config.write("[policy]\nmax_outstanding_signed = 1000\n")
        try:
            studio.start_server()
            session = studio.create_session(per_tx="1000000", daily="1000000000")
            sidecar = studio.web3(session)
            me = session["address"]
            tx = {"from": me, "to": TO, "value": 1, "gas": 21000}
            timed(lambda: sidecar.eth.send_transaction(tx), 20)  # warm-up
            rows.append(summary("eth_sendTransaction via sidecar (fills fees + nonce)",
                                timed(lambda: sidecar.eth.send_transaction(tx), N)))
            filled = {**tx, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9}
            rows.append(summary("eth_sendTransaction via sidecar (fees given)",
                                timed(lambda: sidecar.eth.send_transaction(filled), N)))

            raw = {"from": me, "to": TO, "value": "0x1", "gas": "0x5208",
                   "maxFeePerGas": hex(10**10), "maxPriorityFeePerGas": hex(10**9)}
            rows.append(summary("raw JSON-RPC eth_sendTransaction via sidecar",
                                timed(lambda: sidecar.provider.make_request(
                                    "eth_sendTransaction", [raw]), N)))
            rows.append(summary("raw JSON-RPC eth_signTransaction via sidecar (no broadcast)",
                                timed(lambda: sidecar.provider.make_request(
                                    "eth_signTransaction", [raw]), N)))

            direct = studio.chain_web3()
            dev_account = direct.eth.accounts[0]  # anvil signs for its unlocked dev accounts
            unlocked = {"from": dev_account, "to": TO, "value": 1, "gas": 21000,
                        "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9}
            timed(lambda: direct.eth.send_transaction(unlocked), 20)
            rows.append(summary("eth_sendTransaction straight to anvil (same web3.py call)",
                                timed(lambda: direct.eth.send_transaction(unlocked), N)))
            rows.append(summary("raw JSON-RPC eth_sendTransaction straight to anvil",
                                timed(lambda: direct.provider.make_request(
                                    "eth_sendTransaction", [{**raw, "from": dev_account}]), N)))
            # A read is passed through unchanged: what the sidecar adds is its own hop.
            balance = ["0x000000000000000000000000000000000000beef", "latest"]
            rows.append(summary("raw JSON-RPC eth_getBalance via sidecar (read)",
                                timed(lambda: sidecar.provider.make_request(
                                    "eth_getBalance", balance), N)))
            rows.append(summary("raw JSON-RPC eth_getBalance straight to anvil (read)",
                                timed(lambda: direct.provider.make_request(
                                    "eth_getBalance", balance), N)))
            acct = Account.create()
            studio.fund(acct.address)
            nonce = [0]

            def send_direct() -> None:
                signed = acct.sign_transaction({
                    "to": TO, "value": 1, "gas": 21000, "maxFeePerGas": 10**10,
                    "maxPriorityFeePerGas": 10**9, "nonce": nonce[0], "chainId": 31337})
                direct.eth.send_raw_transaction(signed.raw_transaction)
                nonce[0] += 1

            timed(send_direct, 20)
            rows.append(summary("signed locally + eth_sendRawTransaction to anvil",
                                timed(send_direct, N)))
        finally:
            stop_studio(studio)

    key = PrivateKey()
    digest = bytes(32)
    rows.append(summary("coincurve sign_recoverable (raw secp256k1)",
                        timed(lambda: key.sign_recoverable(digest, hasher=None), 2000)))
    acct = Account.create()
    tx1559 = {"to": TO, "value": 1, "gas": 21000, "maxFeePerGas": 10**10,
              "maxPriorityFeePerGas": 10**9, "nonce": 0, "chainId": 31337}
    rows.append(summary("eth-account sign_transaction (EIP-1559)",
                        timed(lambda: acct.sign_transaction(tx1559), 2000)))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
