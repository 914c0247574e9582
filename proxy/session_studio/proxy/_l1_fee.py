"""The OP-stack L1 data fee: quoted before the reserving transaction, reserved like gas.

On an OP-stack chain (Base, OP Mainnet; `l1_fee = "op-stack"` in the chain's config) the sender
pays, besides `gasUsed * effectiveGasPrice`, an L1 data fee for the transaction's bytes. The
`GasPriceOracle` predeploy quotes it; the receipt reports what was charged (`l1Fee`).

What we ask, and why:

- `getL1Fee(bytes)`, not `getL1FeeUpperBound(uint256)`. The upper bound takes only a length
  and assumes FastLZ expands data by at most `n/255 + 16` bytes, which Optimism documents as
  covering "99.99%" of transactions: a large incompressible calldata exceeds it (FastLZ spends
  one byte per 32 literals), so it is not a bound for what an agent may send. It also exists
  only after Fjord (it reverts before). `getL1Fee` runs the chain's own formula (Bedrock,
  Ecotone or Fjord, whichever is active) on the bytes we give it.
- The bytes are a *worst-case signed* serialization, not the unsigned one the oracle expects:
  the real fields with the nonce replaced by an 8-byte placeholder when the sidecar has not
  picked it yet (the nonce is chosen inside the ledger lock, after the quote), and a signature
  of two full 32-byte words of incompressible filler (plus the largest `v`). Nothing in the real
  signed transaction is longer or less compressible than that. The oracle then adds 68 bytes
  for the signature it thinks is missing: the signature is counted twice, a deliberate overcount
  that covers whatever compression the filler and the real bytes differ by.
- The quote is multiplied by `L1_FEE_MARGIN` (3/2), for the L1 base fee and blob base fee
  moving between the quote and inclusion: each can rise at most 12.5% per L1 block, and 3/2
  covers three such rises in a row (1.125^3 = 1.42), where inclusion on an L2 takes seconds.

The quote is one `eth_call` through the chain's upstream, taken before `reserve_and_sign`
(never while the ledger lock is held). Any failure (the node's error, a revert, no contract at
the predeploy, an answer that is not one uint256) raises `UpstreamUnavailable`: nothing is
signed. Settlement lowers the reservation to the receipt's real `gasUsed * effectiveGasPrice +
l1Fee` (_settlement.py).
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any, Final, Protocol

from eth_abi.abi import encode as abi_encode
from eth_account._utils.legacy_transactions import (
    encode_transaction,
    serializable_unsigned_transaction_from_dict,
)
from eth_utils.crypto import keccak

from ._errors import InvalidParams, UpstreamError, UpstreamUnavailable

__all__ = [
    "GAS_PRICE_ORACLE",
    "GET_L1_FEE_SELECTOR",
    "L1_FEE_MARGIN",
    "NONCE_PLACEHOLDER",
    "quote_l1_fee",
    "with_margin",
    "worst_case_signed_bytes",
]

GAS_PRICE_ORACLE: Final = "0x420000000000000000000000000000000000000F"
GET_L1_FEE_SELECTOR: Final = keccak(text="getL1Fee(bytes)")[:4]
L1_FEE_MARGIN: Final = Fraction(3, 2)

# Eight distinct non-zero bytes: as long as any nonce EIP-2681 allows, and no run FastLZ could
# shorten. It stands in for a nonce the ledger has not picked yet.
NONCE_PLACEHOLDER: Final = 0xF1E2D3C4B5A69788
# Full-width, incompressible r and s (the top bit set keeps both 32 bytes long in RLP).
_FILLER_R: Final = int.from_bytes(keccak(text="session-studio l1 fee filler r")) | (1 << 255)
_FILLER_S: Final = int.from_bytes(keccak(text="session-studio l1 fee filler s")) | (1 << 255)
_HEX_WORD: Final = re.compile(r"0x[0-9a-fA-F]{64}")


class _Caller(Protocol):
    async def call(self, method: str, params: list[Any]) -> Any: ...


def worst_case_signed_bytes(fields: dict[str, Any]) -> bytes:
    """The transaction `fields` (eth-account's dict, nonce included) serialized as signed, with
    the longest signature it could carry: at least as long as the real signed bytes."""
    unsigned = serializable_unsigned_transaction_from_dict(dict(fields))
    # Typed transactions carry the y-parity (0 or 1); legacy EIP-155 ones chainId * 2 + 35/36.
    v = 1 if "type" in fields else int(fields["chainId"]) * 2 + 36
    return encode_transaction(unsigned, vrs=(v, _FILLER_R, _FILLER_S))


def with_margin(quoted_wei: int) -> int:
    """The fee reserved for a quote: times `L1_FEE_MARGIN`, rounded up."""
    scaled = quoted_wei * L1_FEE_MARGIN
    return -((-scaled.numerator) // scaled.denominator)


async def quote_l1_fee(upstream: _Caller, fields: dict[str, Any]) -> int:
    """The L1 data fee (wei) to reserve for the transaction `fields`: the oracle's quote for its
    worst-case signed bytes, times the margin. Raises `UpstreamUnavailable` on any failure."""
    try:
        payload = worst_case_signed_bytes(fields)
    except Exception as exc:  # eth-account raises a zoo of types for fields it cannot encode
        raise InvalidParams("invalid params: the transaction cannot be serialized "
                            f"({type(exc).__name__})") from exc
    data = GET_L1_FEE_SELECTOR + abi_encode(["bytes"], [payload])
    try:
        answer = await upstream.call("eth_call", [{"to": GAS_PRICE_ORACLE,
                                                   "data": "0x" + data.hex()}, "latest"])
    except UpstreamError as exc:
        raise UpstreamUnavailable(
            f"upstream could not quote the L1 data fee (GasPriceOracle): {exc.message}") from exc
    # Exactly one word: an empty answer means no oracle at the predeploy (not an OP-stack node).
    if not isinstance(answer, str) or not _HEX_WORD.fullmatch(answer):
        raise UpstreamUnavailable("upstream answered the L1 data fee quote (GasPriceOracle) "
                                  "with something that is not one uint256")
    return with_margin(int(answer, 16))
