"""Which organization's IdP a person signs in through: "continue with SSO" by work email or slug."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from gateway.errors import BadRequest, NotFound
from gateway.sso.connections import (
    ascii_domain,
    has_saml,
    idp_connection,
    organization,
    slug_declaring,
)
from gateway.sso.oidc_connections import oidc_connection, oidc_preference


def route(db: Session, email_or_slug: str) -> str:
    """The organization slug for "continue with SSO": by the email's declared domain, or a slug.

    :raise NotFound: nothing configured for it.
    """
    value = (email_or_slug or "").strip().lower()
    if "@" in value:
        try:
            domain = ascii_domain(value.rsplit("@", 1)[-1])
        except BadRequest:
            domain = None
        if domain and (slug := slug_declaring(db, domain)) is not None:
            return slug
        raise NotFound("No single sign-on is set up for that email domain.", code="sso_not_configured")
    protocol_of(db, value)
    return value


def protocol_of(db: Session, slug: str) -> str:
    """Which IdP a sign-in of the organization goes to ("oidc" or "saml"): the one it connected; with
    both (a migration, either way), the one its admins chose on the OIDC connection (`preferred`,
    true unless they keep sign-ins with SAML until the new IdP is ready).

    Only /sso routes: /saml/<slug>/login and /oidc/<slug>/login each still start a sign-in at their
    own IdP, so the one not chosen can be tried before everyone is sent to it.

    :raise NotFound: unknown organization, or (SsoNotConfigured) neither connected.
    """
    org = organization(db, slug)
    oidc_preferred = oidc_preference(db, org.id)
    if oidc_preferred is None:
        idp_connection(db, slug)  # raises SsoNotConfigured when there is no SAML IdP either
        return "saml"
    # The SAML IdP is asked about only when it could win: most organizations route on two queries.
    if oidc_preferred or not has_saml(db, org.id):
        return "oidc"
    return "saml"


@dataclass(frozen=True)
class Destination:
    """Where a sign-in start goes: whose IdP, and its sign-in URL."""

    name: str
    sign_in_url: str


def destination(db: Session, slug: str) -> Destination:
    """The organization a sign-in start goes to (for the confirmation page).

    :raise NotFound: unknown organization, or no SSO configured for it.
    """
    connection = idp_connection(db, slug)
    return Destination(organization(db, slug).name, connection.sso_url)


def oidc_destination(db: Session, slug: str) -> Destination:
    """As `destination`, for the organization's OIDC IdP: its issuer's origin is where the browser goes.

    :raise NotFound: unknown organization, or no OIDC IdP connected to it.
    """
    connection = oidc_connection(db, slug)
    return Destination(organization(db, slug).name, connection.issuer)
