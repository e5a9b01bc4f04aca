"""`idgate keys rotate` as an operator runs it: apps holding the old JWKS keep working until the old
tokens expire, new tokens are signed with the new key, and the JWKS shows both."""

from __future__ import annotations

import jwt as pyjwt
import pytest

from tests.factories import MembershipFactory


@pytest.fixture
def certs_dir(tmp_path) -> str:
    """A key folder of this test's own: a rotation must not change the keys of other tests."""
    return str(tmp_path / "certs")


def _verify_with_jwks(client, token: str) -> dict:
    jwks = client.get("/.well-known/jwks.json").json
    kid = pyjwt.get_unverified_header(token)["kid"]
    key = next(pyjwt.PyJWK(entry).key for entry in jwks["keys"] if entry["kid"] == kid)
    return pyjwt.decode(token, key, algorithms=["ES256"], audience="idgate-downstream",
                        issuer="http://127.0.0.1:5000", options={"verify_exp": False})


def test_init_generates_the_signing_key(runner, client):
    assert runner.invoke(args=["init"]).exit_code == 0
    assert sorted(k["alg"] for k in client.get("/.well-known/jwks.json").json["keys"]) == ["ES256", "RS256"]


def test_rotation_publishes_the_new_key_beside_the_old_one(runner, auth, client, db):
    membership = MembershipFactory()
    db.flush()
    auth.login(membership.user.email)
    before = client.get("/auth/verify").headers["X-Auth-Token"]
    old_kid = pyjwt.get_unverified_header(before)["kid"]

    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0
    new_kid = result.output.split("New signing key ")[1].split(";")[0]

    published = client.get("/.well-known/jwks.json").json["keys"]
    assert [k["kid"] for k in published if k["alg"] == "ES256"] == [new_kid, old_kid]
    after = client.get("/auth/verify").headers["X-Auth-Token"]
    assert pyjwt.get_unverified_header(after)["kid"] == new_kid
    assert _verify_with_jwks(client, before)["sub"] == _verify_with_jwks(client, after)["sub"]


def test_discovery_advertises_the_signing_algorithm(client):
    document = client.get("/.well-known/openid-configuration").json
    assert document["id_token_signing_alg_values_supported"] == ["RS256", "ES256"]
    assert document["introspection_endpoint_auth_methods_supported"] == ["client_secret_basic"]
    assert client.get(document["jwks_uri"].removeprefix("http://127.0.0.1:5000")).status_code == 200
