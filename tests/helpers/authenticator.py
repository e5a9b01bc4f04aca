"""A software passkey authenticator with its browser: it makes and uses credentials as Chromium and a
platform authenticator do, encoded with the `fido2` package's structures (another implementation
than the py_webauthn that checks them), and answers in the JSON the browser's script posts.

Its knobs are the ways a real answer can be wrong: another origin or rpId, no user verification, a
counter that goes backwards (a copied key), a key other than the one registered.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import ES256
from fido2.utils import websafe_decode, websafe_encode
from fido2.webauthn import AttestationObject, AttestedCredentialData, AuthenticatorData, CollectedClientData

FLAG = AuthenticatorData.FLAG


@dataclass
class Credential:
    id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    resident: bool
    counter: int = 0


@dataclass
class SoftwareAuthenticator:
    """One person's authenticator, used from pages at `origin`."""

    origin: str = "http://localhost"
    rp_id: str | None = None  # None: the rpId the options name (a browser checks it against the origin)
    user_verification: bool = True  # a PIN or a fingerprint asked for and given
    resident: bool = True
    counts: bool = True  # False: a synced passkey that always says 0
    credentials: list[Credential] = field(default_factory=list)

    def create(self, options: dict, *, origin: str | None = None, rp_id: str | None = None) -> str:
        """The browser's answer to navigator.credentials.create(options), as passkeys.js posts it."""
        rp_id = rp_id or self.rp_id or options["rp"]["id"]
        credential = Credential(os.urandom(16), ec.generate_private_key(ec.SECP256R1()), rp_id,
                                websafe_decode(options["user"]["id"]), self.resident)
        self.credentials.append(credential)
        client_data = CollectedClientData.create(type="webauthn.create", challenge=options["challenge"],
                                                 origin=origin or self.origin)
        attested = AttestedCredentialData.create(b"\0" * 16, credential.id,
                                                 ES256.from_cryptography_key(credential.key.public_key()))
        auth_data = AuthenticatorData.create(hashlib.sha256(rp_id.encode()).digest(), self._flags() | FLAG.AT,
                                             credential.counter, attested)
        return json.dumps({
            "id": websafe_encode(credential.id), "rawId": websafe_encode(credential.id), "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {"clientDataJSON": websafe_encode(client_data),
                         "attestationObject": websafe_encode(AttestationObject.create("none", auth_data, {})),
                         "transports": ["internal", "hybrid"]},
            "clientExtensionResults": {"credProps": {"rk": self.resident}},
        })

    def get(self, options: dict, *, origin: str | None = None, rp_id: str | None = None,
            credential: Credential | None = None, counter: int | None = None, challenge: str | None = None) -> str:
        """The browser's answer to navigator.credentials.get(options): with the credential the options
        allow (or, with none listed, a discoverable one of the rpId), its counter one up."""
        credential = credential or self._pick(options)
        if counter is not None:
            credential.counter = counter
        elif self.counts:
            credential.counter += 1
        client_data = CollectedClientData.create(type="webauthn.get", challenge=challenge or options["challenge"],
                                                 origin=origin or self.origin)
        auth_data = AuthenticatorData.create(hashlib.sha256((rp_id or self.rp_id or credential.rp_id).encode()).digest(),
                                             self._flags(), credential.counter)
        signature = credential.key.sign(bytes(auth_data) + client_data.hash, ec.ECDSA(hashes.SHA256()))
        return json.dumps({
            "id": websafe_encode(credential.id), "rawId": websafe_encode(credential.id), "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {"clientDataJSON": websafe_encode(client_data), "authenticatorData": websafe_encode(auth_data),
                         "signature": websafe_encode(signature),
                         "userHandle": websafe_encode(credential.user_handle) if credential.resident else None},
            "clientExtensionResults": {},
        })

    def _pick(self, options: dict) -> Credential:
        allowed = {websafe_decode(c["id"]) for c in options.get("allowCredentials") or []}
        for credential in reversed(self.credentials):
            if credential.rp_id == options["rpId"] and (credential.id in allowed if allowed else credential.resident):
                return credential
        raise LookupError("no credential of this authenticator fits the options")

    def _flags(self):
        return FLAG.UP | (FLAG.UV if self.user_verification else 0)
