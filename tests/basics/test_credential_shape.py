"""The shape check a bearer credential passes before any lookup: exactly what the issuer
makes (prefix, 43 url-safe base64 ASCII characters), nothing a lookalike can slip through."""

from __future__ import annotations

import os

import pytest

from session_studio.basics import CredentialIssuer, looks_like_credential


def test_every_issued_credential_has_the_shape() -> None:
    issuer = CredentialIssuer(os.urandom(32))
    assert all(looks_like_credential(issuer.token_for("session", f"s{i}", 1))
               for i in range(200))


@pytest.mark.parametrize("token", [
    "sst_" + "a" * 42,  # one short
    "sst_" + "a" * 44,  # one long
    "sst_" + "é" * 43,  # unicode letters are not base64
    "sst_" + "a" * 42 + "=",  # padding is never issued
    "sst_" + "a" * 43 + "\n",  # a trailing newline
    "SST_" + "a" * 43,  # another prefix
    "",
])
def test_a_lookalike_is_not_a_credential(token: str) -> None:
    assert not looks_like_credential(token)
