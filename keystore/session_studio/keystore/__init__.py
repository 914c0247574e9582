"""Session Studio's keystore: the only place key bytes exist.

Module map (one job each):

    _errors.py      the exception tree (read its docstring first)
    _models.py      KeyContext, NewSessionKey, SignedTransaction, EncodedTypedData: what
                    crosses the boundary
    _master.py      the master key: loading (env or 0600 file), creating, HKDF subkeys
    _envelope.py    AES-256-GCM envelope encryption of session keys; the blob layout
    _keygen.py      secp256k1 private keys from the OS CSPRNG
    _validation.py  transactions refused whatever the policy said (no chainId, EIP-7702)
    _cache.py       bounded LRU of unsealed keys, subordinate to the sealed blob in the DB
    _tx_codec.py    transaction bytes with rlp (the digest to sign, the raw signed tx),
                    identical to eth-account's for the canonical shapes; no key inside
    _local.py       LocalKeystore: generate, sign (tx, personal message, typed data), forget

Typical use, at the composition root:

    master = load_master_key(path=settings.master_key_file, env=os.environ)
    keystore = LocalKeystore(master)
    new_key = keystore.generate(KeyContext(workspace_id=ws, session_id=sid))
    # store new_key.sealed on the session row; later, for each approved request:
    signed = keystore.sign_transaction(row.sealed_key, ctx, tx)
"""

from ._errors import (
    KeyDestroyedError,
    KeystoreError,
    KeyUnsealError,
    MasterKeyError,
    SigningRefusedError,
)
from ._local import LocalKeystore
from ._master import MASTER_KEY_ENV_VAR, MasterKey, create_master_key_file, load_master_key
from ._models import EncodedTypedData, KeyContext, NewSessionKey, SignedTransaction

__all__ = [
    "MASTER_KEY_ENV_VAR",
    "EncodedTypedData",
    "KeyContext",
    "KeyDestroyedError",
    "KeyUnsealError",
    "KeystoreError",
    "LocalKeystore",
    "MasterKey",
    "MasterKeyError",
    "NewSessionKey",
    "SignedTransaction",
    "SigningRefusedError",
    "create_master_key_file",
    "load_master_key",
]
