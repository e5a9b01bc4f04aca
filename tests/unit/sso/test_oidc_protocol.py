"""The OpenID Connect adapter's rules on what an IdP sends (issue 21): its discovery document read
strictly, and each forged or misdirected ID token (or back-channel logout token) refused, by the
attack it stands for."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from gateway.sso.oidc_protocol import (
    BACKCHANNEL_LOGOUT_EVENT,
    ClaimNames,
    LogoutToken,
    OidcError,
    Provider,
    authorization_url,
    end_session_url,
    identity_of,
    read_discovery,
    verify_id_token,
    verify_logout_token,
)

ISSUER, CLIENT, NONCE = "https://idp.example.com", "idgate-client", "n-0S6_WzA2Mj"
NOW = int(time.time())
IDP_KEY = RSAKey.generate_key(2048, parameters={"kid": "idp-1"})
PROVIDER = Provider(issuer=ISSUER, authorization_endpoint=f"{ISSUER}/authorize", token_endpoint=f"{ISSUER}/token",
                    jwks_uri=f"{ISSUER}/jwks", userinfo_endpoint=f"{ISSUER}/userinfo", end_session_endpoint=None,
                    signing_algs=("RS256",))
JWKS = {"keys": [IDP_KEY.as_dict(private=False)]}


def claims(**changes) -> dict:
    base = {"iss": ISSUER, "sub": "248289761001", "aud": CLIENT, "exp": NOW + 300, "iat": NOW, "nonce": NONCE,
            "email": "jane@acme.example", "email_verified": True, "name": "Jane Doe"}
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


def signed(payload: dict, *, key=IDP_KEY, header: dict | None = None) -> str:
    return jwt.encode({"alg": "RS256", "kid": "idp-1", **(header or {})}, payload, key)


def verify(token: str, **kw) -> dict:
    return verify_id_token(token, provider=kw.pop("provider", PROVIDER), jwks=kw.pop("jwks", JWKS), client_id=CLIENT,
                           nonce=kw.pop("nonce", NONCE), now=kw.pop("now", NOW), leeway=kw.pop("leeway", 60))


def refused(token: str, **kw) -> str:
    with pytest.raises(OidcError) as caught:
        verify(token, **kw)
    return caught.value.code


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_token_from_the_idp_for_this_sign_in_is_accepted():
    assert verify(signed(claims()))["sub"] == "248289761001"


def test_a_token_for_several_audiences_that_names_us_as_its_party_is_accepted():
    assert verify(signed(claims(aud=[CLIENT, "other"], azp=CLIENT)))["azp"] == CLIENT


@pytest.mark.parametrize("change", [
    {"iss": "https://evil.example"},  # another issuer
    {"iss": ISSUER + "/"},  # compared exactly
    {"aud": "another-client"},  # a token the IdP gave another app
    {"aud": [CLIENT, "other"]},  # several audiences and no azp naming us
    {"aud": [CLIENT, "other"], "azp": "other"},
    {"azp": "other"},
    {"exp": NOW - 61},  # expired beyond the leeway
    {"iat": NOW + 3600},  # issued in the future
    {"nbf": NOW + 3600},
    {"sub": None},
    {"exp": None},
])
def test_a_token_that_is_not_for_us_now_is_refused(change):
    assert refused(signed(claims(**change))) == "bad_id_token"


def test_a_token_of_another_sign_in_is_refused_by_its_nonce():
    assert refused(signed(claims(nonce="another"))) == "bad_id_token"
    assert refused(signed(claims(nonce=None))) == "bad_id_token"


def test_an_unsigned_token_is_refused():
    token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims())}."
    assert refused(token) == "bad_id_token"


def test_a_token_signed_with_the_client_secret_is_refused_when_the_idp_publishes_rs256():
    # HS256 keyed with a secret the client knows: whoever knows it could mint any identity.
    token = jwt.encode({"alg": "HS256"}, claims(), OctKey.import_key(b"the-client-secret-0123456789abcdef"))
    assert refused(token) == "bad_id_token"


def test_a_token_signed_by_another_key_is_refused():
    assert refused(signed(claims(), key=RSAKey.generate_key(2048, parameters={"kid": "idp-1"}))) == "bad_id_token"


@pytest.mark.parametrize("name", ["jwk", "jku", "x5u"])
def test_a_token_that_brings_its_own_key_is_refused(name):
    attacker = ECKey.generate_key("P-256")
    value = attacker.as_dict(private=False) if name == "jwk" else "https://evil.example/keys"
    assert refused(signed(claims(), header={name: value})) == "bad_id_token"


def test_an_algorithm_the_idp_does_not_publish_is_refused():
    es = ECKey.generate_key("P-256", parameters={"kid": "idp-ec"})
    token = jwt.encode({"alg": "ES256", "kid": "idp-ec"}, claims(), es)
    assert refused(token, jwks={"keys": [es.as_dict(private=False)]}) == "bad_id_token"


@pytest.mark.parametrize("junk", ["", "a.b", "x" * 20_000, "...", None, 42])
def test_junk_is_refused_with_a_code_never_an_exception(junk):
    assert refused(junk) == "bad_id_token"


def test_discovery_names_the_issuer_it_was_fetched_for_and_asymmetric_algorithms():
    document = {"issuer": ISSUER, "authorization_endpoint": f"{ISSUER}/a", "token_endpoint": f"{ISSUER}/t",
                "jwks_uri": f"{ISSUER}/k", "id_token_signing_alg_values_supported": ["none", "HS256", "RS256"]}
    assert read_discovery(document, issuer=ISSUER).signing_algs == ("RS256",)
    for broken in ({**document, "issuer": "https://other.example"},
                   {**document, "id_token_signing_alg_values_supported": ["none", "HS256"]},
                   {**document, "token_endpoint": "http://idp.example.com/t"},  # plain http off loopback
                   {**document, "jwks_uri": None}, []):
        with pytest.raises(OidcError) as caught:
            read_discovery(broken, issuer=ISSUER)
        assert caught.value.code == "bad_discovery"


def test_a_local_idp_over_http_on_loopback_is_allowed():
    local = "http://127.0.0.1:8080"
    document = {"issuer": local, "authorization_endpoint": f"{local}/a", "token_endpoint": f"{local}/t",
                "jwks_uri": f"{local}/k", "id_token_signing_alg_values_supported": ["RS256"]}
    assert read_discovery(document, issuer=local).token_endpoint == f"{local}/t"


def test_the_authorization_request_carries_state_nonce_and_an_s256_challenge():
    verifier = "v" * 43
    url = authorization_url(PROVIDER, client_id=CLIENT, redirect_uri="https://id.example/cb",
                            scopes="openid email profile", state="the-state", nonce="the-nonce", code_verifier=verifier)
    assert url.startswith(f"{ISSUER}/authorize?")
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    for part in ("state=the-state", "nonce=the-nonce", "code_challenge_method=S256", f"code_challenge={challenge}",
                 "response_type=code", f"client_id={CLIENT}"):
        assert part in url
    assert verifier not in url


def test_the_identity_is_the_issuer_and_subject_and_an_unverified_email_is_not_kept():
    identity = identity_of(claims(email_verified=False), org_id=7, issuer=ISSUER, names=ClaimNames())
    assert (identity.issuer, identity.subject, identity.email) == (ISSUER, "248289761001", None)
    assert identity_of(claims(), org_id=7, issuer=ISSUER, names=ClaimNames()).email == "jane@acme.example"
    # "email_verified": "true" (a string) is not a verified email either
    assert identity_of(claims(email_verified="true"), org_id=7, issuer=ISSUER, names=ClaimNames()).email is None


def test_a_connection_declared_to_verify_every_email_keeps_it_and_reads_groups_where_told():
    names = ClaimNames(groups="roles", trust_email=True)
    identity = identity_of(claims(email_verified=None, roles=["eng", 3, "ops"]), org_id=7, issuer=ISSUER, names=names)
    assert identity.email == "jane@acme.example" and identity.groups == frozenset({"eng", "ops"})


def test_entras_sign_that_the_tenant_verified_the_emails_domain_counts_as_a_verified_email():
    # Entra sends no email_verified for work accounts; its optional claim xms_edov says the same.
    entra = claims(email_verified=None, xms_edov=True)
    assert identity_of(entra, org_id=7, issuer=ISSUER, names=ClaimNames()).email == "jane@acme.example"
    for unproven in (False, "true", None):
        assert identity_of(claims(email_verified=None, xms_edov=unproven), org_id=7, issuer=ISSUER,
                           names=ClaimNames()).email is None


# Back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.4, §2.6).

def logout_claims(**changes) -> dict:
    base = {"iss": ISSUER, "aud": CLIENT, "iat": NOW, "exp": NOW + 120, "jti": "bWJq", "sub": "248289761001",
            "sid": "08a5019c-17e1-4977-8f42-65a12843ea02", "events": {BACKCHANNEL_LOGOUT_EVENT: {}}}
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


def verify_logout(token, **kw) -> LogoutToken:
    return verify_logout_token(token, provider=PROVIDER, jwks=kw.pop("jwks", JWKS), client_id=CLIENT,
                               now=kw.pop("now", NOW), leeway=60, max_age=600)


def logout_refused(token, **kw) -> str:
    with pytest.raises(OidcError) as caught:
        verify_logout(token, **kw)
    return caught.value.code


def test_a_logout_token_from_the_idp_names_the_subject_and_its_session():
    assert verify_logout(signed(logout_claims(), header={"typ": "logout+jwt"})) == LogoutToken(
        "248289761001", "08a5019c-17e1-4977-8f42-65a12843ea02")


def test_a_logout_token_may_name_only_the_session_or_only_the_subject():
    assert verify_logout(signed(logout_claims(sub=None))) == LogoutToken(None, "08a5019c-17e1-4977-8f42-65a12843ea02")
    assert verify_logout(signed(logout_claims(sid=None))) == LogoutToken("248289761001", None)


@pytest.mark.parametrize("change", [
    {"iss": "https://evil.example"},                 # another IdP's
    {"aud": "another-client"},                       # meant for another relying party
    {"iat": NOW - 3600},                             # an old one, replayed
    {"iat": NOW + 3600},                             # from the future
    {"exp": NOW - 3600},                             # expired
    {"events": None},                                # no logout event
    {"events": {"http://example.com/other": {}}},    # another event
    {"jti": None},                                   # no identifier
    {"sub": None, "sid": None},                      # nobody named: never "everyone"
    {"nonce": NONCE},                                # an ID token passed off as a logout token
])
def test_a_logout_token_not_for_us_now_is_refused(change):
    assert logout_refused(signed(logout_claims(**change))) == "bad_logout_token"


def test_an_id_token_is_not_a_logout_token():
    assert logout_refused(signed(claims())) == "bad_logout_token"


def test_a_logout_token_typed_as_another_kind_of_token_is_refused():
    assert logout_refused(signed(logout_claims(), header={"typ": "at+jwt"})) == "bad_logout_token"


def test_a_logout_token_signed_by_anyone_else_or_by_no_one_is_refused():
    other = RSAKey.generate_key(2048, parameters={"kid": "idp-1"})
    unsigned = f"{b64({'alg': 'none'})}.{b64(logout_claims())}."
    assert logout_refused(signed(logout_claims(), key=other)) == "bad_logout_token"
    assert logout_refused(unsigned) == "bad_logout_token"
    assert logout_refused(signed(logout_claims(), header={"jwk": other.as_dict(private=False)})) == "bad_logout_token"


@pytest.mark.parametrize("junk", ["", "a.b", "x" * 20_000, None, 42])
def test_a_junk_logout_token_is_refused_with_a_code(junk):
    assert logout_refused(junk) == "bad_logout_token"


def test_our_sign_out_sends_the_idp_our_id_token_and_where_to_come_back():
    provider = dataclasses.replace(PROVIDER, end_session_endpoint=f"{ISSUER}/logout?tenant=a")

    url = end_session_url(provider, client_id=CLIENT, id_token="eyJ.x.y",
                          post_logout_redirect_uri="https://gw.example/login")

    assert url.startswith(f"{ISSUER}/logout?tenant=a&")
    assert parse_qs(urlsplit(url).query) == {"tenant": ["a"], "client_id": [CLIENT], "id_token_hint": ["eyJ.x.y"],
                                             "post_logout_redirect_uri": ["https://gw.example/login"]}
    assert "id_token_hint" not in end_session_url(provider, client_id=CLIENT, id_token=None,
                                                  post_logout_redirect_uri="https://gw.example/login")
    assert end_session_url(PROVIDER, client_id=CLIENT, id_token="eyJ.x.y", post_logout_redirect_uri="x") is None
