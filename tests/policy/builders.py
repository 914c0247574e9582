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
    decode_typed_data,
    evaluate_transaction,
    evaluate_typed_data,
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

ROUTER = "0x2626664c2603336e57b271c5c0b26f421741e481"  # a swap router in the chain's config
PERMIT2 = "0x000000000022d473030f116ddee9f6b43ac78ba3"

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
    tokens=MappingProxyType({t.address: t for t in TOKENS if t.address is not None}),
    routers=frozenset({ROUTER}))

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
SEL_PERMIT2_APPROVE = bytes.fromhex("87517c45")  # approve(address,address,uint160,uint48)
MAX_UINT256 = 2**256 - 1
MAX_UINT160 = 2**160 - 1


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


def permit2_approve_data(token: str, spender: str, amount: int, expiration: int = 2**40) -> bytes:
    return SEL_PERMIT2_APPROVE + encode(["address", "address", "uint160", "uint48"],
                                        [token, spender, amount, expiration])


# -- typed data, shaped the way ethers v6 sends it (TypedDataEncoder.getPayload): EIP712Domain
# listed in types, chainId a number, addresses lower-case, integers as decimal strings ----------

DOMAIN_FIELDS = {"name": "string", "version": "string", "chainId": "uint256",
                 "verifyingContract": "address", "salt": "bytes32"}


def typed_data(primary: str, types: dict[str, list[tuple[str, str]]], message: dict[str, Any],
               **domain: Any) -> dict[str, Any]:
    return {
        "types": {"EIP712Domain": [{"name": n, "type": DOMAIN_FIELDS[n]} for n in domain],
                  **{name: [{"name": f, "type": t} for f, t in fields]
                     for name, fields in types.items()}},
        "primaryType": primary,
        "domain": dict(domain),
        "message": message,
    }


PERMIT_FIELDS = [("owner", "address"), ("spender", "address"), ("value", "uint256"),
                 ("nonce", "uint256"), ("deadline", "uint256")]
DAI_PERMIT_FIELDS = [("holder", "address"), ("spender", "address"), ("nonce", "uint256"),
                     ("expiry", "uint256"), ("allowed", "bool")]
PERMIT_DETAILS_FIELDS = [("token", "address"), ("amount", "uint160"), ("expiration", "uint48"),
                         ("nonce", "uint48")]
TOKEN_PERMISSIONS_FIELDS = [("token", "address"), ("amount", "uint256")]
DEADLINE = str(NOW_MS // 1000 + 3600)


def eip2612_permit(*, token: Asset = USDC, owner: str = SENDER, spender: str = SPENDER,
                   value: int = 5_000_000, chain_id: Any = CHAIN) -> dict[str, Any]:
    """An EIP-2612 permit of 5 USDC to SPENDER, signed by the session."""
    return typed_data(
        "Permit", {"Permit": PERMIT_FIELDS},
        {"owner": owner, "spender": spender, "value": str(value), "nonce": "0",
         "deadline": DEADLINE},
        name=token.symbol, version="2", chainId=chain_id, verifyingContract=token.address)


def dai_permit(*, allowed: bool, holder: str = SENDER, spender: str = SPENDER,
               chain_id: Any = CHAIN) -> dict[str, Any]:
    return typed_data(
        "Permit", {"Permit": DAI_PERMIT_FIELDS},
        {"holder": holder, "spender": spender, "nonce": "0", "expiry": DEADLINE,
         "allowed": allowed},
        name="Dai Stablecoin", version="1", chainId=chain_id, verifyingContract=DAI_ADDRESS)


def permit_details(token: Asset, amount: int) -> dict[str, Any]:
    return {"token": token.address, "amount": str(amount), "expiration": DEADLINE, "nonce": "0"}


def token_permissions(token: Asset, amount: int) -> dict[str, Any]:
    return {"token": token.address, "amount": str(amount)}


def permit2_typed(primary: str, types: dict[str, list[tuple[str, str]]],
                  message: dict[str, Any], *, chain_id: Any = CHAIN,
                  verifying_contract: str = PERMIT2) -> dict[str, Any]:
    return typed_data(primary, types, message, name="Permit2", chainId=chain_id,
                      verifyingContract=verifying_contract)


def permit_single(*, token: Asset = USDC, amount: int = 5_000_000, spender: str = SPENDER,
                  **domain: Any) -> dict[str, Any]:
    return permit2_typed(
        "PermitSingle",
        {"PermitSingle": [("details", "PermitDetails"), ("spender", "address"),
                          ("sigDeadline", "uint256")],
         "PermitDetails": PERMIT_DETAILS_FIELDS},
        {"details": permit_details(token, amount), "spender": spender, "sigDeadline": DEADLINE},
        **domain)


def permit_batch(*details: tuple[Asset, int], spender: str = SPENDER,
                 **domain: Any) -> dict[str, Any]:
    return permit2_typed(
        "PermitBatch",
        {"PermitBatch": [("details", "PermitDetails[]"), ("spender", "address"),
                         ("sigDeadline", "uint256")],
         "PermitDetails": PERMIT_DETAILS_FIELDS},
        {"details": [permit_details(t, a) for t, a in details], "spender": spender,
         "sigDeadline": DEADLINE},
        **domain)


def permit_transfer_from(*, token: Asset = USDC, amount: int = 5_000_000,
                         spender: str = SPENDER, **domain: Any) -> dict[str, Any]:
    return permit2_typed(
        "PermitTransferFrom",
        {"PermitTransferFrom": [("permitted", "TokenPermissions"), ("spender", "address"),
                                ("nonce", "uint256"), ("deadline", "uint256")],
         "TokenPermissions": TOKEN_PERMISSIONS_FIELDS},
        {"permitted": token_permissions(token, amount), "spender": spender, "nonce": "0",
         "deadline": DEADLINE},
        **domain)


def permit_batch_transfer_from(*permitted: tuple[Asset, int], spender: str = SPENDER,
                               **domain: Any) -> dict[str, Any]:
    return permit2_typed(
        "PermitBatchTransferFrom",
        {"PermitBatchTransferFrom": [("permitted", "TokenPermissions[]"),
                                     ("spender", "address"), ("nonce", "uint256"),
                                     ("deadline", "uint256")],
         "TokenPermissions": TOKEN_PERMISSIONS_FIELDS},
        {"permitted": [token_permissions(t, a) for t, a in permitted], "spender": spender,
         "nonce": "0", "deadline": DEADLINE},
        **domain)


def mail(*, verifying_contract: str | None = CONTRACT, chain_id: Any = CHAIN) -> dict[str, Any]:
    """EIP-712's own example message: not a spend type, so opaque."""
    domain: dict[str, Any] = {"name": "Ether Mail", "version": "1"}
    if chain_id is not None:
        domain["chainId"] = chain_id
    if verifying_contract is not None:
        domain["verifyingContract"] = verifying_contract
    return typed_data(
        "Mail",
        {"Person": [("name", "string"), ("wallet", "address")],
         "Mail": [("from", "Person"), ("to", "Person"), ("contents", "string")]},
        {"from": {"name": "Cow", "wallet": RECIPIENT},
         "to": {"name": "Bob", "wallet": STRANGER}, "contents": "Hello, Bob!"},
        **domain)


def decide_typed(
    typed: dict[str, Any],
    *,
    policy: SessionPolicy | None = None,
    state: SessionState | None = None,
    prices: PriceBook = PRICES,
    assets: ChainAssets = ASSETS,
    chain_id: int = CHAIN,
    sender: str = SENDER,
) -> Decision:
    """Decode and evaluate typed data, as the proxy does."""
    return evaluate_typed_data(
        policy=make_policy() if policy is None else policy,
        state=make_state() if state is None else state,
        chain_id=chain_id, decoded=decode_typed_data(typed, assets, sender=sender),
        prices=prices, now_ms=NOW_MS)
