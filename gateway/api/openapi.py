"""GET /api/v1/openapi.json: the OpenAPI 3.1 description of the admin API.

The request bodies are described from the declarations every request is checked against
(gateway.api.schemas), so the two cannot drift; the paths and their summaries are written here.
"""

from __future__ import annotations

from flask import jsonify

from gateway.api import bp
from gateway.api.schemas import BODIES

_ERROR = {"$ref": "#/components/schemas/Error"}
_USER_ID = {"name": "user_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}


def _op(summary: str, ok: str = "200", body: dict | None = None, params: list | None = None) -> dict:
    operation = {
        "summary": summary,
        "parameters": params or [],
        "responses": {ok: {"description": "OK"},
                      "4XX": {"description": "Refused", "content": {"application/json": {"schema": _ERROR}}}},
    }
    if body:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return operation


SPEC = {
    "openapi": "3.1.0",
    "info": {"title": "idgate admin API", "version": "1"},
    "servers": [{"url": "/api/v1"}],
    "security": [{"session": []}],
    "components": {
        "securitySchemes": {"session": {"type": "http", "scheme": "bearer",
                                        "description": "An admin's idgate_session token."}},
        "schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
                "code": {"type": "string"}, "message": {"type": "string"}}}}},
            **{body.__name__: body.model_json_schema() for body in BODIES},
        },
    },
    "paths": {
        "/orgs/{slug}/users": {
            "get": _op("Team list (filters: status, role, q; keyset paging: after, limit)", params=[_SLUG]),
            "post": _op("Create a user; answers their temporary password once", "201",
                        {"$ref": "#/components/schemas/NewUser"}, [_SLUG]),
        },
        "/orgs/{slug}/users/{user_id}": {
            "get": _op("One member", params=[_SLUG, _USER_ID]),
            "patch": _op("Change role", body={"$ref": "#/components/schemas/RoleChange"}, params=[_SLUG, _USER_ID]),
            "delete": _op("Remove from the organization (refused while signed in)", params=[_SLUG, _USER_ID]),
        },
        "/orgs/{slug}/users/{user_id}/deactivate": {"post": _op("Deactivate", params=[_SLUG, _USER_ID])},
        "/orgs/{slug}/users/{user_id}/reactivate": {"post": _op("Reactivate", params=[_SLUG, _USER_ID])},
        "/orgs/{slug}/users/{user_id}/reset-password": {
            "post": _op("New temporary password, answered once (409 member_elsewhere for an account other "
                         "organizations hold too)", params=[_SLUG, _USER_ID])},
        "/orgs/{slug}/invitations": {
            "get": _op("Pending and expired invitations", params=[_SLUG]),
            "post": _op("Invite an address; answers the magic link once", "201",
                        {"$ref": "#/components/schemas/NewInvitation"}, [_SLUG]),
        },
        "/orgs/{slug}/invitations/{invitation_id}": {
            "delete": _op("Delete an invitation; its link stops working", params=[
                _SLUG, {"name": "invitation_id", "in": "path", "required": True, "schema": {"type": "integer"}}]),
        },
        "/orgs/{slug}/saml": {
            "get": _op("SP URLs and the SAML connection", params=[_SLUG]),
            "put": _op("Connect the IdP from its metadata; 409 domain_taken for a domain another organization "
                       "declared", body={"$ref": "#/components/schemas/SamlSettings"}, params=[_SLUG]),
        },
        "/orgs/{slug}/audit": {"get": _op("Audit events (actor, action, since, until, format=json|csv)",
                                          params=[_SLUG])},
    },
}


@bp.get("/openapi.json")
def openapi():
    return jsonify(SPEC)
