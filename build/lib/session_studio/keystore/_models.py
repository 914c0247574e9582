"""Value types that cross the keystore boundary; none of them holds a private key.

The keystore hands out addresses, public keys, sealed blobs and signatures, never the key
itself, so these are the only shapes other packages see.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["EncodedTypedData", "KeyContext", "NewSessionKey", "SignedTransaction"]

# Only the keystore makes EncodedTypedData (see there); it checks for this mark before signing.
_ENCODED_BY_KEYSTORE = object()


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyContext:
    """Who a key belongs to; bound into every ciphertext as associated data.

    Binding the owner into the AEAD means a sealed blob copied (by a bug or by someone with
    database write access) onto another session's row does not open there, so it cannot be used
    to sign under that session's policy.
    """

    workspace_id: str
    session_id: str

    def __post_init__(self) -> None:
        # An empty id would make distinct owners collide in the associated data and in the
        # unsealed-key cache; ids that do not encode as UTF-8 cannot be bound at all.
        for name in ("workspace_id", "session_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"KeyContext.{name} must be a non-empty string")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(f"KeyContext.{name} must be encodable as UTF-8") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewSessionKey:
    """A freshly generated session key: public facts plus the sealed private key."""

    address: str
    """EIP-55 checksum address."""
    public_key: bytes
    """64-byte uncompressed public key, without the 0x04 prefix."""
    key_hash: str
    """"0x" + hex keccak256(public_key): a stable, non-secret handle for the key."""
    # Ciphertext is not secret, but 121 bytes of escapes make log lines unreadable.
    sealed: bytes = field(repr=False)
    """Envelope-encrypted private key (see `_envelope`); safe to store in the database."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedTransaction:
    """A signed transaction, ready for `eth_sendRawTransaction`."""

    raw: bytes
    """The signed, serialized transaction."""
    tx_hash: str
    """"0x" + 64 hex: keccak256 of `raw`, the hash the chain will report."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EncodedTypedData:
    """EIP-712 data hashed by `LocalKeystore.encode_typed_data`, ready to be signed.

    Hashing a large message is the expensive part of signing typed data; it happens before the
    ledger's reserving transaction, and only the signature over these two hashes inside it.
    This is not a door to sign arbitrary hashes: the keystore signs only values it made itself
    (the `_mark`), from a full typed-data message the policy has seen.
    """

    domain_separator: bytes
    """hashStruct(EIP712Domain): 32 bytes."""
    message_hash: bytes
    """hashStruct(message): 32 bytes."""
    _mark: object = field(repr=False, compare=False)
