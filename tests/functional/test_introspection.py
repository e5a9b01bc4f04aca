"""POST /oauth/introspect (RFC 7662): what a registered client learns about a session token or
one of our JWTs, and that anything no longer valid is simply `active: false`."""

from __future__ import annotations

import base64
import hashlib

import pytest
from sqlalchemy import select

from gateway.orgs.models import Role
from gateway.sessions.cookies import COOKIE_NAME
from gateway.tokens.models import Client
from tests.conftest import Auth
from tests.factories import MembershipFactory

INACTIVE = {"active": False}


@pytest.fixture
def signed_in(auth, client, db):
    membership = MembershipFactory(admin=True, org__slug="acme", user__name="Ann Example")
    db.flush()
    auth.login(membership.user.email)
    return membership


@pytest.fixture
def credentials(runner):
    output = runner.invoke(args=["client", "create", "Billing app"]).output
    return output.split("client_id: ")[1].split()[0], output.split("(shown once): ")[1].split()[0]


def basic(client_id: str, secret: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


@pytest.fixture
def introspect(app, credentials):
    """Ask as the registered client, from a client of its own (no browser cookies)."""
    def ask(token: str, **extra):
        return app.test_client().post("/oauth/introspect", data={"token": token, **extra},
                                      headers=basic(*credentials))
    return ask


def session_token(client) -> str:
    return client.get_cookie(COOKIE_NAME).value


def jwt_of(client) -> str:
    return client.get("/auth/verify").headers["X-Auth-Token"]


def test_an_active_session_token_describes_its_holder(client, signed_in, introspect):
    answer = introspect(session_token(client))
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    user = signed_in.user
    assert answer.json == {
        "active": True, "token_type": "session", "sub": str(user.id), "username": user.email,
        "email": user.email, "name": "Ann Example", "org": "acme", "role": "admin",
        "sid": answer.json["sid"], "amr": ["pwd"], "groups": [], "exp": answer.json["exp"], "iss": "http://127.0.0.1:5000",
    }


def test_a_jwt_answers_with_its_own_issue_and_expiry_times(client, signed_in, introspect):
    import jwt as pyjwt

    token = jwt_of(client)
    claims = pyjwt.decode(token, options={"verify_signature": False})
    answer = introspect(token).json
    assert answer["active"] is True and answer["token_type"] == "jwt"
    assert (answer["iat"], answer["exp"], answer["sid"]) == (claims["iat"], claims["exp"], claims["sid"])


def test_no_csrf_token_is_needed_http_basic_is_the_proof(app, client, signed_in, credentials):
    assert app.config.get("WTF_CSRF_ENABLED", True)
    answer = app.test_client().post("/oauth/introspect", data={"token": session_token(client)},
                                    headers=basic(*credentials))
    assert answer.status_code == 200 and answer.json["active"] is True


def test_after_logout_neither_the_session_token_nor_its_jwt_is_active(client, signed_in, introspect):
    token, jwt_token = session_token(client), jwt_of(client)
    Auth(client).logout()
    assert introspect(token).json == INACTIVE
    assert introspect(jwt_token).json == INACTIVE


def test_an_expired_jwt_is_inactive_while_its_session_still_lives(client, clock, signed_in, introspect):
    token, jwt_token = session_token(client), jwt_of(client)
    clock.advance(minutes=5)
    assert introspect(jwt_token).json == INACTIVE
    assert introspect(token).json["active"] is True


def test_an_idle_session_is_inactive(client, clock, signed_in, introspect):
    token = session_token(client)
    clock.advance(hours=1, seconds=1)
    assert introspect(token).json == INACTIVE


def test_a_session_still_owing_a_password_change_is_inactive(auth, client, db, introspect):
    membership = MembershipFactory(user__temporary=True)
    db.flush()
    auth.login(membership.user.email)
    assert introspect(session_token(client)).json == INACTIVE


def test_a_role_change_shows_in_the_next_answer_and_the_next_jwt(client, db, signed_in, introspect):
    token, old_jwt = session_token(client), jwt_of(client)
    signed_in.role = Role.USER
    db.commit()  # as an admin's change would be (the test's outer transaction still rolls it back)
    assert introspect(token).json["role"] == "user"
    assert introspect(old_jwt).json["role"] == "user"  # the session decides, not the old claim
    assert jwt_of(client) != old_jwt


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "x" * 5000, "eyJhbGciOiJub25lIn0.e30."])
def test_unknown_tokens_are_inactive(introspect, token):
    answer = introspect(token)
    assert answer.status_code == 200 and answer.json == INACTIVE


def test_a_request_without_a_token_is_invalid(app, credentials):
    answer = app.test_client().post("/oauth/introspect", data={"token_type_hint": "access_token"},
                                    headers=basic(*credentials))
    assert answer.status_code == 400 and answer.json["error"] == "invalid_request"


@pytest.mark.parametrize("how", ["wrong secret", "unknown client", "no credentials", "not base64",
                                 "secret in the form", "revoked client"])
def test_a_client_that_cannot_authenticate_gets_401(app, client, db, signed_in, credentials, how):
    client_id, secret = credentials
    data, headers = {"token": session_token(client)}, basic(client_id, secret)
    if how == "wrong secret":
        headers = basic(client_id, secret + "x")
    elif how == "unknown client":
        headers = basic("nobody", secret)
    elif how == "no credentials":
        headers = {}
    elif how == "not base64":
        headers = {"Authorization": "Basic !!not-base64!!"}
    elif how == "secret in the form":  # client_secret_post is not offered
        headers, data = {}, dict(data, client_id=client_id, client_secret=secret)
    elif how == "revoked client":
        registered = db.scalar(select(Client).where(Client.client_id == client_id))
        registered.revoked_at = app.extensions["idgate.clock"].now()
        db.flush()
    answer = app.test_client().post("/oauth/introspect", data=data, headers=headers)
    assert answer.status_code == 401 and answer.json["error"] == "invalid_client"
    assert "active" not in answer.json


def test_only_a_verifier_of_the_secret_is_stored(db, credentials):
    client_id, secret = credentials
    registered = db.scalar(select(Client).where(Client.client_id == client_id))
    assert registered.name == "Billing app"
    assert registered.secret_hash == hashlib.sha256(secret.encode()).hexdigest() != secret
    assert len(base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))) == 32  # 256 bits


def test_client_names_are_unique(runner, credentials):
    again = runner.invoke(args=["client", "create", "Billing app"])
    assert again.exit_code != 0 and "exists already" in again.output


def test_introspection_is_a_post(client):
    assert client.get("/oauth/introspect").status_code == 405


@pytest.mark.settings(base_url="https://auth.example.com")
def test_an_app_on_the_internal_network_asks_over_plain_http(app, client, signed_in, credentials):
    # As a proxy calls /auth/verify: http://idgate:5000, while the gateway is published over https.
    answer = app.test_client().post("/oauth/introspect", data={"token": session_token(client)},
                                    headers=basic(*credentials), base_url="http://idgate:5000")
    assert answer.status_code == 200 and answer.json["active"] is True
