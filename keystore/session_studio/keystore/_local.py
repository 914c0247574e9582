"""`LocalKeystore`: session keys sealed in the database, unsealed in this process to sign.

This is the only place a private key exists in usable form. Every signature Session Studio
produces goes through one of three signing methods here (`sign_transaction`,
`sign_personal_message`, `sign_encoded_typed_data`; typed data is hashed first by
`encode_typed_data`, outside the ledger's lock, and only that result is signed), and each of them:

1. refuses malformed or forbidden requests before touching any key (see `_validation`);
2. treats a NULL/empty sealed blob as a destroyed (revoked) key, before consulting the cache,
   so a revoke that shredded the row stops signing in every process at once;
3. unseals (or reuses a cached unsealing of) exactly the blob the caller read from the row,
   bound to the caller's (workspace_id, session_id);
4. signs with coincurve. A transaction's bytes are built by `_tx_codec` (rlp, identical to
   eth-account's output, proven by a property test) and its keccak digest is signed directly,
   because eth-account's `sign_transaction` cost ~15x the signature itself; a transaction
   outside `_tx_codec`'s canonical shape, personal messages and typed data go through
   eth-account, on an `Account()` instance bound to the coincurve backend.

The class is the seam for other backends: an HSM/KMS keystore would keep these signatures and
replace the envelope with remote calls.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn

import coincurve
from eth_keys.backends.coincurve import CoinCurveECCBackend
from eth_keys.datatypes import PrivateKey

if TYPE_CHECKING:
    from eth_account import Account
    from eth_account.messages import SignableMessage
from eth_utils.crypto import keccak

from ._cache import UnsealedKeyCache
from ._envelope import KeyEnvelope
from ._errors import KeyDestroyedError, KeyUnsealError, SigningRefusedError
from ._keygen import generate_private_key, is_valid_private_key
from ._master import MasterKey
from ._models import (
    _ENCODED_BY_KEYSTORE,
    EncodedTypedData,
    KeyContext,
    NewSessionKey,
    SignedTransaction,
)
from ._tx_codec import encode_unsigned
from ._validation import check_signable_transaction, take_sender

__all__ = ["LocalKeystore"]

# Error text from eth-account is passed on so callers can see what was wrong with their input;
# it is bounded so an odd exception cannot turn one log line into a dump.
_MAX_DETAIL_LENGTH = 300
_EIP712_VERSION = b"\x01"  # EIP-191 version byte of structured data


class _UnsealedKey:
    """An unsealed private key and its address; never printable.

    eth_keys' `PrivateKey.__repr__` prints the key in hex, so the object is only ever held
    inside this wrapper, whose repr says nothing.
    """

    __slots__ = ("_signer", "address", "private_key")

    def __init__(self, private_key: PrivateKey) -> None:
        self.private_key = private_key
        self.address: str = private_key.public_key.to_checksum_address()
        # Built once per unsealing: coincurve derives two public keys in its constructor, which
        # eth-keys' backend would otherwise repeat for every signature.
        self._signer = coincurve.PrivateKey(private_key.to_bytes())

    def sign_digest(self, digest: bytes) -> bytes:
        """65 bytes r || s || recovery id over a 32-byte digest (low-s, as libsecp256k1 makes)."""
        return bytes(self._signer.sign_recoverable(digest, hasher=None))

    def __repr__(self) -> str:
        return f"_UnsealedKey(address={self.address}, private_key=<redacted>)"

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("unsealed keys cannot be pickled")

    def describe_failure(self, exc: Exception) -> str:
        """A loggable description of `exc`, withheld if it somehow mentions this key."""
        text = f"{type(exc).__name__}: {exc}"
        secret_hex = self.private_key.to_bytes().hex()
        if (
            secret_hex in text.lower()
            or str(int.from_bytes(self.private_key.to_bytes(), "big")) in text
        ):
            return f"{type(exc).__name__} (details withheld)"
        return text[:_MAX_DETAIL_LENGTH]


class LocalKeystore:
    """Key backend that keeps sealed keys in the database; the seam for HSM/KMS backends later."""

    __slots__ = ("_account", "_backend", "_cache", "_envelope")

    def __init__(self, master: MasterKey, *, cache_size: int = 4096) -> None:
        """`cache_size` bounds how many unsealed keys stay in memory; 0 disables the cache."""
        self._envelope = KeyEnvelope(master)
        self._backend = CoinCurveECCBackend()
        self._account: Account | None = None
        self._cache: UnsealedKeyCache[_UnsealedKey] = UnsealedKeyCache(cache_size)

    def __repr__(self) -> str:
        return f"LocalKeystore({self._cache!r})"

    def _signer(self) -> Account:
        """eth-account, imported on first signature: importing it loads py_ecc's BLS tables
        (0.4 s), which the CLI and key generation never need."""
        if self._account is None:
            from eth_account import Account

            account = Account()
            account.set_key_backend(self._backend)
            self._account = account
        return self._account

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("LocalKeystore cannot be pickled")

    def generate(self, ctx: KeyContext) -> NewSessionKey:
        """Create a session key for `ctx` from the OS CSPRNG and return it sealed."""
        raw = generate_private_key()
        key = _UnsealedKey(PrivateKey(raw, backend=self._backend))
        sealed = self._envelope.seal(raw, ctx)
        # The first sign usually follows within seconds; seed the cache so it skips unsealing.
        self._cache.put(ctx, _blob_digest(sealed), key)
        public_key = key.private_key.public_key.to_bytes()
        return NewSessionKey(
            address=key.address,
            public_key=public_key,
            key_hash="0x" + keccak(public_key).hex(),
            sealed=sealed,
        )

    def sign_transaction(
        self, sealed: bytes | None, ctx: KeyContext, tx: Mapping[str, Any]
    ) -> SignedTransaction:
        """Sign `tx` (eth-account dict format) with the session key sealed in `sealed`.

        THE one signing function for transactions. Refuses (`SigningRefusedError`) a tx
        without `chainId`, any EIP-7702 tx, and a `from` that is not the key's address.
        """
        unsigned = check_signable_transaction(tx)
        key = self._unseal(sealed, ctx)
        take_sender(unsigned, key.address)
        encoded = encode_unsigned(unsigned)
        if encoded is not None:
            return encoded.signed(key.sign_digest(encoded.digest))
        failure: str
        try:
            signed = self._signer().sign_transaction(unsigned, key.private_key)
        except Exception as exc:  # eth-account raises a zoo of types for malformed fields
            failure = key.describe_failure(exc)
        else:
            return SignedTransaction(
                raw=bytes(signed.raw_transaction),
                tx_hash="0x" + bytes(signed.hash).hex(),
            )
        # Raised outside the except block: the chained traceback would hold the key's frames.
        raise SigningRefusedError(f"transaction could not be signed: {failure}")

    def sign_personal_message(self, sealed: bytes | None, ctx: KeyContext, message: bytes) -> bytes:
        """EIP-191 version 0x45 ("personal_sign") signature: 65 bytes r || s || v, v in {27, 28}.

        The "\\x19Ethereum Signed Message:\\n" prefix is what keeps this from ever being a valid
        transaction signature.
        """
        if not isinstance(message, bytes):
            raise SigningRefusedError("message must be bytes")
        from eth_account.messages import encode_defunct

        return self._sign_message(sealed, ctx, encode_defunct(primitive=message))

    def sign_typed_data(
        self, sealed: bytes | None, ctx: KeyContext, typed_data: Mapping[str, Any]
    ) -> bytes:
        """EIP-712 signature over a full message (types, primaryType, domain, message): 65 bytes.

        The typed data is encoded before any key is unsealed, so malformed input never reaches
        key material. Callers holding a lock encode first (`encode_typed_data`) and sign the
        result inside it (`sign_encoded_typed_data`).
        """
        return self.sign_encoded_typed_data(sealed, ctx, self.encode_typed_data(typed_data))

    def encode_typed_data(self, typed_data: Mapping[str, Any]) -> EncodedTypedData:
        """Hash a full EIP-712 message (the costly part); no key is involved."""
        if not isinstance(typed_data, Mapping):
            raise SigningRefusedError("typed data must be a mapping")
        try:
            # Deep copy: the encoder may normalise nested values in place, and the caller's
            # request must stay exactly what the policy engine saw.
            from eth_account.messages import encode_typed_data

            signable = encode_typed_data(full_message=copy.deepcopy(dict(typed_data)))
        except Exception as exc:  # eth-account raises many types for malformed EIP-712 data
            detail = f"{type(exc).__name__}: {exc}"[:_MAX_DETAIL_LENGTH]
            raise SigningRefusedError(f"typed data could not be encoded: {detail}") from exc
        if signable.version != _EIP712_VERSION:
            raise SigningRefusedError("typed data did not encode as EIP-712")
        return EncodedTypedData(domain_separator=bytes(signable.header),
                                message_hash=bytes(signable.body), _mark=_ENCODED_BY_KEYSTORE)

    def sign_encoded_typed_data(
        self, sealed: bytes | None, ctx: KeyContext, encoded: EncodedTypedData
    ) -> bytes:
        """The EIP-712 signature (65 bytes) over data this keystore encoded, and nothing else."""
        if not isinstance(encoded, EncodedTypedData) or (
                encoded._mark is not _ENCODED_BY_KEYSTORE):
            raise SigningRefusedError("only typed data encoded by the keystore is signed")
        from eth_account.messages import SignableMessage

        return self._sign_message(sealed, ctx, SignableMessage(
            version=_EIP712_VERSION, header=encoded.domain_separator,
            body=encoded.message_hash))

    def forget(self, ctx: KeyContext) -> None:
        """Drop any cached unsealed key for `ctx`; called on revoke."""
        self._cache.forget(ctx)

    def _sign_message(
        self, sealed: bytes | None, ctx: KeyContext, signable: SignableMessage
    ) -> bytes:
        key = self._unseal(sealed, ctx)
        signed = self._signer().sign_message(signable, key.private_key)
        return bytes(signed.signature)

    def _unseal(self, sealed: bytes | None, ctx: KeyContext) -> _UnsealedKey:
        # Destroyed first, cache second: a shredded row must win over anything in memory.
        if sealed is None or len(sealed) == 0:
            raise KeyDestroyedError(
                f"session key of session {ctx.session_id} was destroyed; it cannot sign"
            )
        if not isinstance(sealed, bytes):
            raise KeyUnsealError("sealed key must be bytes")
        digest = _blob_digest(sealed)
        cached = self._cache.get(ctx, digest)
        if cached is not None:
            return cached
        raw = self._envelope.open(sealed, ctx)
        if not is_valid_private_key(raw):
            # Only reachable with a blob sealed by a broken writer: AES-GCM authenticated it.
            raise KeyUnsealError("sealed key does not hold a valid secp256k1 private key")
        key = _UnsealedKey(PrivateKey(raw, backend=self._backend))
        self._cache.put(ctx, digest, key)
        return key


def _blob_digest(sealed: bytes) -> bytes:
    return hashlib.sha256(sealed).digest()
