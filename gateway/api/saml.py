"""/api/v1/orgs/<slug>/saml: read and set the organization's SAML connection."""

from __future__ import annotations

from flask import jsonify

from gateway.api import body_as, bp, scope_for
from gateway.api.schemas import SamlSettings
from gateway.clock import now
from gateway.db import get_session
from gateway.sso import connections, saml_protocol
from gateway.sso.connections import IdpSettings
from gateway.web import settings


def _to_json(scope, connection: IdpSettings | None) -> dict:
    sp = saml_protocol.service_provider(settings(), scope.org_slug)
    body = {"sp": {"entity_id": sp.entity_id, "metadata_url": sp.entity_id, "acs_url": sp.acs_url,
                   "sls_url": sp.sls_url}, "connection": None}
    if connection:
        body["connection"] = {
            "idp_entity_id": connection.idp_entity_id, "sso_url": connection.sso_url,
            "slo_url": connection.slo_url, "signing_certificates": len(connection.signing_certs),
            "default_role": str(connection.default_role), "allow_idp_initiated": connection.allow_idp_initiated,
            "email_domains": connection.email_domains, "admin_groups": connection.admin_groups,
            "group_attribute": connection.group_attribute, "email_attribute": connection.email_attribute,
            "name_attribute": connection.name_attribute, "updated_at": connection.updated_at.isoformat(),
        }
    return body


@bp.get("/orgs/<slug>/saml")
def get_saml(slug: str):
    scope = scope_for(slug)
    return jsonify(_to_json(scope, connections.idp_settings(get_session(), scope.org_id)))


@bp.put("/orgs/<slug>/saml")
def put_saml(slug: str):
    scope = scope_for(slug)
    body = body_as(SamlSettings)
    connection = connections.configure(get_session(), scope.org_id, actor=scope.actor, now=now(),
                                       **body.model_dump())
    return jsonify(_to_json(scope, connection))
