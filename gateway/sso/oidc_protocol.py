"""The OpenID Connect side of an IdP connection (issue 21), beside `saml_protocol`: the IdP's
discovery document read strictly, the authorization request (code flow, PKCE S256, state, nonce),
the code exchanged for tokens, and the ID token proved into the protocol-neutral identity that
provisioning decides on.

authlib does the protocol (the request URL, the token request, the ID token's registered claims);
joserfc checks the signature. What is ours are the rules the known attacks need:
- the signing algorithm comes from the IdP's metadata only, asymmetric, never `none`, and never
  HS256 keyed with the client secret (an attacker who knows the secret could mint tokens);
- the key comes from the IdP's JWKS only: a `jku`, `jwk` or `x5u` in the token's header is refused;
- the issuer is compared exactly, `aud` must hold our client id, and a token for several
  audiences must name us in `azp`;
- the identity is (issuer, `sub`), never the email; an email counts only when the IdP says it
  verified it (or the connection is declared to verify every email), since Entra's `email`
  claim is whatever a tenant's admin typed ("nOAuth").
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.common.urls import add_params_to_uri
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from joserfc.util import urlsafe_b64decode

from gateway.accounts.provisioning import ExternalIdentity

# The algorithms an IdP may sign ID tokens with: asymmetric only.
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
# Header parameters that would let a token choose its own verification key (RFC 7515 §4.1.2–4.1.5).
_KEY_IN_HEADER = ("jku", "jwk", "x5u", "x5c")
MAX_ID_TOKEN = 16 * 1024


class OidcError(Exception):
    """An answer of the IdP's we refuse; `code` names the check (for the audit log and the page)."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message, self.code = message, code


@dataclass(frozen=True)
class Provider:
    """The IdP's discovery document, as much of it as we use."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    end_session_endpoint: str | None
    signing_algs: tuple[str, ...]


def _endpoint(document: dict, name: str, *, needed: bool = True) -> str | None:
    value = document.get(name)
    if value is None and not needed:
        return None
    if not isinstance(value, str) or not _secure_url(value):
        raise OidcError(f"The IdP's discovery document has no usable {name} (https, or http on loopback).",
                        code="bad_discovery")
    return value


def _secure_url(url: str) -> bool:
    """https, or http to a loopback address (a local IdP in development and tests)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme == "https" and parts.hostname:
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def read_discovery(document, *, issuer: str) -> Provider:
    """The IdP's metadata from its discovery document (OIDC Discovery §4.3: the `issuer` in it must be
    exactly the one it was fetched for, or an IdP could speak for another).

    :raise OidcError: not a discovery document we can rely on (`bad_discovery`).
    """
    if not isinstance(document, dict):
        raise OidcError("The IdP's discovery document is not a JSON object.", code="bad_discovery")
    if document.get("issuer") != issuer:
        raise OidcError("The IdP's discovery document names another issuer.", code="bad_discovery")
    offered = document.get("id_token_signing_alg_values_supported")
    if not isinstance(offered, list):
        raise OidcError("The IdP's discovery document lists no ID token algorithms.", code="bad_discovery")
    algs = tuple(alg for alg in offered if alg in ASYMMETRIC)
    if not algs:
        raise OidcError("The IdP signs ID tokens with no asymmetric algorithm we accept.", code="bad_discovery")
    return Provider(
        issuer=issuer, authorization_endpoint=_endpoint(document, "authorization_endpoint"),
        token_endpoint=_endpoint(document, "token_endpoint"), jwks_uri=_endpoint(document, "jwks_uri"),
        userinfo_endpoint=_endpoint(document, "userinfo_endpoint", needed=False),
        end_session_endpoint=_endpoint(document, "end_session_endpoint", needed=False), signing_algs=algs)


def _get_json(url: str, what: str, timeout: float):
    try:
        answer = requests.get(url, timeout=timeout, allow_redirects=False,
                              headers={"Accept": "application/json"})
        answer.raise_for_status()
        return answer.json()
    except (requests.RequestException, ValueError):
        raise OidcError(f"The IdP's {what} could not be fetched from {url}.", code="idp_unreachable") from None


def discover(issuer: str, *, timeout: float = 10) -> Provider:
    """The IdP's metadata from {issuer}/.well-known/openid-configuration.

    :raise OidcError: unreachable (`idp_unreachable`) or not to be relied on (`bad_discovery`).
    """
    if not _secure_url(issuer):
        raise OidcError("The issuer is an https URL (or http on loopback).", code="bad_discovery")
    document = _get_json(f"{issuer.rstrip('/')}/.well-known/openid-configuration", "discovery document", timeout)
    return read_discovery(document, issuer=issuer)


def signing_keys(provider: Provider, *, timeout: float = 10) -> dict:
    """The IdP's published keys (its JWKS), public keys only. :raise OidcError: none to be had."""
    jwks = _get_json(provider.jwks_uri, "keys", timeout)
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise OidcError("The IdP's JWKS is not a key set.", code="bad_discovery")
    # A key set with a private or symmetric key in it is no IdP's published set: only public keys count.
    jwks = {"keys": [key for key in jwks["keys"] if isinstance(key, dict) and key.get("kty") in ("RSA", "EC", "OKP")
                     and "d" not in key]}
    return jwks


def _client(client_id: str, client_secret: str | None, redirect_uri: str, scopes: str) -> OAuth2Session:
    return OAuth2Session(client_id, client_secret, redirect_uri=redirect_uri, scope=scopes,
                         code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic")


def authorization_url(provider: Provider, *, client_id: str, redirect_uri: str, scopes: str, state: str,
                      nonce: str, code_verifier: str) -> str:
    """Where the browser goes: the code flow's request, with `state`, `nonce` and the S256 challenge
    of `code_verifier` (which stays with us)."""
    url, _ = _client(client_id, None, redirect_uri, scopes).create_authorization_url(
        provider.authorization_endpoint, state=state, nonce=nonce, code_verifier=code_verifier)
    return url


def redeem(provider: Provider, *, client_id: str, client_secret: str, redirect_uri: str, code: str,
           code_verifier: str, timeout: float = 10) -> dict:
    """The token response for a code (client_secret_basic, with the PKCE verifier).

    :raise OidcError: the IdP refused the code or answered something else (`token_refused`).
    """
    client = _client(client_id, client_secret, redirect_uri, "")
    try:
        token = client.fetch_token(provider.token_endpoint, grant_type="authorization_code", code=code,
                                   code_verifier=code_verifier, timeout=timeout)
    except (AuthlibBaseError, requests.RequestException, ValueError) as exc:  # (ValueError: no JSON)
        raise OidcError(f"The IdP did not exchange the code ({type(exc).__name__}).", code="token_refused") from None
    if not isinstance(token.get("id_token"), str):
        raise OidcError("The IdP's token response has no ID token.", code="token_refused")
    return dict(token)


def userinfo(provider: Provider, access_token: str, *, timeout: float = 10) -> dict:
    """The IdP's userinfo answer (for claims the ID token left out). :raise OidcError: none to be had."""
    if not provider.userinfo_endpoint:
        raise OidcError("The IdP publishes no userinfo endpoint.", code="no_userinfo")
    session = OAuth2Session(token={"access_token": access_token, "token_type": "Bearer"})
    try:
        answer = session.get(provider.userinfo_endpoint, timeout=timeout)
        answer.raise_for_status()
        claims = answer.json()
    except (requests.RequestException, ValueError) as exc:
        raise OidcError(f"The IdP's userinfo did not answer ({type(exc).__name__}).", code="no_userinfo") from None
    if not isinstance(claims, dict):
        raise OidcError("The IdP's userinfo answer is not a JSON object.", code="no_userinfo")
    return claims


def _signed_payload(token, *, provider: Provider, jwks: dict, what: str, code: str) -> tuple[dict, dict]:
    """(header, payload) of a JWT the IdP signed: an algorithm it publishes, a key of its JWKS.

    :raise OidcError: unreadable, another algorithm, a key named in the header, or a bad signature.
    """
    if not isinstance(token, str) or len(token) > MAX_ID_TOKEN:
        raise OidcError(f"The {what} cannot be read.", code=code)
    try:
        keys = key_set(jwks)
        signed = jws.extract_compact(token.encode("ascii"))  # parsed once: checked, then verified as it is
        header = signed.protected
    except (JoseError, ValueError, TypeError, KeyError, UnicodeError):
        raise OidcError(f"The {what} or the IdP's keys cannot be read.", code=code) from None
    if not isinstance(header, dict) or header.get("alg") not in provider.signing_algs:
        raise OidcError(f"The {what} is signed with an algorithm the IdP does not publish.", code=code)
    if any(name in header for name in _KEY_IN_HEADER):
        raise OidcError(f"The {what} names its own key: only the IdP's published keys count.", code=code)
    try:
        if not jws.validate_compact(signed, keys, registry=_registry(provider.signing_algs)):
            raise OidcError(f"The {what} is not signed by the IdP.", code=code)
        payload = _json_object(signed.payload)
    except (JoseError, ValueError, TypeError, KeyError):
        raise OidcError(f"The {what} is not signed by the IdP.", code=code) from None
    return header, payload


@lru_cache(maxsize=32)
def _registry(algorithms: tuple[str, ...]) -> JWSRegistry:
    """joserfc's registry of the algorithms an IdP publishes, built once per list, not per token."""
    return JWSRegistry(algorithms=list(algorithms))


def verify_id_token(id_token, *, provider: Provider, jwks: dict, client_id: str, nonce: str, now: int,
                    leeway: int) -> dict:
    """The ID token's claims, once its signature, issuer, audience, party, times and nonce are proved.

    :raise OidcError: any of them fails (`bad_id_token`).
    """
    header, payload = _signed_payload(id_token, provider=provider, jwks=jwks, what="ID token", code="bad_id_token")
    try:
        claims = CodeIDToken(
            payload, header,
            options={"iss": {"essential": True, "value": provider.issuer},
                     "aud": {"essential": True, "value": client_id}},
            params={"client_id": client_id, "nonce": nonce})
        claims.validate(now=now, leeway=leeway)
    except (JoseError, AuthlibBaseError, ValueError, TypeError, KeyError):
        raise OidcError("The ID token is not valid for this sign-in.", code="bad_id_token") from None
    if not isinstance(claims.get("iat"), (int, float)) or claims["iat"] > now + leeway:
        raise OidcError("The ID token was issued in the future.", code="bad_id_token")
    if not isinstance(claims.get("sub"), str) or not 0 < len(claims["sub"]) <= 255:
        raise OidcError("The ID token names no subject.", code="bad_id_token")
    return dict(claims)


BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


@dataclass(frozen=True)
class LogoutToken:
    """Whose sessions an IdP's back-channel logout ends: a subject, one of its IdP sessions, or both."""

    sub: str | None
    sid: str | None


def _short_text(value) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= 255 else None


def verify_logout_token(logout_token, *, provider: Provider, jwks: dict, client_id: str, now: int, leeway: int,
                        max_age: int) -> LogoutToken:
    """A back-channel logout token proved (OpenID Connect Back-Channel Logout 1.0 §2.6): signed as an
    ID token is, our issuer and audience, the logout event, a `sub` or `sid`, no `nonce` (an ID token
    passed off as one has one, and no event).

    Replays are bounded by age (`max_age` seconds since `iat`) rather than remembered: ending the
    same sessions twice ends nothing more, and a fresh token is needed for sessions begun since.

    :raise OidcError: any check fails (`bad_logout_token`).
    """
    def refused(why: str) -> OidcError:
        return OidcError(f"The logout token {why}.", code="bad_logout_token")

    header, claims = _signed_payload(logout_token, provider=provider, jwks=jwks, what="logout token",
                                     code="bad_logout_token")
    if header.get("typ") not in (None, "JWT", "logout+jwt", "application/logout+jwt"):
        raise refused("is another kind of token")
    if claims.get("iss") != provider.issuer:
        raise refused("comes from another issuer")
    audience = claims.get("aud")
    if not (audience == client_id or isinstance(audience, list) and client_id in audience):
        raise refused("is meant for another client")
    issued = claims.get("iat")
    if not isinstance(issued, (int, float)) or not now - max_age - leeway <= issued <= now + leeway:
        raise refused("was not issued just now")
    expires = claims.get("exp")
    if expires is not None and (not isinstance(expires, (int, float)) or expires < now - leeway):
        raise refused("has expired")
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict):
        raise refused("announces no logout")
    if "nonce" in claims:
        raise refused("carries a nonce (an ID token?)")
    if not _short_text(claims.get("jti")):
        raise refused("has no jti")
    sub, sid = _short_text(claims.get("sub")), _short_text(claims.get("sid"))
    if sub is None and sid is None:
        raise refused("names neither a subject nor a session")
    return LogoutToken(sub, sid)


def end_session_url(provider: Provider, *, client_id: str, id_token: str | None,
                    post_logout_redirect_uri: str) -> str | None:
    """Where our sign-out sends the browser to end the IdP's session too (RP-Initiated Logout 1.0),
    or None when the IdP publishes no end_session_endpoint (Google's)."""
    if not provider.end_session_endpoint:
        return None
    params = {"client_id": client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
    if id_token:
        params["id_token_hint"] = id_token
    return add_params_to_uri(provider.end_session_endpoint, params)


# The JWKS as JSON → imported: a key is parsed once, not per sign-in. In front of it, the last key
# sets asked for by identity (the one dict kept per IdP, see oidc_signin.METADATA), so that a sign-in
# does not even write the JSON: each entry holds its dict, whose id therefore stays its own.
_KEY_SETS: dict[str, KeySet] = {}
_BY_IDENTITY: dict[int, tuple[dict, KeySet]] = {}


def key_set(jwks: dict) -> KeySet:
    """The key set `jwks` imported. A JWKS is never changed in place: reading the IdP's again makes
    a new dict (signing_keys)."""
    known = _BY_IDENTITY.get(id(jwks))
    if known is not None and known[0] is jwks:
        return known[1]
    text = json.dumps(jwks, sort_keys=True)
    keys = _KEY_SETS.get(text)
    if keys is None:
        keys = KeySet.import_key_set(jwks)
        if len(_KEY_SETS) > 256:
            _KEY_SETS.clear()
        _KEY_SETS[text] = keys
    if len(_BY_IDENTITY) > 64:
        _BY_IDENTITY.clear()
    _BY_IDENTITY[id(jwks)] = (jwks, keys)
    return keys


def names_an_unknown_key(id_token, jwks: dict) -> bool:
    """Whether the token's `kid` is none of the key set's: the IdP may have rotated its keys since
    they were read (the only failure worth reading them again for)."""
    try:
        header = json.loads(urlsafe_b64decode(id_token.split(".", 1)[0].encode("ascii")))  # the header alone
        kid = header.get("kid")
    except (ValueError, TypeError, AttributeError, UnicodeError):
        return False
    return isinstance(kid, str) and kid not in {key.get("kid") for key in jwks.get("keys", [])}


def _json_object(payload: bytes) -> dict:
    value = json.loads(payload)
    if not isinstance(value, dict):
        raise TypeError("not a JSON object")
    return value


@dataclass(frozen=True)
class ClaimNames:
    """Where a connection finds a member's email, name and groups among the IdP's claims."""

    email: str = "email"
    name: str = "name"
    groups: str | None = None
    trust_email: bool = False  # the IdP verifies every email it issues (declared by the admin)


def identity_of(claims: dict, *, org_id: int, issuer: str, names: ClaimNames) -> ExternalIdentity:
    """The identity the IdP vouches for: keyed on (issuer, sub); an email only when verified."""
    email = claims.get(names.email)
    # Entra ID sends no email_verified: its optional claim xms_edov says the same (the domain's owner
    # verified the address); without either, only a connection declared to trust its emails counts one.
    verified = claims.get("email_verified") is True or claims.get("xms_edov") is True or names.trust_email
    name = claims.get(names.name)
    groups = claims.get(names.groups) if names.groups else None
    return ExternalIdentity(
        org_id=org_id, issuer=issuer, subject=claims["sub"],
        email=email if isinstance(email, str) and verified else None,
        name=name if isinstance(name, str) else None,
        groups=frozenset(g for g in groups if isinstance(g, str)) if isinstance(groups, list) else frozenset())
