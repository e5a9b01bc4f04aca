"""Typed errors with stable codes, and the one place they become HTTP responses."""

from __future__ import annotations

from contextlib import contextmanager

from flask import Flask, g, jsonify, make_response, render_template, request
from flask.globals import request_ctx
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from gateway.logs import redact_path


class GatewayError(Exception):
    """A failure the user caused or can act on; `code` is stable, `message` is for people.

    `field` names the input it is about (a service's parameter, and the form field of that name);
    `recorded` says the service wrote the refusal down (an audit row) before raising: that row is
    kept when the rest of the request's writes are undone.
    """

    code = "error"
    status = 400
    message = "The request could not be processed."
    field: str | None = None
    recorded = False

    def __init__(self, message: str | None = None, *, code: str | None = None, status: int | None = None,
                 field: str | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.code = code or self.code
        self.status = status or self.status
        self.field = field or self.field

    @property
    def messages(self) -> list[str]:
        return [self.message]


@contextmanager
def about(field: str):
    """Errors raised inside are about this input: a service names its own parameter where a shared
    validator's name differs (`default_role` for a role, `new_password` for a password)."""
    try:
        yield
    except GatewayError as exc:
        exc.field = field
        raise


class BadRequest(GatewayError):
    code, status = "bad_request", 400


class Unauthorized(GatewayError):
    code, status, message = "unauthorized", 401, "Sign in first."


class Forbidden(GatewayError):
    code, status, message = "forbidden", 403, "You may not do that."


class NotFound(GatewayError):
    code, status, message = "not_found", 404, "There is nothing here."


class Conflict(GatewayError):
    code, status = "conflict", 409


class InvalidCredentials(GatewayError):
    # One message for unknown email and wrong password: never reveal which. Every raise follows
    # the audit row of the failed attempt.
    code, status, message = "invalid_credentials", 401, "That email and password do not match an account."
    field, recorded = "password", True


class PolicyViolation(GatewayError):
    """A new password breaks the password policy; `problems` lists each rule missed."""

    code, status, message = "password_policy", 400, "That password cannot be used."
    field = "password"

    def __init__(self, problems: list[str]):
        super().__init__(" ".join(problems))
        self.problems = problems

    @property
    def messages(self) -> list[str]:
        return self.problems


class Problem(BaseModel):
    """What went wrong: `code` for programs (stable), `message` for people."""

    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)

    code: str
    message: str


class ErrorBody(BaseModel):
    """The JSON answer of every refusal under /api, /auth, /oauth and /.well-known:
    `{"error": {"code": "last_admin", "message": "…"}}`. Declared once: rendered by
    `error_response` and described in /api/v1/openapi.json."""

    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)

    error: Problem


_JSON_PREFIXES = ("/api/", "/auth/", "/oauth/", "/.well-known/")

_MESSAGES = {
    400: "The request was not understood.",
    404: "There is nothing here.",
    405: "That method is not allowed here.",
    413: "The request is too large.",
    415: "That content type is not accepted here.",
    429: "Too many attempts. Wait a little and try again.",
    500: "Something went wrong on our side.",
    503: "The service is unavailable. Try again shortly.",
}


def wants_json() -> bool:
    return request.path.startswith(_JSON_PREFIXES)


def discard_transaction() -> None:
    """Roll back whatever the failed request wrote, so nothing half-done is committed."""
    db = g.pop("db", None)
    if db is not None:
        db.rollback()
        db.close()


def error_response(status: int, code: str, message: str, headers: dict | None = None):
    if request.path.startswith("/scim/"):
        # An IdP's SCIM client reads RFC 7644's error body, whatever went wrong (unknown URL, method).
        from gateway.scim import errors as scim_errors

        return scim_errors.response(status, message, "invalidSyntax" if status == 400 else None, headers=headers)
    if wants_json():
        response = jsonify(ErrorBody(error=Problem(code=code, message=message)).model_dump(mode="json"))
    elif request_ctx.url_adapter is None:
        # A Host header no URL can be built for: the page's links cannot be made, so plain text.
        response = make_response(message + "\n")
        response.mimetype = "text/plain"
    else:
        page = render_template("errors/error.html", status=status, code=code, message=message)
        response = make_response(page)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def register(app: Flask) -> None:
    @app.errorhandler(GatewayError)
    def _gateway_error(exc: GatewayError):
        discard_transaction()
        return error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _database_unavailable(exc):
        discard_transaction()
        # The page must not ask the database who is signed in: treat the caller as anonymous.
        g._login_user = app.login_manager.anonymous_user()
        driver = getattr(exc, "orig", None) or exc
        # The database's own words ("database is locked", "connection refused"), first line only: the
        # cause an operator needs, without the statement or its values.
        said = (str(driver).strip().splitlines() or [""])[0][:200]
        app.logger.warning("database unavailable on %s %s: %s: %s", request.method, redact_path(request.path),
                           type(driver).__name__, said)
        return error_response(503, "database_unavailable", _MESSAGES[503], {"Retry-After": "5"})

    @app.errorhandler(IntegrityError)
    def _concurrent_change(exc: IntegrityError):
        # The services check names and keys before writing; a unique key still refusing the write means
        # another request wrote the same thing at the same moment. Nothing of this one was kept.
        discard_transaction()
        return error_response(409, "concurrent_change", "Someone else changed this at the same moment. Try again.")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        discard_transaction()
        # A failed commit at the edge arrives here as a 500 wrapping the database error.
        if isinstance(getattr(exc, "original_exception", None), (OperationalError, InterfaceError)):
            return _database_unavailable(exc.original_exception)
        if isinstance(getattr(exc, "original_exception", None), IntegrityError):
            return _concurrent_change(exc.original_exception)
        status = exc.code or 500
        description = exc.description if status in (400, 413, 415) and exc.description else None
        code = (exc.name or "error").lower().replace(" ", "_")
        # A 405 says which methods the URL takes (RFC 9110, 15.5.6).
        allow = {"Allow": ", ".join(exc.valid_methods)} if getattr(exc, "valid_methods", None) else None
        return error_response(status, code, description or _MESSAGES.get(status, exc.name or "Error"), allow)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        discard_transaction()
        app.logger.exception("unhandled error on %s %s", request.method, redact_path(request.path))
        return error_response(500, "internal_error", _MESSAGES[500])
