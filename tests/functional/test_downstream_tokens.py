"""What downstream apps get: X-Auth-Token, JWKS, discovery, introspection, redirect modes."""

from __future__ import annotations

import base64

import jwt as pyjwt
import pytest

from gateway.orgs.models import MemberStatus
from gateway.sessions.cookies import COOKIE_NAME
from tests.conftest import Auth
from tests.factories import MembershipFactory


@pytest.fixture
def signed_in(auth, client, db):
    membership = MembershipFactory(admin=True, org__slug="acme")
    db.flush()
    auth.login(membership.user.email)
    return membership


@pytest.fixture
def introspection_client(runner):
    output = runner.invoke(args=["client", "create", "Billing app"]).output
    client_id = output.split("client_id: ")[1].split()[0]
    secret = output.split("(shown once): ")[1].split()[0]
    return client_id, secret


def _introspect(client, credentials, token):
    basic = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
    return client.post("/oauth/introspect", data={"token": token}, headers={"Authorization": f"Basic {basic}"})


def test_verify_hands_out_a_token_pyjwt_verifies_with_the_jwks(client, signed_in):
    verify = client.get("/auth/verify")
    token = verify.headers["X-Auth-Token"]
    jwks = client.get("/.well-known/jwks.json").json
    kid = pyjwt.get_unverified_header(token)["kid"]
    key = next(pyjwt.PyJWK(k).key for k in jwks["keys"] if k["kid"] == kid)
    claims = pyjwt.decode(token, key, algorithms=["ES256"], audience="idgate-downstream",
                          issuer="http://127.0.0.1:5000", options={"verify_exp": False})
    assert claims["sub"] == verify.headers["X-Auth-User-Id"] and claims["org"] == "acme"


def test_discovery_names_the_issuer_jwks_and_introspection(client):
    document = client.get("/.well-known/openid-configuration").json
    assert document["issuer"] == "http://127.0.0.1:5000"
    assert document["jwks_uri"].endswith("/.well-known/jwks.json")
    assert document["introspection_endpoint"].endswith("/oauth/introspect")


def test_introspection_of_session_tokens_and_jwts(client, signed_in, introspection_client):
    session_token = client.get_cookie(COOKIE_NAME).value
    jwt_token = client.get("/auth/verify").headers["X-Auth-Token"]
    for token, kind in ((session_token, "session"), (jwt_token, "jwt")):
        answer = _introspect(client, introspection_client, token).json
        assert answer["active"] is True and answer["token_type"] == kind
        assert answer["username"] == signed_in.user.email and answer["org"] == "acme"


def test_introspection_says_inactive_once_the_session_ends(app, client, db, signed_in, introspection_client):
    session_token = client.get_cookie(COOKIE_NAME).value
    jwt_token = client.get("/auth/verify").headers["X-Auth-Token"]
    signed_in.status = MemberStatus.INACTIVE  # deactivated
    db.flush()
    for token in (session_token, jwt_token, "garbage", ""):
        answer = _introspect(app.test_client(), introspection_client, token)
        assert answer.status_code == 200 and answer.json == {"active": False}


def test_browser_mode_redirects_straight_to_sign_in(client):
    response = client.get("/auth/verify?redirect=1", headers={"X-Forwarded-Proto": "http",
                                                              "X-Forwarded-Host": "127.0.0.1:5000",
                                                              "X-Forwarded-Uri": "/app"})
    assert response.status_code == 302
    assert response.headers["Location"] == "http://127.0.0.1:5000/login?next=http%3A%2F%2F127.0.0.1%3A5000%2Fapp"


RD_TRICKS = [
    "//evil.example", "//EVIL.example", "/\\evil.example", "/\\/evil.example", "https:evil.example",
    "HTTPS:/evil.example", "https:%2F%2Fevil.example",
    # userinfo: the host is what follows the @
    "https://127.0.0.1:5000@evil.example/", "//127.0.0.1:5000@evil.example", "https://user:pw@127.0.0.1:5000/",
    "https://evil.example\\@127.0.0.1:5000", "https://127.0.0.1:5000%2F@evil.example",
    # encoded forms, decoded once more by some proxies
    "%2F%2Fevil.example", "%2f%2fevil.example", "/%2F%2Fevil.example", "/%5Cevil.example",
    "/%09/evil.example", "%0d%0aLocation:evil.example",
    # mixed case, look-alike hosts, control characters, other schemes
    "HTTPS://EVIL.EXAMPLE/", "HtTpS://evil.example/", "https://127.0.0.1:5000.evil.example/",
    "\t//evil.example", " /dashboard", "javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x",
]


@pytest.mark.parametrize("rd", RD_TRICKS)
def test_rd_tricks_never_reach_the_sign_in_link(client, rd):
    response = client.get("/auth/verify", query_string={"rd": rd})
    assert response.headers["X-Auth-Redirect"] == "http://127.0.0.1:5000/login"
    browser = client.get("/auth/verify", query_string={"rd": rd, "redirect": "1"})
    assert browser.status_code == 302 and browser.headers["Location"] == "http://127.0.0.1:5000/login"


def test_a_forged_original_url_is_dropped_too(client):
    response = client.get("/auth/verify", headers={"X-Original-URL": "https://evil.example/x"})
    assert response.headers["X-Auth-Redirect"] == "http://127.0.0.1:5000/login"


def test_an_original_url_without_a_scheme_is_refused_outright(client):
    response = client.get("/auth/verify", headers={"X-Original-URL": "//evil.example"})
    assert response.status_code == 403 and "X-Auth-Redirect" not in response.headers


def test_an_allowed_absolute_rd_is_kept_whatever_the_scheme_case(client):
    response = client.get("/auth/verify", query_string={"rd": "HTTP://127.0.0.1:5000/ok"})
    assert response.headers["X-Auth-Redirect"] == "http://127.0.0.1:5000/login?next=HTTP%3A%2F%2F127.0.0.1%3A5000%2Fok"


SPOOFED = {"X-Auth-User-Id": "1", "X-Auth-Email": "ceo@evil.example", "X-Auth-Org": "evil",
           "X-Auth-Role": "admin", "X-Auth-Token": "forged"}


def test_identity_headers_sent_by_a_client_open_nothing(client):
    response = client.get("/auth/verify", headers=SPOOFED)
    assert response.status_code == 401
    assert not set(SPOOFED) & set(response.headers.keys())


def test_identity_headers_sent_by_a_client_never_replace_the_real_ones(client, signed_in):
    response = client.get("/auth/verify", headers=SPOOFED)
    assert response.status_code == 200
    assert response.headers["X-Auth-Email"] == signed_in.user.email
    assert response.headers["X-Auth-User-Id"] == str(signed_in.user_id)
    assert response.headers["X-Auth-Org"] == "acme" and response.headers["X-Auth-Token"] != "forged"


def test_a_safe_rd_is_kept(client):
    response = client.get("/auth/verify", query_string={"rd": "/dashboard"})
    assert response.headers["X-Auth-Redirect"] == "http://127.0.0.1:5000/login?next=%2Fdashboard"


def test_logout_on_one_instance_is_refused_on_another_at_once(app, client, db, signed_in):
    from gateway import create_app
    from tests.conftest import FAST_HASH

    settings = app.extensions["idgate.settings"]
    other = create_app({"DATABASE_URL": settings.database_url, "SECRET_KEY": "test-secret",
                        "CERTS_DIR": settings.certs_dir, "CLOCK": app.extensions["idgate.clock"], **FAST_HASH})
    other.extensions["idgate.sessionmaker"] = app.extensions["idgate.sessionmaker"]
    bearer = {"Authorization": f"Bearer {client.get_cookie(COOKIE_NAME).value}"}
    assert other.test_client().get("/auth/verify", headers=bearer).status_code == 200
    Auth(client).logout()
    assert other.test_client().get("/auth/verify", headers=bearer).status_code == 401


def test_the_fast_path_answers_exactly_like_the_view(client, signed_in):
    from gateway.sessions import cache

    cache.cache_of(client.application).forget()
    first = client.get("/auth/verify")  # resolved by Flask, remembered for a second
    second = client.get("/auth/verify")  # answered before Flask
    names = ("X-Auth-User-Id", "X-Auth-Email", "X-Auth-Name", "X-Auth-Org", "X-Auth-Role", "X-Auth-Token",
             "Cache-Control")
    assert [second.headers[n] for n in names] == [first.headers[n] for n in names]
    assert second.status_code == 200 and second.headers["X-Request-Id"]
    assert client.get("/auth/verify?org=other").status_code == 403
    assert client.get("/auth/verify?role=admin").status_code == 200
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'idgate_http_requests_total{endpoint="forward_auth.verify",method="GET",status="200"}' in metrics
