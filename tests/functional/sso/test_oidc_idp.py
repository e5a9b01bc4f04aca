"""The OpenID Connect IdP adapter against an IdP no one here wrote (oidc-provider-mock, served on
a thread over real HTTP): discovery, the authorization request, the code exchange with PKCE, the
ID token proved against the IdP's published keys, and userinfo (issue 21)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from gateway.sso import oidc_protocol
from gateway.sso.oidc_protocol import ClaimNames, OidcError

oidc_provider_mock = pytest.importorskip("oidc_provider_mock")

CLIENT, SECRET, CALLBACK = "idgate", "a-client-secret-of-the-organizations", "http://127.0.0.1:9/oidc/acme/callback"


@pytest.fixture(scope="module")
def issuer():
    with oidc_provider_mock.run_server_in_thread(require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def provider(issuer):
    return oidc_protocol.discover(issuer)


def person(issuer: str, sub: str, **claims) -> None:
    assert requests.put(f"{issuer}/users/{sub}", json=claims, timeout=5).status_code == 204


@dataclass(frozen=True)
class Start:
    url: str
    state: str
    nonce: str
    code_verifier: str


def new_start(provider) -> Start:
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    return Start(oidc_protocol.authorization_url(provider, client_id=CLIENT, redirect_uri=CALLBACK,
                                                 scopes="openid email profile", state=state, nonce=nonce,
                                                 code_verifier=verifier), state, nonce, verifier)


def signs_in(provider, sub: str) -> tuple[Start, str]:
    """The browser's part: our authorization request, the IdP's form answered for `sub`; the code."""
    start_ = new_start(provider)
    answer = requests.post(start_.url, data={"sub": sub}, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text[:300]
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["state"] == [start_.state]
    return start_, query["code"][0]


def redeem(provider, start, code, **changes):
    return oidc_protocol.redeem(provider, client_id=CLIENT, client_secret=SECRET, redirect_uri=CALLBACK, code=code,
                                code_verifier=changes.get("code_verifier", start.code_verifier))


def test_discovery_reads_the_idps_endpoints_and_algorithms(provider, issuer):
    assert provider.issuer == issuer
    assert provider.token_endpoint.startswith(issuer) and provider.userinfo_endpoint
    assert "RS256" in provider.signing_algs and "none" not in provider.signing_algs


def test_a_sign_in_at_the_idp_proves_who_the_person_is(provider, issuer):
    person(issuer, "jane-42", email="jane@acme.example", email_verified=True, name="Jane Doe")
    start, code = signs_in(provider, "jane-42")
    tokens = redeem(provider, start, code)
    claims = oidc_protocol.verify_id_token(tokens["id_token"], provider=provider,
                                           jwks=oidc_protocol.signing_keys(provider), client_id=CLIENT,
                                           nonce=start.nonce, now=int(time.time()), leeway=60)
    identity = oidc_protocol.identity_of(claims, org_id=1, issuer=provider.issuer, names=ClaimNames())
    assert (identity.issuer, identity.subject, identity.email, identity.name) == \
        (issuer, "jane-42", "jane@acme.example", "Jane Doe")
    assert oidc_protocol.userinfo(provider, tokens["access_token"])["sub"] == "jane-42"


def test_an_email_the_idp_did_not_verify_does_not_count(provider, issuer):
    person(issuer, "joe-7", email="ceo@acme.example", email_verified=False)
    start, code = signs_in(provider, "joe-7")
    claims = oidc_protocol.verify_id_token(redeem(provider, start, code)["id_token"], provider=provider,
                                           jwks=oidc_protocol.signing_keys(provider), client_id=CLIENT,
                                           nonce=start.nonce, now=int(time.time()), leeway=60)
    assert oidc_protocol.identity_of(claims, org_id=1, issuer=issuer, names=ClaimNames()).email is None


def test_the_id_token_of_one_sign_in_does_not_finish_another(provider, issuer):
    person(issuer, "ann-1", email="ann@acme.example", email_verified=True)
    start, code = signs_in(provider, "ann-1")
    other = new_start(provider)
    with pytest.raises(OidcError) as caught:
        oidc_protocol.verify_id_token(redeem(provider, start, code)["id_token"], provider=provider,
                                      jwks=oidc_protocol.signing_keys(provider), client_id=CLIENT,
                                      nonce=other.nonce, now=int(time.time()), leeway=60)
    assert caught.value.code == "bad_id_token"


def test_a_code_is_exchanged_once(provider, issuer):
    person(issuer, "bob-3", email="bob@acme.example", email_verified=True)
    start, code = signs_in(provider, "bob-3")
    redeem(provider, start, code)
    with pytest.raises(OidcError) as caught:
        redeem(provider, start, code)
    assert caught.value.code == "token_refused"


def test_an_unreachable_idp_is_a_refusal_with_a_code():
    with pytest.raises(OidcError) as caught:
        oidc_protocol.discover("http://127.0.0.1:9")
    assert caught.value.code == "idp_unreachable"
    with pytest.raises(OidcError) as caught:
        oidc_protocol.discover("ftp://idp.example.com")
    assert caught.value.code == "bad_discovery"
