"""/api/v1/orgs/<slug>/oidc: read and set the organization's OpenID Connect IdP connection."""

from __future__ import annotations

from functools import partial

from gateway.api import body_as, bp, operation, scope_for
from gateway.api.schemas import (
    OidcIdpAnswer,
    OidcIdpConnection,
    OidcIdpSettings,
    RelyingParty,
)
from gateway.clock import now
from gateway.db import get_session
from gateway.sso import oidc_connections, oidc_protocol, oidc_signin
from gateway.sso.oidc_connections import OidcSettings
from gateway.web import settings

# The PUT waits on the issuer's discovery document (seconds to connect, and between bytes read): an
# issuer that never answers holds the request, and its worker, this long before a 400, not the
# service's default that suits a sign-in.
DISCOVERY_TIMEOUT = 5


def _answer(scope, connection: OidcSettings | None) -> OidcIdpAnswer:
    return OidcIdpAnswer(
        rp=RelyingParty(redirect_uri=oidc_signin.callback_url(settings(), scope.org_slug)),
        connection=OidcIdpConnection.of(connection) if connection else None,
    )


@bp.get("/orgs/<slug>/oidc")
@operation(OidcIdpAnswer)
def get_oidc_idp(slug: str):
    """The redirect URI to register at the IdP and the OpenID Connect IdP connection (null until one is
    configured); never its client secret."""
    scope = scope_for(slug)
    return _answer(scope, oidc_connections.oidc_settings(get_session(), scope.org_id))


@bp.put("/orgs/<slug>/oidc")
@operation(OidcIdpAnswer, body=OidcIdpSettings, refusals=(409,))
def put_oidc_idp(slug: str):
    """Connect the organization's OpenID Connect IdP from its issuer (its discovery document is read first).

    Left out, `client_secret` keeps the one already kept; `preferred` (true when left out) says whether
    /sso sends sign-ins here rather than to a SAML IdP connected too. 400 `idp_unreachable`, `bad_discovery` (the issuer is
    not an IdP), `invalid_field` (`client_secret` left out with no IdP connected yet), `invalid_domain`,
    `unknown_role`; 409 `domain_taken` for a domain another organization declared.
    """
    scope = scope_for(slug)
    body = body_as(OidcIdpSettings)
    connection = oidc_connections.configure(
        get_session(), scope.org_id, actor=scope.actor, now=now(), certs_dir=settings().certs_dir,
        discover=partial(oidc_protocol.discover, timeout=DISCOVERY_TIMEOUT), **body.model_dump())
    return _answer(scope, connection)
