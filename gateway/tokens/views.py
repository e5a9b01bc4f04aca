"""/.well-known/jwks.json, /.well-known/openid-configuration, POST /oauth/introspect."""

from __future__ import annotations

import base64
import binascii

from authlib.oauth2.rfc6749.errors import InsecureTransportError, InvalidClientError
from flask import Blueprint, current_app, jsonify, request

from gateway.tokens import keys
from gateway.tokens.introspection import Introspection
from gateway.web import settings

bp = Blueprint("tokens", __name__)


@bp.get("/.well-known/jwks.json")
def jwks():
    response = jsonify(keys.jwks(settings().certs_dir))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/.well-known/openid-configuration")
def discovery():
    base = settings().base_url
    return jsonify(
        issuer=base,
        jwks_uri=f"{base}/.well-known/jwks.json",
        introspection_endpoint=f"{base}/oauth/introspect",
        introspection_endpoint_auth_methods_supported=["client_secret_basic"],
        id_token_signing_alg_values_supported=[keys.ALGORITHM],
        authorization_endpoint=f"{base}/login",
        end_session_endpoint=f"{base}/logout",
        claims_supported=["iss", "sub", "aud", "email", "name", "org", "role", "sid", "iat", "exp", "jti"],
    )


@bp.post("/oauth/introspect")
def introspect():
    server = current_app.extensions["idgate.oauth"]
    if not _basic_credentials_readable():
        # authlib reads them without catching an empty value or a name that is not UTF-8: refuse
        # them as it refuses wrong ones.
        return server.handle_error_response(None, InvalidClientError(status_code=401, description=(
            "The client credentials cannot be read.")))
    try:
        return server.create_endpoint_response(Introspection.ENDPOINT_NAME)
    except InsecureTransportError as error:
        # authlib wants https as the gateway sees it; behind a proxy that ends TLS, see docs/operations.md.
        return server.handle_error_response(None, error)


def _basic_credentials_readable() -> bool:
    # The way authlib reads the header, minus what it does not catch.
    header = request.headers.get("Authorization", "")
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
