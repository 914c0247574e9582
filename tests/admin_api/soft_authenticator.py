"""A software WebAuthn authenticator: what `navigator.credentials.create()` and `.get()` would
return, built by hand, so the API tests can register and log in through the real server and
the real py_webauthn verification without a browser.

It holds ES256 (P-256) keys made with `cryptography` and answers in the JSON form that
`PublicKeyCredential.toJSON()` produces and py_webauthn's `verify_*_response` accept: `id`,
`rawId`, `response` ({clientDataJSON, attestationObject} or {clientDataJSON, authenticatorData,
signature, userHandle}), `type: "public-key"`, binary fields base64url without padding.

Byte layouts (WebAuthn Level 2, §6.1 and §6.5):

    authenticatorData = rpIdHash (32) | flags (1) | signCount (4, big-endian)
                        | [attested credential data, when AT is set]
    attested credential data = aaguid (16) | credentialIdLength (2) | credentialId
                               | credentialPublicKey (COSE, CBOR)
    assertion signature = ECDSA-SHA256(authenticatorData || SHA-256(clientDataJSON)), DER

Attestation is "none" (`attStmt` empty), as passkey providers commonly send.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP = 0x01  # user present
UV = 0x04  # user verified
AT = 0x40  # attested credential data included
_AAGUID_NONE = bytes(16)
# COSE_Key for an EC2 P-256 key used with ES256 (RFC 9053 §7.1, IANA COSE registries).
_KTY, _ALG, _CRV, _X, _Y = 1, 3, -1, -2, -3
_KTY_EC2, _ALG_ES256, _CRV_P256 = 2, -7, 1


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftCredential:
    """One passkey held by the authenticator."""

    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0

    def cose_public_key(self) -> bytes:
        numbers = self.private_key.public_key().public_numbers()
        return cbor2.dumps({_KTY: _KTY_EC2, _ALG: _ALG_ES256, _CRV: _CRV_P256,
                            _X: numbers.x.to_bytes(32, "big"),
                            _Y: numbers.y.to_bytes(32, "big")})


@dataclass
class SoftAuthenticator:
    """A platform authenticator for one origin.

    `counter=True` behaves like a security key: every assertion increments the signature
    counter. `counter=False` behaves like a synced passkey: the counter is always 0.
    """

    origin: str
    rp_id: str
    counter: bool = True
    credentials: list[SoftCredential] = field(default_factory=list)

    # -- navigator.credentials.create() ----------------------------------------------------
    def create(self, options: dict[str, Any], *, user_verified: bool = True,
               origin: str | None = None, challenge: bytes | None = None,
               rp_id: str | None = None) -> dict[str, Any]:
        """Make a new credential for the registration `options` (WebAuthn JSON form).

        The keyword arguments forge what a misbehaving client would send: no user
        verification, another origin, another challenge, another RP.
        """
        rp = rp_id or options["rp"]["id"]
        credential = SoftCredential(
            credential_id=secrets.token_bytes(32),
            private_key=ec.generate_private_key(ec.SECP256R1()), rp_id=rp,
            user_handle=from_b64url(options["user"]["id"]))
        attested = (_AAGUID_NONE + len(credential.credential_id).to_bytes(2, "big")
                    + credential.credential_id + credential.cose_public_key())
        auth_data = self._authenticator_data(rp, flags=UP | AT | (UV if user_verified else 0),
                                             sign_count=0) + attested
        client_data = self._client_data(
            "webauthn.create",
            challenge if challenge is not None else from_b64url(options["challenge"]),
            origin)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        self.credentials.append(credential)
        return {
            "id": b64url(credential.credential_id),
            "rawId": b64url(credential.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {"clientDataJSON": b64url(client_data),
                         "attestationObject": b64url(attestation),
                         "transports": ["internal"]},
        }

    # -- navigator.credentials.get() -------------------------------------------------------
    def get(self, options: dict[str, Any], *, user_verified: bool = True,
            sign_count: int | None = None, origin: str | None = None,
            challenge: bytes | None = None, credential: SoftCredential | None = None,
            user_present: bool = True) -> dict[str, Any]:
        """An assertion for the authentication `options`, by the only (or given) credential.

        `sign_count` forces the counter reported (a cloned authenticator reports a stale one).
        """
        chosen = credential or self._pick(options)
        if sign_count is None:
            if self.counter:
                chosen.sign_count += 1
            sign_count = chosen.sign_count
        flags = (UP if user_present else 0) | (UV if user_verified else 0)
        auth_data = self._authenticator_data(chosen.rp_id, flags=flags, sign_count=sign_count)
        client_data = self._client_data(
            "webauthn.get",
            challenge if challenge is not None else from_b64url(options["challenge"]), origin)
        signature = chosen.private_key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(chosen.credential_id),
            "rawId": b64url(chosen.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {"clientDataJSON": b64url(client_data),
                         "authenticatorData": b64url(auth_data),
                         "signature": b64url(signature),
                         "userHandle": b64url(chosen.user_handle)},
        }

    # -- helpers ---------------------------------------------------------------------------
    def _pick(self, options: dict[str, Any]) -> SoftCredential:
        allowed = {from_b64url(c["id"]) for c in options.get("allowCredentials") or []}
        mine = [c for c in self.credentials
                if c.rp_id == options.get("rpId", c.rp_id)
                and (not allowed or c.credential_id in allowed)]
        if not mine:
            raise LookupError("no credential of this authenticator matches the options")
        return mine[-1]

    @staticmethod
    def _authenticator_data(rp_id: str, *, flags: int, sign_count: int) -> bytes:
        return (hashlib.sha256(rp_id.encode()).digest() + bytes([flags])
                + sign_count.to_bytes(4, "big"))

    def _client_data(self, kind: str, challenge: bytes, origin: str | None) -> bytes:
        return json.dumps({"type": kind, "challenge": b64url(challenge),
                           "origin": origin or self.origin, "crossOrigin": False},
                          separators=(",", ":")).encode()
