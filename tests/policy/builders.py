"""Plain builders for the policy tests: one chain, its assets, prices, and request factories.

Plain functions rather than fixtures, so hypothesis tests can call them freely. Every default
describes a request the default policy allows, so a test changes exactly the one thing it is
about.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from eth_abi import encode
from session_studio.policy import (
    Asset,
    ChainAssets,
    Decision,
    PriceBook,
    SessionPolicy,
    SessionState,
    TransactionRequest,
    decode_transaction,
    evaluate_transaction,
    parse_amount,
)
from session_studio.policy import Permission as P

CHAIN = 8453
OTHER_CHAIN = 84532
NOW_MS = 1_760_000_000_000
HOUR_MS = 3_600_000
GWEI = 10**9

SENDER = "0x" + "a1" * 20
RECIPIENT = "0x" + "b2" * 20
SPENDER = "0x" + "c3" * 20
STRANGER = "0x" + "d4" * 20
CONTRACT = "0x" + "e5" * 20

USDC_ADDRESS = "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913"
DAI_ADDRESS = "0x50c5725949a6f0c72e6c4a641f24049a917db0cb"
WBTC_ADDRESS = "0x0555e30da8f98308edb960aa94c0db47230d2b9c"
UNPRICED_ADDRESS = "0x" + "f6" * 20

ETH = Asset(chain_id=CHAIN, symbol="ETH", decimals=18)
USDC = Asset(chain_id=CHAIN, symbol="USDC", decimals=6, address=USDC_ADDRESS)
DAI = Asset(chain_id=CHAIN, symbol="DAI", decimals=18, address=DAI_ADDRESS)
WBTC = Asset(chain_id=CHAIN, symbol="WBTC", decimals=8, address=WBTC_ADDRESS)
UNPRICED = Asset(chain_id=CHAIN, symbol="NOPRICE", decimals=18, address=UNPRICED_ADDRESS)
TOKENS = (USDC, DAI, WBTC, UNPRICED)

ASSETS = ChainAssets(
    chain_id=CHAIN, native=ETH,
    tokens=MappingProxyType({t.address: t for t in TOKENS if t.address is not None}))

PRICES = PriceBook({
    (CHAIN, "ETH"): Fraction(3000),
    (CHAIN, "USDC"): Fraction(1),
    (CHAIN, "DAI"): Fraction(1),
    (CHAIN, "WBTC"): Fraction(60000),
})

SEL_TRANSFER = bytes.fromhex("a9059cbb")
SEL_TRANSFER_FROM = bytes.fromhex("23b872dd")
SEL_APPROVE = bytes.fromhex("095ea7b3")
SEL_INCREASE_ALLOWANCE = bytes.fromhex("39509351")
SEL_SET_APPROVAL_FOR_ALL = bytes.fromhex("a22cb465")
MAX_UINT256 = 2**256 - 1


def usd(text: str) -> int:
    """Atoms of a limit unit, from a decimal string."""
    return parse_amount(text)


def make_policy(**changes: Any) -> SessionPolicy:
    base = SessionPolicy(
        permissions=frozenset({P.TRANSFER, P.APPROVE}),
        chain_ids=frozenset({CHAIN}),
        tokens=frozenset({"ETH", "USDC", "DAI", "WBTC", "NOPRICE"}),
        unit="USD",
        per_tx=usd("10"),
        daily=usd("100"),
    )
    return replace(base, **changes)


def make_state(**changes: Any) -> SessionState:
    base = SessionState(revoked=False, expires_at_ms=NOW_MS + HOUR_MS, spent_in_window=0)
    return replace(base, **changes)


def make_tx(**changes: Any) -> TransactionRequest:
    """A 0.001 ETH plain transfer with 21000 gas at 1 gwei (about $3.06 at $3000/ETH)."""
    base = TransactionRequest(
        chain_id=CHAIN, declared_chain_id=CHAIN, sender=SENDER, to=RECIPIENT,
        value=10**15, data=b"", gas=21_000, max_fee_per_gas=GWEI, tx_type=2)
    return replace(base, **changes)


def token_call(token: Asset, data: bytes, **changes: Any) -> TransactionRequest:
    assert token.address is not None
    return make_tx(**{"to": token.address, "value": 0, "data": data, **changes})


def transfer_data(to: str, amount: int) -> bytes:
    return SEL_TRANSFER + encode(["address", "uint256"], [to, amount])


def transfer_from_data(owner: str, to: str, amount: int) -> bytes:
    return SEL_TRANSFER_FROM + encode(["address", "address", "uint256"], [owner, to, amount])


def approve_data(spender: str, amount: int) -> bytes:
    return SEL_APPROVE + encode(["address", "uint256"], [spender, amount])


def increase_allowance_data(spender: str, amount: int) -> bytes:
    return SEL_INCREASE_ALLOWANCE + encode(["address", "uint256"], [spender, amount])


def set_approval_for_all_data(operator: str, approved: bool) -> bytes:
    return SEL_SET_APPROVAL_FOR_ALL + encode(["address", "bool"], [operator, approved])


def decide(
    tx: TransactionRequest,
    *,
    policy: SessionPolicy | None = None,
    state: SessionState | None = None,
    prices: PriceBook = PRICES,
    assets: ChainAssets = ASSETS,
    now_ms: int = NOW_MS,
    chain_max_fee_per_gas: int | None = None,
) -> Decision:
    """Decode and evaluate, as the proxy does."""
    return evaluate_transaction(
        policy=make_policy() if policy is None else policy,
        state=make_state() if state is None else state,
        tx=tx, decoded=decode_transaction(tx, assets), prices=prices, now_ms=now_ms,
        chain_max_fee_per_gas=chain_max_fee_per_gas)
