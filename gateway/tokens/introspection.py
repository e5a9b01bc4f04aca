"""POST /oauth/introspect — RFC 7662 on authlib's IntrospectionEndpoint, client_secret_basic.

A token is an idgate session token (the opaque cookie or bearer value), a
downstream JWT we signed, or an access token of our OpenID Connect provider. Each is `active` only while its session is: RFC
7662 §2.2 "active: false" covers expired, revoked, deactivated and unknown.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.errors import InsecureTransportError, InvalidClientError
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import Flask, current_app
from flask import request as flask_request
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.clock import now
from gateway.db import get_session
from gateway.errors import BadRequest, Conflict
from gateway.oidc import grants as oidc_grants
from gateway.sessions import services as sessions
from gateway.tokens import jwt
from gateway.tokens.models import Client


def hash_secret(secret: str) -> str:
    # A 256-bit random secret needs no slow hash: SHA-256 is a sound verifier for it.
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def create_client(db: Session, name: str, *, now: datetime) -> tuple[Client, str]:
    """Register a downstream client; returns it and its secret (shown once)."""
    name = " ".join((name or "").split())
    if not 2 <= len(name) <= 80:
        raise BadRequest("A client name takes 2 to 80 characters.", code="invalid_name")
    if db.scalar(select(Client.id).where(Client.name == name)) is not None:
        raise Conflict(f"A client named {name!r} exists already.", code="name_taken")
    secret = secrets.token_urlsafe(32)
    client = Client(client_id=secrets.token_urlsafe(16), name=name, secret_hash=hash_secret(secret), created_at=now)
    db.add(client)
    return client, secret


class _ClientAdapter(ClientMixin):
    def __init__(self, client: Client):
        self.client = client

    def get_client_id(self):
        return self.client.client_id

    def check_client_secret(self, client_secret):
        return hmac.compare_digest(self.client.secret_hash, hash_secret(client_secret or ""))

    def check_endpoint_auth_method(self, method, endpoint):
        return method == "client_secret_basic" and endpoint == "introspection"


@dataclass
class _Token:
    claims: dict

    def is_expired(self):
        return False  # an inactive session never becomes a _Token

    def is_revoked(self):
        return False


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic"]

    def query_token(self, token_string, token_type_hint):
        settings = current_app.extensions["idgate.settings"]
        db, moment = get_session(), now()
        claims = jwt.verify(token_string, settings, moment)
        if claims is not None:
            ctx = sessions.resolve_by_id(db, claims.get("sid"), settings=settings, now=moment)
            token_type, exp, iat = "jwt", claims["exp"], claims["iat"]
        elif (active := oidc_grants.active_access_token(db, token_string, settings=settings, now=moment)) is not None:
            ctx, token_type, exp, iat = active.ctx, "access_token", int(active.expires_at.timestamp()), None
        else:
            ctx = sessions.resolve(db, token_string, settings=settings, now=moment)
            token_type = "session"
            exp = int(ctx.expires_at.timestamp()) if ctx else None
            iat = None
        if ctx is None or ctx.restricted:
            return None
        return _Token({
            "token_type": token_type, "sub": str(ctx.user_id), "username": ctx.email, "email": ctx.email,
            "name": ctx.name, "org": ctx.org_slug, "role": ctx.role, "groups": list(ctx.groups), "sid": str(ctx.session_id),
            "amr": list(ctx.amr),
            "exp": exp, **({"iat": iat} if iat else {}), "iss": settings.base_url,
        })

    def check_permission(self, token, client, request):
        return True  # every registered client may introspect

    def introspect_token(self, token):
        return dict(token.claims, active=True)


class AsPublished:
    """The Flask request under the gateway's public URL (IDGATE_BASE_URL).

    authlib judges "OAuth 2 must use https" by the URL it sees, but an app on the
    internal network calls the gateway over plain http (as the proxy does for
    forward-auth), and a proxy that ends TLS hands requests on over http too. What
    counts is the address the operator published: https there, or loopback.
    """

    def __init__(self, request, base_url: str):
        self._request = request
        self.url = base_url + request.full_path.rstrip("?")

    def __getattr__(self, name):
        # Kept once read: authlib asks the payload for `values` a dozen times a request.
        value = getattr(self._request, name)
        setattr(self, name, value)
        return value


class _Server(AuthorizationServer):
    def create_oauth2_request(self, request):
        return FlaskOAuth2Request(AsPublished(flask_request, current_app.extensions["idgate.settings"].base_url))


def respond(server: AuthorizationServer):
    """The endpoint's answer to the current request, an OAuth 2 error where authlib would raise."""
    if not basic_credentials_readable(flask_request.headers.get("Authorization", "")):
        # authlib reads them without catching an empty value or a name that is not UTF-8: refuse
        # them as it refuses wrong ones.
        return server.handle_error_response(None, InvalidClientError(
            status_code=401, description="The client credentials cannot be read."))
    try:
        return server.create_endpoint_response(Introspection.ENDPOINT_NAME)
    except InsecureTransportError as error:  # IDGATE_BASE_URL is plain http off loopback (AsPublished)
        return server.handle_error_response(None, error)


def basic_credentials_readable(header: str) -> bool:
    """Whether authlib can read this Authorization header without failing (Flask's request and
    the OpenID Connect fast path pass theirs)."""
    # The way authlib reads the header, minus what it does not catch.
    if " " not in header:
        return True
    parts = header.split(None, 1)
    if len(parts) < 2:  # "Basic " followed by nothing but (Unicode) spaces
        return False
    scheme, credentials = parts
    if scheme.lower() != "basic":
        return True
    try:
        base64.b64decode(credentials.strip()).decode("utf-8")
    except UnicodeDecodeError:
        return False
    except (binascii.Error, ValueError):
        return True  # authlib treats undecodable base64 as no credentials, cleanly
    return True


def init_app(app: Flask) -> AuthorizationServer:
    def query_client(client_id):
        client = get_session().scalar(select(Client).where(Client.client_id == client_id,
                                                           Client.revoked_at.is_(None)))
        return _ClientAdapter(client) if client else None

    server = _Server(app, query_client=query_client, save_token=lambda token, request: None)
    server.register_endpoint(Introspection)
    app.extensions["idgate.oauth"] = server
    return server
