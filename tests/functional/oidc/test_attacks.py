"""An independent relying party, authlib's OAuth 2 client, against a real `idgate serve`: the code
flow as a Python app would run it, then each refusal the provider owes (redirect URI variants, PKCE
downgrades, code and refresh-token replays, client authentication, `alg` tricks, `prompt=none`,
`max_age=0`, a member the app's rule refuses). Every refusal is the RFC's error, never a 500."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

pytestmark = pytest.mark.slow
REDIRECT = "http://127.0.0.1:9/callback"  # nothing listens: the client reads the redirect


@pytest.fixture(scope="module")
def registered(provider):
    client_id, secret = provider.register("Outline", REDIRECT)
    discovery = requests.get(f"{provider.base}/.well-known/openid-configuration").json()
    return {"client_id": client_id, "secret": secret, "discovery": discovery, "provider": provider}


def rp(registered, **kw) -> OAuth2Session:
    """authlib's client, as an app would configure it: PKCE S256, client_secret_basic."""
    return OAuth2Session(registered["client_id"], registered["secret"], redirect_uri=REDIRECT,
                         scope=kw.pop("scope", "openid email profile"), code_challenge_method="S256",
                         token_endpoint_auth_method="client_secret_basic", **kw)


def authorize(browser, session: OAuth2Session, registered, **params):
    """The authorization URL authlib builds, opened by the signed-in browser; the redirect's query."""
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(12)
    url, state = session.create_authorization_url(registered["discovery"]["authorization_endpoint"],
                                                  code_verifier=verifier, nonce=nonce, **params)
    answer = browser.get(url, allow_redirects=False)
    assert answer.status_code in (302, 303), (answer.status_code, answer.text[:300])
    location = answer.headers["Location"]
    return location, verifier, nonce, state


def query_of(location: str) -> dict:
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def tokens_for(registered, scope: str = "openid email profile", **params):
    browser = registered["provider"].browser()
    session = rp(registered, scope=scope)
    location, verifier, nonce, state = authorize(browser, session, registered, **params)
    assert location.startswith(REDIRECT), location
    token = session.fetch_token(registered["discovery"]["token_endpoint"], authorization_response=location,
                                code_verifier=verifier, state=state)
    return session, token, nonce, location, verifier


def test_authlibs_client_signs_in_and_the_id_token_verifies_against_the_jwks(registered):
    session, token, nonce, location, _ = tokens_for(registered)
    assert query_of(location)["iss"] == registered["discovery"]["issuer"]
    keys = KeySet.import_key_set(requests.get(registered["discovery"]["jwks_uri"]).json())
    decoded = jwt.decode(token["id_token"], keys, algorithms=["RS256"])
    registry = jwt.JWTClaimsRegistry(iss={"essential": True, "value": registered["discovery"]["issuer"]},
                                     aud={"essential": True, "value": registered["client_id"]},
                                     nonce={"essential": True, "value": nonce})
    registry.validate(decoded.claims)
    assert decoded.header["alg"] == "RS256" and decoded.claims["email"] == "ops@acme.example"
    info = session.get(registered["discovery"]["userinfo_endpoint"]).json()
    assert info["sub"] == decoded.claims["sub"]


@pytest.mark.parametrize("variant", [REDIRECT + "/", REDIRECT.upper(), "http://127.0.0.1:9/callback/..;/",
                                     "http://127.0.0.1:9/Callback", "http://127.0.0.1:90/callback",
                                     "http://evil@127.0.0.1:9/callback", "http://127.0.0.1:9/callback?x=1",
                                     "http://127.0.0.1:9/callback%2F", "http://localhost:9/callback"])
def test_a_redirect_uri_that_is_not_exactly_registered_is_refused_here_not_redirected_to(registered, variant):
    session = OAuth2Session(registered["client_id"], redirect_uri=variant, scope="openid",
                            code_challenge_method="S256")
    url, _ = session.create_authorization_url(registered["discovery"]["authorization_endpoint"],
                                              code_verifier=secrets.token_urlsafe(48))
    answer = registered["provider"].browser().get(url, allow_redirects=False)
    assert answer.status_code == 400 and "Location" not in answer.headers


def test_pkce_plain_or_none_is_refused_at_the_client(registered):
    browser = registered["provider"].browser()
    for method in ("plain", None):
        session = OAuth2Session(registered["client_id"], redirect_uri=REDIRECT, scope="openid",
                                code_challenge_method=method)
        url, _ = session.create_authorization_url(registered["discovery"]["authorization_endpoint"],
                                                  code_verifier=secrets.token_urlsafe(48) if method else None)
        answer = browser.get(url, allow_redirects=False)
        assert answer.status_code == 302 and query_of(answer.headers["Location"])["error"] == "invalid_request"


def test_a_replayed_code_is_invalid_grant_and_revokes_what_it_gave(registered):
    _, token, _, location, verifier = tokens_for(registered)
    again = requests.post(registered["discovery"]["token_endpoint"], auth=(registered["client_id"], registered["secret"]),
                          data={"grant_type": "authorization_code", "code": query_of(location)["code"],
                                "redirect_uri": REDIRECT, "code_verifier": verifier})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    info = requests.get(registered["discovery"]["userinfo_endpoint"],
                        headers={"Authorization": f"Bearer {token['access_token']}"})
    assert info.status_code == 401 and 'error="invalid_token"' in info.headers["WWW-Authenticate"]


def test_a_reused_refresh_token_revokes_its_family(registered):
    session, token, *_ = tokens_for(registered, scope="openid offline_access")
    refreshed = session.refresh_token(registered["discovery"]["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    reuse = requests.post(registered["discovery"]["token_endpoint"], auth=(registered["client_id"], registered["secret"]),
                          data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]})
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    newest = requests.post(registered["discovery"]["token_endpoint"], auth=(registered["client_id"], registered["secret"]),
                           data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]})
    assert newest.status_code == 400  # the whole family went


@pytest.mark.parametrize("how", ["wrong secret", "no secret", "unknown client", "secret in the body, wrong",
                                 "garbled basic"])
def test_a_client_that_cannot_authenticate_is_invalid_client(registered, how):
    browser = registered["provider"].browser()
    session = rp(registered)
    location, verifier, *_ = authorize(browser, session, registered)
    data = {"grant_type": "authorization_code", "code": query_of(location)["code"], "redirect_uri": REDIRECT,
            "code_verifier": verifier}
    kw = {"wrong secret": {"auth": (registered["client_id"], "nope")},
          "no secret": {"data": {**data, "client_id": registered["client_id"]}},
          "unknown client": {"auth": ("someone-else", registered["secret"])},
          "secret in the body, wrong": {"data": {**data, "client_id": registered["client_id"], "client_secret": "x"}},
          "garbled basic": {"headers": {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:x").decode()}}}[how]
    answer = requests.post(registered["discovery"]["token_endpoint"], **{"data": data, **kw})
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"


def _unsigned(claims: dict, alg: str = "none", key: bytes = b"") -> str:
    def part(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    head = part({"alg": alg, "typ": "JWT"}) + "." + part(claims)
    signature = hmac.new(key, head.encode(), hashlib.sha256).digest() if alg == "HS256" else b""
    return head + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_an_id_token_hint_with_alg_tricks_vouches_for_nothing(registered, alg):
    _, token, *_ = tokens_for(registered)
    real = jwt.decode(token["id_token"], KeySet.import_key_set(requests.get(registered["discovery"]["jwks_uri"]).json()))
    # HS256 keyed with the public JWKS, the classic confusion; alg none, unsigned.
    forged = _unsigned(real.claims, alg, requests.get(registered["discovery"]["jwks_uri"]).content)
    browser = registered["provider"].browser()
    answer = browser.get(registered["discovery"]["end_session_endpoint"], params={"id_token_hint": forged},
                         allow_redirects=False)
    assert answer.status_code == 200 and "Sign out?" in answer.text  # asks, since nobody vouched
    assert browser.get(f"{registered['provider'].base}/auth/verify").status_code == 200


def test_prompt_none_without_a_session_is_login_required_with_the_issuer(registered):
    location, *_ = authorize(requests.Session(), rp(registered), registered, prompt="none")
    answer = query_of(location)
    assert answer["error"] == "login_required" and answer["iss"] == registered["discovery"]["issuer"]


def test_max_age_zero_asks_for_a_fresh_sign_in_even_when_signed_in(registered):
    location, *_ = authorize(registered["provider"].browser(), rp(registered), registered, max_age="0")
    assert location.startswith("/login?next=%2Foauth%2Fauthorize")


def test_a_member_the_apps_rule_refuses_gets_access_denied(registered, provider):
    browser = provider.browser()
    api = f"{provider.base}/api/v1/orgs/acme"
    bearer = {"Authorization": f"Bearer {browser.cookies.get('idgate_session')}"}
    client_id, secret = provider.register("Admin-free zone", REDIRECT)
    clients = requests.get(f"{api}/oidc-clients", headers=bearer).json()["oidc_clients"]
    (app_id,) = [c["app_id"] for c in clients if c["client_id"] == client_id]
    changed = requests.patch(f"{api}/apps/{app_id}", headers=bearer, json={"access": "listed", "roles": ["user"]})
    assert changed.status_code == 200, changed.text
    refused = {**registered, "client_id": client_id, "secret": secret}
    location, *_ = authorize(browser, rp(refused), refused)
    assert query_of(location)["error"] == "access_denied"
