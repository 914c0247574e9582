"""secp256k1 private-key generation straight from the OS CSPRNG.

Why not `eth_account.Account.create()`: it mixes caller "extra entropy" through keccak, which
adds nothing over the kernel CSPRNG and makes the construction harder to audit. Rejection
sampling keeps the distribution exactly uniform over [1, n); since n is within 2**-127 of
2**256, a retry essentially never happens.
"""

from __future__ import annotations

import secrets

__all__ = ["SECP256K1_ORDER", "generate_private_key", "is_valid_private_key"]

# The order n of the secp256k1 group (SEC 2, section 2.4.1).
SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_PRIVATE_KEY_LENGTH = 32


def is_valid_private_key(raw: bytes) -> bool:
    """True when `raw` is 32 bytes encoding a scalar k with 1 <= k < n."""
    return len(raw) == _PRIVATE_KEY_LENGTH and 1 <= int.from_bytes(raw, "big") < SECP256K1_ORDER


def generate_private_key() -> bytes:
    """Return 32 bytes from `secrets.token_bytes`, redrawn until they are a valid scalar."""
    while True:
        candidate = secrets.token_bytes(_PRIVATE_KEY_LENGTH)
        if is_valid_private_key(candidate):
            return candidate
