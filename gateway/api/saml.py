"""/api/v1/orgs/<slug>/saml: read and set the organization's SAML connection."""

from __future__ import annotations

from gateway.api import body_as, bp, operation, scope_for
from gateway.api.schemas import SamlAnswer, SamlConnection, SamlSettings, ServiceProvider
from gateway.clock import now
from gateway.db import get_session
from gateway.sso import connections, saml_protocol
from gateway.sso.connections import IdpSettings
from gateway.web import settings


def _answer(scope, connection: IdpSettings | None) -> SamlAnswer:
    sp = saml_protocol.service_provider(settings(), scope.org_slug)
    return SamlAnswer(
        sp=ServiceProvider(entity_id=sp.entity_id, metadata_url=sp.entity_id, acs_url=sp.acs_url,
                           sls_url=sp.sls_url),
        connection=SamlConnection.of(connection) if connection else None,
    )


@bp.get("/orgs/<slug>/saml")
@operation(SamlAnswer)
def get_saml(slug: str):
    """The SP's URLs and the SAML connection (null until one is configured)."""
    scope = scope_for(slug)
    return _answer(scope, connections.idp_settings(get_session(), scope.org_id))


@bp.put("/orgs/<slug>/saml")
@operation(SamlAnswer, body=SamlSettings, refusals=(409,))
def put_saml(slug: str):
    """Connect the organization's IdP from its metadata.

    400 `invalid_metadata`, `invalid_domain`, `unknown_role`; 409 `domain_taken` for a domain another
    organization declared.
    """
    scope = scope_for(slug)
    body = body_as(SamlSettings)
    connection = connections.configure(get_session(), scope.org_id, actor=scope.actor, now=now(),
                                       **body.model_dump())
    return _answer(scope, connection)
