"""/api/v1/orgs/<slug>/oidc-clients: the organization's OpenID Connect clients (the same services as
/admin/oidc-clients). A client's name and who may sign in to it are its application's: /apps/<app_id>."""

from __future__ import annotations

from gateway.api import body_as, bp, operation, scope_for
from gateway.api.schemas import (
    NewOidcClient,
    NoContent,
    OidcClient,
    OidcClientAnswer,
    OidcClientChange,
    OidcClientList,
    RegisteredOidcClient,
    RotatedSecret,
)
from gateway.clock import now
from gateway.db import get_session
from gateway.oidc import clients

_CLIENT = {"oidc_client_id": "/oidc_client/id", "app_id": "/oidc_client/app_id"}
# The body's names → the service's keywords (the body's are RFC 7591's).
_KEYWORDS = {"id_token_signed_response_alg": "id_token_alg"}


def _client(client) -> OidcClient:
    return OidcClient.of(clients.view(get_session(), client))


@bp.get("/orgs/<slug>/oidc-clients")
@operation(OidcClientList)
def list_oidc_clients(slug: str):
    """The organization's OpenID Connect clients, by name."""
    return OidcClientList(oidc_clients=[OidcClient.of(c) for c in clients.list_clients(get_session(),
                                                                                      scope_for(slug).org_id)])


@bp.post("/orgs/<slug>/oidc-clients")
@operation(RegisteredOidcClient, status=201, body=NewOidcClient, refusals=(409,), links=_CLIENT)
def create_oidc_client(slug: str):
    """Register an OpenID Connect client, and its application; a confidential client's secret is answered this once.

    400 `invalid_name`, `invalid_uri`, `no_redirect_uri`, `too_many_uris`, `invalid_alg`; 409 `app_exists` (the
    organization has an application of that name).
    """
    scope = scope_for(slug)
    body = body_as(NewOidcClient)
    client, secret = clients.create_client(
        get_session(), scope, name=body.name, redirect_uris=body.redirect_uris, public=body.public,
        post_logout_redirect_uris=body.post_logout_redirect_uris, backchannel_logout_uri=body.backchannel_logout_uri,
        id_token_alg=body.id_token_signed_response_alg, require_consent=body.require_consent, now=now())
    return RegisteredOidcClient(oidc_client=_client(client), client_secret=secret)


@bp.get("/orgs/<slug>/oidc-clients/<oidc_client_id>")
@operation(OidcClientAnswer)
def get_oidc_client(slug: str, oidc_client_id: str):
    """One OpenID Connect client."""
    return OidcClientAnswer(oidc_client=_client(clients.get_client(get_session(), scope_for(slug).org_id,
                                                                   oidc_client_id)))


@bp.patch("/orgs/<slug>/oidc-clients/<oidc_client_id>")
@operation(OidcClientAnswer, body=OidcClientChange)
def update_oidc_client(slug: str, oidc_client_id: str):
    """Change a client: what the body gives; the rest stays. Its name and rule are its application's.

    400: as when it is registered.
    """
    scope = scope_for(slug)
    body = body_as(OidcClientChange)
    changes = {_KEYWORDS.get(name, name): value for name, value in body.model_dump(exclude_unset=True).items()}
    return OidcClientAnswer(oidc_client=_client(clients.update_client(get_session(), scope, oidc_client_id,
                                                                      now=now(), **changes)))


@bp.delete("/orgs/<slug>/oidc-clients/<oidc_client_id>")
@operation(NoContent, status=204)
def delete_oidc_client(slug: str, oidc_client_id: str):
    """Remove a client and its application; every token it was given stops working."""
    clients.delete_client(get_session(), scope_for(slug), oidc_client_id, now=now())
    return NoContent()


@bp.post("/orgs/<slug>/oidc-clients/<oidc_client_id>/secret")
@operation(RotatedSecret, refusals=(409,))
def rotate_oidc_client_secret(slug: str, oidc_client_id: str):
    """A new secret for a confidential client, answered this once; the old one stops working at once.

    409 `public_client`: a public client has no secret.
    """
    scope = scope_for(slug)
    secret = clients.rotate_secret(get_session(), scope, oidc_client_id, now=now())
    return RotatedSecret(oidc_client=_client(clients.get_client(get_session(), scope.org_id, oidc_client_id)),
                         client_secret=secret)
