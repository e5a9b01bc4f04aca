"""/.well-known/jwks.json, /.well-known/openid-configuration, POST /oauth/introspect."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from gateway.tokens import introspection, keys
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
    return introspection.respond(current_app.extensions["idgate.oauth"])
