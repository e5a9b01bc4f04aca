"""SCIM error responses (RFC 7644 §3.12): `{"schemas": [...Error], "status": "400", "scimType": …, "detail": …}`."""

from __future__ import annotations

from flask import jsonify

from gateway.errors import GatewayError

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
CONTENT_TYPE = "application/scim+json"


class ScimError(GatewayError):
    """A refusal in SCIM's words. `scim_type` is one of RFC 7644 §3.12's keywords (invalidFilter,
    tooMany, uniqueness, mutability, invalidSyntax, invalidPath, noTarget, invalidValue, invalidVers,
    sensitive) or None."""

    code, status = "scim_error", 400
    scim_type: str | None = None

    def __init__(self, message: str, *, status: int = 400, scim_type: str | None = None, code: str | None = None):
        super().__init__(message, status=status, code=code or (scim_type or "scim_error"))
        self.scim_type = scim_type


def invalid_value(message: str) -> ScimError:
    return ScimError(message, scim_type="invalidValue")


def invalid_syntax(message: str) -> ScimError:
    return ScimError(message, scim_type="invalidSyntax")


def invalid_filter(message: str) -> ScimError:
    return ScimError(message, scim_type="invalidFilter")


def invalid_path(message: str) -> ScimError:
    return ScimError(message, scim_type="invalidPath")


def no_target(message: str) -> ScimError:
    return ScimError(message, scim_type="noTarget")


def mutability(message: str) -> ScimError:
    return ScimError(message, scim_type="mutability")


def uniqueness(message: str) -> ScimError:
    return ScimError(message, status=409, scim_type="uniqueness")


def not_found(message: str = "No such resource in this organization.") -> ScimError:
    return ScimError(message, status=404, code="not_found")


def body(status: int, detail: str, scim_type: str | None = None) -> dict:
    document = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        document["scimType"] = scim_type
    return document


def response(status: int, detail: str, scim_type: str | None = None, headers: dict | None = None):
    answer = jsonify(body(status, detail, scim_type))
    answer.status_code = status
    answer.mimetype = CONTENT_TYPE
    for name, value in (headers or {}).items():
        answer.headers[name] = value
    return answer


def from_gateway_error(exc: GatewayError):
    """Any coded error of ours, in SCIM's shape: the services' own errors (last_admin, …) keep their message."""
    scim_type = getattr(exc, "scim_type", None)
    if scim_type is None and exc.status == 409:
        scim_type = "uniqueness" if exc.code in ("email_taken", "already_member", "group_exists") else None
    if scim_type is None and exc.status == 400:
        scim_type = "invalidValue"
    return response(exc.status, exc.message, scim_type)
