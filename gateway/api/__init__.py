"""/api/v1: the admin JSON API. Bearer session tokens only, JSON in, JSON out.

Each view declares what it takes and answers under its route (`@operation(...)`, declarations from
gateway.api.schemas); the view is held to it (it parses the declared body and query, and what it
returns is serialized through the declared answer), and /api/v1/openapi.json is written from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import wraps
from typing import Callable, TypeVar

from flask import Blueprint, Response, current_app, jsonify, request
from flask_login import current_user
from pydantic import BaseModel, ValidationError

from gateway.errors import BadRequest, GatewayError, Unauthorized
from gateway.orgs.access import AdminScope
from gateway.web import admin_scope_of_request

bp = Blueprint("api", __name__, url_prefix="/api/v1")
Body = TypeVar("Body", bound=BaseModel)


@dataclass(frozen=True)
class Operation:
    """What one route of the API takes and answers.

    `refusals` are the 4xx statuses its services can answer beyond those the document gives
    every operation (401, 403, 404, 503; and 400, 413, 415 as a body, a query or the method
    make them possible: gateway.api.openapi); `links` names, for a path parameter, where in the
    answer its value is found (`{"user_id": "/user/id"}`), so that the document links this
    operation to the operations that take it.
    """

    answer: type[BaseModel]
    status: int = 200
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    refusals: tuple[int, ...] = ()
    csv: bool = False
    links: dict[str, str] = field(default_factory=dict)


def operation(answer: type[BaseModel], *, status: int = 200, body: type[BaseModel] | None = None,
              query: type[BaseModel] | None = None, refusals: tuple[int, ...] = (), csv: bool = False,
              links: dict[str, str] | None = None) -> Callable:
    """Declare a view's operation (below its route decorator, so the route keeps the declaration).

    The view returns an instance of `answer` (or, with `csv`, a text/csv Response), sent with `status`.
    """
    declared = Operation(answer, status, body, query, tuple(refusals), csv, dict(links or {}))

    def declare(view):
        @wraps(view)
        def answered(**kwargs):
            result = view(**kwargs)
            if declared.csv and isinstance(result, Response):
                return result
            if type(result) is not answer:  # a programming error: the document would be wrong
                raise TypeError(f"{request.endpoint} answered {type(result).__name__}, not {answer.__name__}")
            if status == 204:  # No Content: the answer is the status alone
                response = Response(status=204)
                del response.headers["Content-Type"]
                return response
            response = jsonify(result.model_dump(mode="json"))
            response.status_code = status
            return response

        answered.api_operation = declared
        return answered
    return declare


def _declared() -> Operation | None:
    return getattr(current_app.view_functions[request.endpoint], "api_operation", None)


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


def scope_for(slug: str) -> AdminScope:
    return admin_scope_of_request(slug)


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
    declared = _declared()
    if declared and declared.body is not model:  # a programming error: the document would be wrong
        raise TypeError(f"{request.endpoint} reads a {model.__name__} body it does not declare")
    data = json_body()
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problem = exc.errors()[0]
        name = str(problem["loc"][0]) if problem["loc"] else None
        raise BadRequest(f"`{name}`: {problem['msg']}." if name else f"{problem['msg']}.",
                         code="invalid_field", field=name) from None


def query_as(model: type[Body]) -> Body:
    """The query string, read as its declared types (the first value of a repeated parameter; an
    empty one is one left out, as `?status=&q=` from a form).

    :raise BadRequest: the parameter's refusal code (`bad_filter` unless the model names another),
        naming the first parameter that does not fit.
    """
    declared = _declared()
    if declared and declared.query is not model:
        raise TypeError(f"{request.endpoint} reads a {model.__name__} query it does not declare")
    try:
        return model.model_validate({name: value for name, value in request.args.to_dict().items() if value})
    except ValidationError as exc:
        problem = exc.errors()[0]
        name = str(problem["loc"][0])
        raise BadRequest(f"`{name}`: {problem['msg']}.", code=model.refusal.get(name, "bad_filter"),
                         field=name) from None


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


from gateway.api import (  # noqa: E402,F401  (routes register on bp)
    apps, audit, groups, invitations, oidc_clients, oidc_idp, openapi, overview, roles, saml, sessions, settings,
    users)
