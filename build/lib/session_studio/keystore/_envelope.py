"""Envelope encryption of session private keys (AES-256-GCM, two layers).

Why two layers: every private key is encrypted under its own random data key, and only the
32-byte data key is encrypted ("wrapped") under the key-encryption key (KEK). The KEK is derived
from the master key, so moving to an HSM/KMS later means re-wrapping data keys with the new
backend, without touching the private-key ciphertexts; and no two keys ever share an AES key.

Why associated data: both layers authenticate a canonical encoding of (format version,
workspace_id, session_id). A blob copied to another session's row, another workspace, or
relabelled with another version byte fails to open with `KeyUnsealError`, so database write
access alone cannot move a key (and its signing power) under a different session's policy.

Blob layout, format version 1 (121 bytes, all fields fixed-size):

    offset  size  field
    0       1     version            0x01
    1       12    wrap_nonce         random AES-GCM nonce for the wrapping layer
    13      48    wrapped_data_key   AES-256-GCM(KEK, wrap_nonce, data_key, AD): 32 + 16-byte tag
    61      12    key_nonce          random AES-GCM nonce for the key layer
    73      48    sealed_private_key AES-256-GCM(data_key, key_nonce, private_key, AD): 32 + 16 tag

    KEK = HKDF-SHA256(master key, salt=none, info="session-studio/keystore/kek/v1", 32 bytes)
    AD  = version (1 byte) || u32be(len(ws)) || ws || u32be(len(sid)) || sid
          (ws, sid = UTF-8 of workspace_id, session_id; the lengths make the encoding
          injective, so ("a", "bc") and ("ab", "c") never share associated data)

Nonces are random: each data key encrypts exactly one message, and the KEK wraps one data key
per session key, far below the 2**32 random-nonce bound for AES-GCM under one key.

A destroyed key (revoked, crypto-shredded) is stored as NULL or an empty blob; opening one raises
`KeyDestroyedError`, distinct from a blob that exists but does not open.
"""

from __future__ import annotations

import os
import struct
from typing import NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._errors import KeyDestroyedError, KeyUnsealError
from ._master import MasterKey, derive_internal_key
from ._models import KeyContext

__all__ = ["FORMAT_VERSION", "SEALED_KEY_LENGTH", "KeyEnvelope", "associated_data"]

FORMAT_VERSION = 1
_KEK_PURPOSE = "keystore/kek/v1"
_NONCE_LENGTH = 12
_TAG_LENGTH = 16
_AES_KEY_LENGTH = 32
_PRIVATE_KEY_LENGTH = 32
_WRAPPED_LENGTH = _AES_KEY_LENGTH + _TAG_LENGTH
_SEALED_LENGTH = _PRIVATE_KEY_LENGTH + _TAG_LENGTH
SEALED_KEY_LENGTH = 1 + _NONCE_LENGTH + _WRAPPED_LENGTH + _NONCE_LENGTH + _SEALED_LENGTH

_WRAP_NONCE_AT = 1
_WRAPPED_AT = _WRAP_NONCE_AT + _NONCE_LENGTH
_KEY_NONCE_AT = _WRAPPED_AT + _WRAPPED_LENGTH
_SEALED_AT = _KEY_NONCE_AT + _NONCE_LENGTH

_UNSEAL_FAILED = (
    "sealed key does not open: wrong master key, tampered blob, "
    "or a blob that belongs to another session or workspace"
)


def associated_data(version: int, ctx: KeyContext) -> bytes:
    """The canonical (version, workspace_id, session_id) encoding bound into both layers."""
    workspace = ctx.workspace_id.encode("utf-8")
    session = ctx.session_id.encode("utf-8")
    return (
        struct.pack(">BI", version, len(workspace))
        + workspace
        + struct.pack(">I", len(session))
        + session
    )


class KeyEnvelope:
    """Seals and opens 32-byte private keys under the KEK derived from one master key.

    Holds only the KEK's AES-GCM context, never a private key; one instance per keystore.
    """

    __slots__ = ("_kek",)

    def __init__(self, master: MasterKey) -> None:
        self._kek = AESGCM(derive_internal_key(master, _KEK_PURPOSE))

    def __repr__(self) -> str:
        return "KeyEnvelope(<redacted>)"

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("KeyEnvelope cannot be pickled")

    def seal(self, private_key: bytes, ctx: KeyContext) -> bytes:
        """Encrypt `private_key` for `ctx` under a fresh data key; returns a version-1 blob."""
        if len(private_key) != _PRIVATE_KEY_LENGTH:
            raise ValueError(f"private key must be {_PRIVATE_KEY_LENGTH} bytes")
        aad = associated_data(FORMAT_VERSION, ctx)
        data_key = AESGCM.generate_key(bit_length=_AES_KEY_LENGTH * 8)
        wrap_nonce = os.urandom(_NONCE_LENGTH)
        key_nonce = os.urandom(_NONCE_LENGTH)
        wrapped = self._kek.encrypt(wrap_nonce, data_key, aad)
        sealed = AESGCM(data_key).encrypt(key_nonce, private_key, aad)
        return bytes([FORMAT_VERSION]) + wrap_nonce + wrapped + key_nonce + sealed

    def open(self, blob: bytes, ctx: KeyContext) -> bytes:
        """Decrypt a blob sealed for `ctx`; returns the 32-byte private key.

        Raises `KeyDestroyedError` for an empty blob and `KeyUnsealError` for everything that
        does not authenticate, without saying which layer failed (an oracle has no use for it).
        """
        if not blob:
            raise KeyDestroyedError("session key was destroyed")
        version = blob[0]
        if version != FORMAT_VERSION:
            raise KeyUnsealError(f"unknown sealed-key format version {version}")
        if len(blob) != SEALED_KEY_LENGTH:
            raise KeyUnsealError(
                f"sealed key must be {SEALED_KEY_LENGTH} bytes for format version "
                f"{FORMAT_VERSION}, got {len(blob)}"
            )
        aad = associated_data(version, ctx)
        wrap_nonce = blob[_WRAP_NONCE_AT:_WRAPPED_AT]
        wrapped = blob[_WRAPPED_AT:_KEY_NONCE_AT]
        key_nonce = blob[_KEY_NONCE_AT:_SEALED_AT]
        sealed = blob[_SEALED_AT:]
        private_key: bytes | None
        try:
            data_key = self._kek.decrypt(wrap_nonce, wrapped, aad)
            private_key = AESGCM(data_key).decrypt(key_nonce, sealed, aad)
        except InvalidTag:
            private_key = None
        # Raised outside the except block: no frame holding a data key is chained to it.
        if private_key is None:
            raise KeyUnsealError(_UNSEAL_FAILED)
        return private_key
