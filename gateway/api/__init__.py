"""/api/v1: the admin JSON API. Bearer session tokens only, JSON in, JSON out."""

from __future__ import annotations

from typing import TypeVar

from flask import Blueprint, jsonify, request
from flask_login import current_user
from pydantic import BaseModel, ValidationError

from gateway.errors import BadRequest, GatewayError, Unauthorized
from gateway.orgs.access import AdminScope, admin_scope
from gateway.web import actor_from_request

bp = Blueprint("api", __name__, url_prefix="/api/v1")
Body = TypeVar("Body", bound=BaseModel)


@bp.before_request
def _require_bearer_session():
    if request.endpoint == "api.openapi":
        return
    # Only an Authorization header counts here: a cookie would make every
    # endpoint reachable by cross-site requests, and the API has no CSRF tokens.
    if not request.headers.get("Authorization", "").lower().startswith("bearer "):
        raise Unauthorized("Send an admin's session token as `Authorization: Bearer <token>`.")
    if not current_user.is_authenticated or current_user.ctx.restricted:
        raise Unauthorized("The bearer token is not a valid, full session.")
    if request.method in ("POST", "PUT", "PATCH") and request.content_length:
        if request.mimetype != "application/json":
            raise GatewayError("Send JSON (Content-Type: application/json).", code="unsupported_media_type",
                               status=415)


def created(**body):
    """201 with a JSON body (a temporary password, a magic link: shown once, and, like every answer
    of ours, never stored: gateway.web sends Cache-Control: no-store)."""
    response = jsonify(**body)
    response.status_code = 201
    return response


def scope_for(slug: str) -> AdminScope:
    return admin_scope(current_user.ctx, actor_from_request(), slug)


def json_body() -> dict:
    """The request's JSON object. :raise BadRequest: if it is not one, or not text we can keep."""
    try:
        data = request.get_json(silent=True)
        encodable = isinstance(data, dict) and _encodable(data)
    except RecursionError:  # nested hundreds deep: no object of ours looks like that
        data, encodable = None, False
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.", code="invalid_json")
    if not encodable:
        raise BadRequest("The body holds text that is not valid Unicode (a lone surrogate escape).",
                         code="invalid_json")
    return data


def body_as(model: type[Body]) -> Body:
    """The request's JSON object, checked against its declared shape.

    :raise BadRequest: `invalid_field`, naming the first field of the wrong type, missing or unknown.
    """
    data = json_body()
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = str(problem["loc"][0]) if problem["loc"] else None
        raise BadRequest(f"`{field}`: {problem['msg']}." if field else f"{problem['msg']}.",
                         code="invalid_field", field=field) from None


def _encodable(value) -> bool:
    # JSON's \ud800 escapes decode to lone surrogates, which no database (nor UTF-8) can hold.
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_encodable(k) and _encodable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_encodable(v) for v in value)
    return True


from gateway.api import audit, invitations, openapi, saml, users  # noqa: E402,F401  (routes register on bp)
