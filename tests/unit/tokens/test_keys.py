"""Token signing keys: files in the certs folder, kid by RFC 7638, rotation, the public JWKS."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from gateway.tokens import keys


@pytest.fixture
def certs(tmp_path) -> str:
    return str(tmp_path / "certs")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def rfc7638_thumbprint(jwk: dict) -> str:
    """Computed here by the RFC's recipe, not by joserfc: the required EC members, sorted, no spaces."""
    required = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    return _b64url(hashlib.sha256(json.dumps(required, separators=(",", ":"), sort_keys=True).encode()).digest())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_missing_key_is_generated_as_a_private_p256_pem_only_its_owner_can_read(certs):
    keys.ensure_signing_key(certs)
    pem = Path(certs) / keys.CURRENT
    assert _mode(pem) == 0o600
    private = load_pem_private_key(pem.read_bytes(), password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey) and private.curve.name == "secp256r1"


def test_generating_is_idempotent(certs):
    keys.ensure_signing_key(certs)
    before = (Path(certs) / keys.CURRENT).read_bytes()
    keys.ensure_signing_key(certs)
    assert (Path(certs) / keys.CURRENT).read_bytes() == before


def test_the_key_is_created_on_first_use_when_nobody_ran_init(certs):
    current, published = keys.signing_keys(certs)
    assert (Path(certs) / keys.CURRENT).exists()
    assert published == [current]


def _published(certs, alg="ES256"):
    return [entry for entry in keys.jwks(certs)["keys"] if entry["alg"] == alg]


def test_the_kid_is_the_rfc7638_thumbprint(certs):
    (entry,) = _published(certs)
    assert entry["kid"] == rfc7638_thumbprint(entry)


def test_the_jwks_publishes_public_halves_only(certs):
    keys.rotate(certs)
    document = keys.jwks(certs)
    assert len(document["keys"]) == 4
    ec, rsa = _published(certs, "ES256"), _published(certs, "RS256")
    assert len(ec) == len(rsa) == 2
    for entry in ec:
        assert set(entry) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
        assert (entry["kty"], entry["crv"], entry["use"]) == ("EC", "P-256", "sig")
    for entry in rsa:
        assert set(entry) == {"kty", "n", "e", "kid", "use", "alg"}
        assert (entry["kty"], entry["use"]) == ("RSA", "sig")
    json.dumps(document)  # served as is


def test_rotation_rotates_the_rsa_key_too(certs):
    old = keys.signing_keys(certs, keys.RSA)[0].kid
    keys.rotate(certs)
    current, published = keys.signing_keys(certs, keys.RSA)
    assert current.kid != old and [key.kid for key in published] == [current.kid, old]


def test_rotation_makes_a_new_current_key_and_keeps_the_old_one_published(certs):
    old_kid = keys.signing_keys(certs)[0].kid
    new_kid = keys.rotate(certs)
    current, published = keys.signing_keys(certs)
    assert new_kid != old_kid and current.kid == new_kid
    assert [key.kid for key in published] == [new_kid, old_kid]
    assert _mode(Path(certs) / keys.CURRENT) == 0o600 and _mode(Path(certs) / keys.PREVIOUS) == 0o600


def test_a_second_rotation_retires_the_oldest_key(certs):
    first = keys.signing_keys(certs)[0].kid
    second = keys.rotate(certs)
    third = keys.rotate(certs)
    assert [entry["kid"] for entry in _published(certs)] == [third, second]
    assert first not in {entry["kid"] for entry in keys.jwks(certs)["keys"]}


def test_rotating_before_any_key_exists_still_leaves_two(certs):
    keys.rotate(certs)
    assert len(_published(certs)) == 2


def test_the_key_set_verifies_with_every_published_key(certs):
    keys.rotate(certs)
    assert {key.kid for key in keys.key_set(certs).keys} == {e["kid"] for e in _published(certs)}
