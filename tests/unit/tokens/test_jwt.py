"""The downstream JWT: claims, reuse, verification by an independent library, rotation."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import jwt as pyjwt
import pytest

from gateway.config import load_settings
from gateway.sessions.services import SessionContext
from gateway.tokens import jwt, keys

NOW = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)


@pytest.fixture
def settings(tmp_path):
    return load_settings(environ={"IDGATE_CERTS_DIR": str(tmp_path)})


def context(**changes) -> SessionContext:
    values = dict(session_id=7, user_id=42, email="ann@example.com", name="Ann Example", org_id=3,
                  org_slug="acme", org_name="Acme", role="admin", restricted=False, expires_at=NOW)
    values.update(changes)
    return SessionContext(**values)


def _public_key(settings, kid):
    for entry in keys.jwks(settings.certs_dir)["keys"]:
        if entry["kid"] == kid:
            return pyjwt.PyJWK(entry).key
    raise AssertionError(kid)


def test_pyjwt_verifies_it_against_the_jwks(settings):
    token, _ = jwt.token_for(context(), settings, NOW)
    header = pyjwt.get_unverified_header(token)
    assert header["alg"] == "ES256"
    claims = pyjwt.decode(token, _public_key(settings, header["kid"]), algorithms=["ES256"],
                          audience="idgate-downstream", issuer="http://127.0.0.1:5000",
                          options={"verify_exp": False})
    assert {k: claims[k] for k in ("sub", "email", "name", "org", "role", "sid")} == {
        "sub": "42", "email": "ann@example.com", "name": "Ann Example", "org": "acme", "role": "admin",
        "sid": "7"}
    assert claims["exp"] - claims["iat"] == 300 and claims["jti"]


def test_a_token_is_reused_until_it_nears_expiry(settings):
    first, reused = jwt.token_for(context(), settings, NOW)
    assert not reused
    assert jwt.token_for(context(), settings, NOW + timedelta(minutes=3)) == (first, True)
    later, reused = jwt.token_for(context(), settings, NOW + timedelta(minutes=3, seconds=30))
    assert later != first and not reused


def test_a_changed_role_or_organization_mints_a_new_token_at_once(settings):
    first, _ = jwt.token_for(context(), settings, NOW)
    assert jwt.token_for(context(role="user"), settings, NOW)[0] != first
    assert jwt.token_for(context(org_slug="beta"), settings, NOW)[0] != first


def test_verify_accepts_ours_and_refuses_expired_foreign_or_garbage(settings, tmp_path):
    token, _ = jwt.token_for(context(session_id=99), settings, NOW)
    assert jwt.verify(token, settings, NOW)["sid"] == "99"
    assert jwt.verify(token, settings, NOW + timedelta(minutes=5)) is None
    other = load_settings(environ={"IDGATE_CERTS_DIR": str(tmp_path / "other")})
    assert jwt.verify(jwt.token_for(context(session_id=98), other, NOW)[0], settings, NOW) is None
    for garbage in ("", "a.b.c", "x" * 5000, token[:-4] + "AAAA"):
        assert jwt.verify(garbage, settings, NOW) is None


def test_after_a_rotation_old_tokens_still_verify_and_new_ones_use_the_new_key(settings):
    old, _ = jwt.token_for(context(session_id=11), settings, NOW)
    new_kid = keys.rotate(settings.certs_dir)
    assert jwt.verify(old, settings, NOW) is not None
    assert {k["kid"] for k in keys.jwks(settings.certs_dir)["keys"]} >= {new_kid}
    assert len([k for k in keys.jwks(settings.certs_dir)["keys"] if k["alg"] == "ES256"]) == 2
    fresh, _ = jwt.token_for(context(session_id=11), settings, NOW)
    assert pyjwt.get_unverified_header(fresh)["kid"] == new_kid


def test_the_jwks_holds_no_private_parts(settings):
    jwt.token_for(context(), settings, NOW)
    for entry in keys.jwks(settings.certs_dir)["keys"]:
        assert "d" not in entry and "p" not in entry and entry["use"] == "sig" and entry["alg"] in ("ES256", "RS256")
