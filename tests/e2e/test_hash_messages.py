"""Hashes dressed as messages (POLICY.md catalogue 13), tried against the running sidecar.

A Safe owner's `eth_sign` signature type and an ERC-4337 SimpleAccount owner both accept an
EIP-191 signature over a 32-byte hash as authorisation of whatever the hash stands for (a Safe
transaction, a UserOperation). So `personal_sign` of exactly 32 bytes needs `sign_digest`, a
permission of its own; `sign_message` covers every other length. Signed through web3.py and
recovered with eth-account, as a dapp would.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak

from .harness import Studio
from .rpc_client import assert_policy_denied, fresh_address

pytestmark = pytest.mark.e2e

# Safe v1.3+: keccak256("SafeTx(address to,uint256 value,bytes data,uint8 operation,...)").
SAFE_TX_TYPEHASH = bytes.fromhex(
    "bb8310d486368db6bd6f849402fdd73ad53d316b5a4b2644ad6efe0f941286d8")


def safe_transaction_hash(safe: str, to: str, value: int) -> bytes:
    """The hash a Safe owner signs to approve sending `value` wei from `safe` to `to`."""
    domain = keccak(abi_encode(
        ["bytes32", "uint256", "address"],
        [keccak(text="EIP712Domain(uint256 chainId,address verifyingContract)"), 31337, safe]))
    struct = keccak(abi_encode(
        ["bytes32", "address", "uint256", "bytes32", "uint8", "uint256", "uint256", "uint256",
         "address", "address", "uint256"],
        [SAFE_TX_TYPEHASH, to, value, keccak(b""), 0, 0, 0, 0, "0x" + "00" * 20,
         "0x" + "00" * 20, 0]))
    return keccak(b"\x19\x01" + domain + struct)


def personal_sign(studio: Studio, session: dict[str, Any], message: str) -> dict[str, Any]:
    """`personal_sign` through web3.py's provider, the way a dapp's wallet library asks."""
    answer: dict[str, Any] = studio.web3(session).provider.make_request(
        "personal_sign", [message, session["address"]])
    return answer


def recovered(answer: dict[str, Any], message: bytes) -> str:
    assert "error" not in answer, answer
    return str(Account.recover_message(encode_defunct(primitive=message),
                                       signature=answer["result"]))


def test_personal_sign_of_a_safe_transaction_hash_is_refused_with_sign_message_only(
        studio: Studio) -> None:
    session = studio.create_session(type_="app", permissions="sign_message", fund=False)
    digest = safe_transaction_hash(fresh_address(), fresh_address(), 10**20)
    error = assert_policy_denied(personal_sign(studio, session, "0x" + digest.hex()),
                                 "permission_denied")
    assert "sign_digest" in error["data"]["detail"]
    assert "32 bytes" in error["data"]["detail"]


def test_personal_sign_of_a_safe_transaction_hash_is_signed_with_sign_digest(
        studio: Studio) -> None:
    session = studio.create_session(type_="app", permissions="sign_digest", fund=False)
    digest = safe_transaction_hash(fresh_address(), fresh_address(), 10**20)
    answer = personal_sign(studio, session, "0x" + digest.hex())
    assert recovered(answer, digest) == session["address"]


def test_personal_sign_of_32_characters_of_text_needs_sign_digest(studio: Studio) -> None:
    # "Exactly 32 bytes" is taken literally: the bytes that get signed, however they were sent.
    text = "pay 1 ETH to the bearer, ok? 32!"
    assert len(text.encode()) == 32
    message_only = studio.create_session(type_="app", permissions="sign_message", fund=False)
    assert_policy_denied(personal_sign(studio, message_only, text), "permission_denied")
    digest_only = studio.create_session(type_="app", permissions="sign_digest", fund=False)
    assert recovered(personal_sign(studio, digest_only, text), text.encode()) == (
        digest_only["address"])


def test_sign_digest_does_not_cover_messages_of_other_lengths(studio: Studio) -> None:
    session = studio.create_session(type_="app", permissions="sign_digest", fund=False)
    for message in (b"Sign in to example.org", b"\x11" * 31, b"\x11" * 33):
        assert_policy_denied(personal_sign(studio, session, "0x" + message.hex()),
                             "permission_denied")


def test_sign_message_still_signs_a_message_of_another_length(studio: Studio) -> None:
    session = studio.create_session(type_="app", permissions="sign_message", fund=False)
    message = b"\x11" * 33
    assert recovered(personal_sign(studio, session, "0x" + message.hex()), message) == (
        session["address"])
