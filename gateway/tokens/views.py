"""/.well-known/jwks.json, /.well-known/openid-configuration, POST /oauth/introspect."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from gateway.oidc import discovery as oidc_discovery
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
    response = jsonify(oidc_discovery.document(settings().base_url))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.post("/oauth/introspect")
def introspect():
    return introspection.respond(current_app.extensions["idgate.oauth"])
