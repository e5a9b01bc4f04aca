"""The OpenID Connect provider on authlib's server pieces: the authorization code grant with PKCE
S256 required, OpenID Connect's ID token, refresh tokens that rotate, and RFC 9207's `iss`.

authlib validates the protocol (response types, redirect URIs through the client, PKCE, prompt,
client authentication, the error responses of each RFC); what it asks of us, storage and identity,
is here and in gateway.oidc.grants. Nothing else is offered: no implicit, hybrid or password grant.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core import OpenIDCode
from flask import Flask, current_app, g
from flask import request as flask_request

from gateway.clock import now
from gateway.db import get_session
from gateway.oidc import claims, clients
from gateway.oidc import grants as store
from gateway.oidc.registry import Registered, Registry
from gateway.sessions.services import SessionContext
from gateway.tokens import keys
from gateway.tokens.introspection import AsPublished

SCOPES = ("openid", "email", "profile", "groups", "offline_access")
ID_TOKEN_LIFETIME = 300
MAX_NONCE = 255  # oidc_grants.nonce


class Client(ClientMixin):
    """A registered client as authlib asks about it."""

    def __init__(self, row: Registered):
        self.row = row
        self.id_token_signed_response_alg = row.id_token_alg

    @property
    def public(self) -> bool:
        return self.row.secret_hash is None

    def get_client_id(self):
        return self.row.client_id

    def get_default_redirect_uri(self):
        return None  # OpenID Connect requires redirect_uri in every request

    def get_allowed_scope(self, scope):
        return " ".join(name for name in dict.fromkeys(str(scope or "").split()) if name in SCOPES)

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.row.redirect_uris  # exactly as registered

    def check_client_secret(self, client_secret):
        return clients.secret_matches(self.row, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        if self.public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type in ("authorization_code", "refresh_token")


@dataclass(frozen=True)
class EndUser:
    """Who authorizes: the session, and when its holder signed in."""

    ctx: SessionContext
    auth_time: datetime

    def __bool__(self):
        return True


class Code:
    """A redeemed code as authlib's grant and OpenID extension read it."""

    def __init__(self, redeemed: store.Redeemed):
        self.redeemed = redeemed
        self.grant_id = redeemed.grant.id

    def get_redirect_uri(self):
        return self.redeemed.redirect_uri

    def get_scope(self):
        return self.redeemed.grant.scope

    def get_nonce(self):
        return self.redeemed.grant.nonce

    def get_auth_time(self):
        return int(self.redeemed.grant.auth_time.timestamp())

    def get_acr(self):
        return claims.acr_of(self.redeemed.ctx.amr)

    def get_amr(self):
        return list(self.redeemed.ctx.amr)

    def is_expired(self):
        return False  # an expired code is never redeemed


class RefreshToken:
    def __init__(self, active: store.Active, client_pk: int):
        self.active, self.client_pk = active, client_pk
        self.grant_id = active.grant.id

    def check_client(self, client):
        return client.row.id == self.client_pk

    def get_scope(self):
        return self.active.grant.scope

    def is_expired(self):
        return False

    def is_revoked(self):
        return False


def _settings():
    return current_app.extensions["idgate.settings"]


class S256Only(CodeChallenge):
    """PKCE required of every client, S256 only: `plain`, or no method (which RFC 7636 reads as
    plain), is refused; so is a code_verifier for a code that had no challenge (the downgrade)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ("S256",)

    def validate_code_challenge(self, grant, redirect_uri):
        if grant.request.payload.data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE with code_challenge_method=S256 is required.", redirect_uri=redirect_uri)
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code):
        return authorization_code.redeemed.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code):
        return "S256"


def _random_token(*_args, **_kw) -> str:
    return secrets.token_urlsafe(32)


class AuthorizationCode(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")

    def generate_authorization_code(self):
        return _random_token()

    def save_authorization_code(self, code, request):
        payload = request.payload
        store.issue_code(get_session(), code, client_pk=request.client.row.id, ctx=request.user.ctx,
                         auth_time=request.user.auth_time, scope=request.client.get_allowed_scope(payload.scope),
                         nonce=payload.data.get("nonce"), redirect_uri=payload.redirect_uri,
                         code_challenge=payload.data["code_challenge"], now=now())

    def query_authorization_code(self, code, client):
        redeemed = store.redeem_code(get_session(), code, client_pk=client.row.id, settings=_settings(), now=now())
        return Code(redeemed) if redeemed else None

    def delete_authorization_code(self, authorization_code):
        pass  # used once already: redeem_code marked it

    def authenticate_user(self, authorization_code):
        return authorization_code.redeemed.ctx


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotated at each use

    def authenticate_refresh_token(self, refresh_token):
        client = self.request.client
        active = store.use_refresh_token(get_session(), refresh_token, client_pk=client.row.id,
                                         settings=_settings(), now=now())
        return RefreshToken(active, client.row.id) if active else None

    def authenticate_user(self, refresh_token):
        return refresh_token.active.ctx

    def revoke_old_credential(self, refresh_token):
        pass  # spent already: use_refresh_token marked it


class IdToken(OpenIDCode):
    def validate_openid_authorization_request(self, grant, redirect_uri):
        if len(grant.request.payload.data.get("nonce") or "") > MAX_NONCE:
            raise InvalidRequestError(f"A nonce has at most {MAX_NONCE} characters.", redirect_uri=redirect_uri)
        super().validate_openid_authorization_request(grant, redirect_uri)

    def exists_nonce(self, nonce, request):
        # A nonce this client sent before is refused: a replayed authorization request. (Asked
        # twice per request, validating and answering: the database once.)
        seen = g.setdefault("idgate.nonces", {})
        key = (request.client.row.id, nonce)
        if key not in seen:
            seen[key] = store.nonce_used(get_session(), *key)
        return seen[key]

    def get_client_claims(self, client):
        moment = int(time.time())
        return {"iss": _settings().base_url, "aud": [client.get_client_id()], "azp": client.get_client_id(),
                "iat": moment, "exp": moment + ID_TOKEN_LIFETIME}

    def get_client_algorithm(self, client):
        return client.id_token_signed_response_alg

    def resolve_client_private_key(self, client):
        return keys.signing_keys(_settings().certs_dir, keys.family_of(client.id_token_signed_response_alg))[0]

    def get_encode_header(self, client):
        key = self.resolve_client_private_key(client)
        return {"alg": client.id_token_signed_response_alg, "kid": key.kid, "typ": "JWT"}

    def generate_user_info(self, user, scope):
        # sid: the session, which back-channel logout tokens name (OIDC Back-Channel Logout §2.1)
        return {**claims.of(user, scope), "sid": str(user.session_id)}


class Issuer(IssuerParameter):
    def get_issuer(self):
        return _settings().base_url


class Server(AuthorizationServer):
    def create_oauth2_request(self, request):
        # Flask's request; or, on the fast path (gateway.oidc.fast), a werkzeug Request of the environ.
        return FlaskOAuth2Request(AsPublished(flask_request if request is None else request, _settings().base_url))


class Answer:
    """An answer as PlainServer gives it: status, payload (a dict for JSON) and headers, with the
    `location` that authlib's RFC 9207 extension reads and rewrites on a Flask Response."""

    def __init__(self, status: int, payload, headers):
        self.status, self.payload, self.headers = status, payload, list(headers)

    @property
    def location(self) -> str | None:
        return next((value for name, value in self.headers if name.lower() == "location"), None)

    @location.setter
    def location(self, value: str) -> None:
        self.headers = [(name, old) for name, old in self.headers if name.lower() != "location"]
        self.headers.append(("Location", value))


class PlainServer(Server):
    """The same server, grants and extensions for the WSGI fast path: its answers are Answers,
    not Flask Responses."""

    def handle_response(self, status_code, payload, headers):
        return Answer(status_code, payload, headers)


def init_app(app: Flask) -> Server:
    """The provider for the Flask views (app.extensions["idgate.oidc"]) and the same one for the
    fast path (["idgate.oidc_plain"]), configured by one function."""
    registry = app.extensions["idgate.oidc_clients"] = Registry(app.extensions["idgate.verify_cache"].channel)

    def query_client(client_id):
        row = registry.find(get_session(), client_id)
        return Client(row) if row else None

    def save_token(token, request):
        grant_id = (request.authorization_code or request.refresh_token).grant_id
        if "offline_access" not in str(token.get("scope", "")).split():
            token.pop("refresh_token", None)  # refresh tokens only for offline_access
        store.save_tokens(get_session(), grant_id, access_token=token["access_token"],
                          refresh_token=token.get("refresh_token"), refresh_expires_at=request.user.expires_at,
                          now=now())

    servers = [kind(query_client=query_client, save_token=save_token) for kind in (Server, PlainServer)]
    for server in servers:
        server.load_config({
            # secrets.token_urlsafe: 256 random bits from the OS in one call (authlib's default picks
            # each character apart, ten times slower).
            "OAUTH2_ACCESS_TOKEN_GENERATOR": _random_token,
            "OAUTH2_REFRESH_TOKEN_GENERATOR": _random_token,
            "OAUTH2_TOKEN_EXPIRES_IN": {"authorization_code": int(store.ACCESS_TOKEN_LIFETIME.total_seconds()),
                                        "refresh_token": int(store.ACCESS_TOKEN_LIFETIME.total_seconds())},
            "OAUTH2_SCOPES_SUPPORTED": list(SCOPES),
        })
        server.register_grant(AuthorizationCode, [S256Only(required=True), IdToken(require_nonce=False)])
        server.register_grant(RefreshTokenGrant)
        server.register_extension(Issuer())
    app.extensions["idgate.oidc"], app.extensions["idgate.oidc_plain"] = servers
    return servers[0]
