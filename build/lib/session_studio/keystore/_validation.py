"""Last-line refusals applied to every transaction before any key is unsealed.

The policy engine refuses these requests first (POLICY.md, "Always refused"); the keystore
refuses them again because it is the only component that can actually produce a signature, and
it must stay safe if a caller forgets, or a future code path bypasses, the engine.

- No chain id: a pre-EIP-155 signature is valid on every chain, so it can be replayed anywhere.
- EIP-7702 (type 4, or any `authorizationList`): an authorization delegates the account's code
  to an arbitrary contract, handing over everything the address holds, for good.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._errors import SigningRefusedError

__all__ = ["check_signable_transaction", "take_sender"]

_SET_CODE_TX_TYPE = 4


def check_signable_transaction(tx: Mapping[str, Any]) -> dict[str, Any]:
    """Refuse what must never be signed; return a shallow copy safe to adjust and encode."""
    if not isinstance(tx, Mapping):
        raise SigningRefusedError("transaction must be a mapping in eth-account's dict format")
    chain_id = tx.get("chainId")
    if chain_id is None:
        raise SigningRefusedError(
            "transaction has no chainId; a signature without one is replayable on every chain"
        )
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id <= 0:
        raise SigningRefusedError("transaction chainId must be a positive integer")
    if "authorizationList" in tx:
        raise SigningRefusedError("EIP-7702 authorization lists are never signed")
    if "type" in tx:
        tx_type = _parse_tx_type(tx["type"])
        if tx_type is None:
            raise SigningRefusedError("transaction type must be an int or 0x-prefixed hex string")
        if tx_type == _SET_CODE_TX_TYPE:
            raise SigningRefusedError("EIP-7702 (type 4) transactions are never signed")
    return dict(tx)


def take_sender(tx: dict[str, Any], address: str) -> None:
    """Remove `from` from `tx`, refusing it unless it is `address` (compared case-insensitively).

    eth-account would compare `from` only by exact string equality; comparing here lets an
    all-lowercase `from` through while still refusing a request built for another account.
    """
    if "from" not in tx:
        return
    sender = tx.pop("from")
    if isinstance(sender, bytes):
        matches = sender == bytes.fromhex(address[2:])
    else:
        matches = isinstance(sender, str) and sender.lower() == address.lower()
    if not matches:
        raise SigningRefusedError("transaction 'from' is not this session key's address")


def _parse_tx_type(value: object) -> int | None:
    """The transaction type as eth-account reads it (int or 0x-hex), or None if unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value[:2].lower() == "0x":
        try:
            return int(value[2:], 16)
        except ValueError:
            return None
    return None
