"""An organization's OpenID Connect IdP (issue 21): configure it, read it.

Beside the SAML connection (gateway.sso.connections), with the same declared domains (one owner
per domain, the organization's whichever protocol) and the same provisioning rules. The client
secret is sealed with the keys beside the signing keys (gateway.mfa.sealing), never stored plain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from gateway.actor import Actor
from gateway.audit.actions import AuditAction
from gateway.audit.service import record
from gateway.db import core_execute
from gateway.errors import BadRequest, NotFound, about
from gateway.mfa import sealing
from gateway.orgs.lifecycle import parse_role
from gateway.orgs.models import Organization, Role
from gateway.sso import oidc_protocol
from gateway.sso.connections import (
    _attribute_name,
    _clean_list,
    ascii_domain,
    declare_domains,
    declared_domains,
)
from gateway.sso.models import OidcIdpConnection

DEFAULT_SCOPES = "openid email profile"


class OidcNotConfigured(NotFound):
    code, message = "oidc_not_configured", "No OpenID Connect IdP is connected to this organization."


@dataclass(frozen=True)
class OidcConnection:
    """An organization's OIDC IdP as sign-in reads it (the secret unsealed only when it is used)."""

    id: int
    org_id: int
    issuer: str
    client_id: str
    client_secret_sealed: str
    scopes: str
    names: oidc_protocol.ClaimNames
    default_role: Role
    admin_groups: list


@dataclass(frozen=True)
class OidcSettings:
    """The connection as its admins see it: never the secret."""

    issuer: str
    client_id: str
    scopes: str
    email_claim: str
    name_claim: str
    groups_claim: str | None
    trust_email: bool
    default_role: Role
    admin_groups: list[str]
    email_domains: list[str]
    preferred: bool  # while a SAML IdP is connected too: sign-ins go to this one (gateway.sso.routing)
    updated_at: datetime


_orgs, _connections = Organization.__table__, OidcIdpConnection.__table__
_COLUMNS = ("id", "org_id", "issuer", "client_id", "client_secret_sealed", "scopes", "email_claim", "name_claim",
            "groups_claim", "trust_email", "default_role", "admin_groups")
# Built once, bound per call: every start and every callback begins here (the ORM's entity loading
# cost more than the rest of the callback's own work).
_CONNECTION_OF = (select(_orgs.c.id, *(_connections.c[name] for name in _COLUMNS))
                  .outerjoin_from(_orgs, _connections, _connections.c.org_id == _orgs.c.id)
                  .where(_orgs.c.slug == bindparam("slug")))


# The connection's id, for a statement that names it by the organization's slug (bound as `slug`).
CONNECTION_ID_OF_SLUG = (select(_connections.c.id).join_from(_orgs, _connections, _connections.c.org_id == _orgs.c.id)
                         .where(_orgs.c.slug == bindparam("slug")).scalar_subquery())


def oidc_connection(db: Session, slug: str) -> OidcConnection:
    """:raise NotFound: unknown organization, or (OidcNotConfigured) no OIDC IdP connected to it."""
    return connection_from(core_execute(db, _CONNECTION_OF, {"slug": slug}).first())


def connection_read_with(*columns):
    """The statement oidc_connection runs, with `columns` after the connection's own (connection_from
    reads the row's first ones)."""
    return _CONNECTION_OF.add_columns(*columns)


def connection_from(found) -> OidcConnection:
    """The connection of a row of oidc_connection's statement.

    :raise NotFound: as oidc_connection.
    """
    if found is None:
        raise NotFound()
    if found[1] is None:
        raise OidcNotConfigured()
    (pk, org_id, issuer, client_id, sealed, scopes, email_claim, name_claim, groups_claim, trust_email, role,
     admin_groups) = found[1:len(_COLUMNS) + 1]
    return OidcConnection(
        id=pk, org_id=org_id, issuer=issuer, client_id=client_id, client_secret_sealed=sealed, scopes=scopes,
        names=oidc_protocol.ClaimNames(email=email_claim, name=name_claim, groups=groups_claim,
                                       trust_email=bool(trust_email)),
        default_role=Role(role), admin_groups=list(admin_groups or []))


def oidc_preference(db: Session, org_id: int) -> bool | None:
    """None when the organization has no OIDC IdP; else whether sign-ins go to it rather than to a SAML
    IdP connected too. One query: /sso asks it of every sign-in it routes."""
    return db.scalar(select(OidcIdpConnection.preferred).where(OidcIdpConnection.org_id == org_id))


def oidc_settings(db: Session, org_id: int) -> OidcSettings | None:
    row = db.scalar(select(OidcIdpConnection).where(OidcIdpConnection.org_id == org_id))
    if row is None:
        return None
    return OidcSettings(issuer=row.issuer, client_id=row.client_id, scopes=row.scopes, email_claim=row.email_claim,
                        name_claim=row.name_claim, groups_claim=row.groups_claim, trust_email=row.trust_email,
                        default_role=row.default_role, admin_groups=list(row.admin_groups or []),
                        email_domains=declared_domains(db, org_id), preferred=row.preferred,
                        updated_at=row.updated_at)


def _text(value, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > limit or not value.strip().isprintable():
        raise BadRequest(f"{field}: up to {limit} printable characters.", code="invalid_field", field=field)
    return value.strip()


def _scopes(value) -> str:
    names = _clean_list(value if value is not None else DEFAULT_SCOPES, "scopes")
    if "openid" not in names:
        names.insert(0, "openid")
    return " ".join(names)


def configure(db: Session, org_id: int, *, issuer, client_id, client_secret, certs_dir: str, scopes=None,
              email_claim: str | None = None, name_claim: str | None = None, groups_claim: str | None = None,
              trust_email: bool = False, default_role="user", admin_groups=(), email_domains=(),
              preferred: bool = True, actor: Actor, now: datetime,
              discover=oidc_protocol.discover) -> OidcSettings:
    """Connect (or reconnect) the organization's OIDC IdP; its discovery document is read first, so
    an issuer that is not one (or names another) is refused before anything is kept.

    `client_secret=None` keeps the secret sealed for the connection already there (a reconnection
    that leaves the secret alone, as the admin API's PUT without one).

    `preferred=False` keeps sign-ins with the organization's SAML IdP while both are connected (a
    migration not yet done); it is kept all the same with no SAML IdP, for when one is connected.

    :raise BadRequest: a field (`invalid_field` on `client_secret`: None, and no connection to keep
        one of), or the issuer's discovery (`bad_discovery`, `idp_unreachable`).
    :raise Conflict: a domain another organization declared already.
    """
    issuer = _text(issuer, "issuer", 512)
    client_id = _text(client_id, "client_id", 255)
    if client_secret is not None:
        client_secret = _text(client_secret, "client_secret", 4096)
    for value, field in ((trust_email, "trust_email"), (preferred, "preferred")):
        if not isinstance(value, bool):
            raise BadRequest(f"{field} must be true or false.", code="invalid_field", field=field)
    with about("default_role"):
        role = parse_role(default_role)
    names = [_attribute_name(value, field) for value, field in
             ((email_claim, "email_claim"), (name_claim, "name_claim"), (groups_claim, "groups_claim"))]
    domains = sorted({ascii_domain(domain) for domain in _clean_list(email_domains, "email_domains", lower=True)})
    row = db.scalar(select(OidcIdpConnection).where(OidcIdpConnection.org_id == org_id))
    if client_secret is None:
        _ensure_a_secret_to_keep(row)
    try:
        discover(issuer)
    except oidc_protocol.OidcError as exc:
        raise BadRequest(exc.message, code=exc.code, field="issuer") from None
    if row is None:
        row = OidcIdpConnection(org_id=org_id, created_at=now)
        db.add(row)
    row.issuer, row.client_id = issuer, client_id
    if client_secret is not None:  # None: the sealed one stays as it is
        row.client_secret_sealed = sealing.seal(certs_dir, client_secret)
    row.scopes = _scopes(scopes)
    row.email_claim, row.name_claim, row.groups_claim = names[0] or "email", names[1] or "name", names[2]
    row.trust_email, row.default_role, row.preferred = trust_email, role, preferred
    row.admin_groups = _clean_list(admin_groups, "admin_groups")
    row.updated_at = now
    db.flush()
    declare_domains(db, org_id, domains)
    record(db, actor, AuditAction.OIDC_IDP_CONFIGURE, now=now, org_id=org_id, issuer=issuer, client_id=client_id,
           email_domains=domains, trust_email=trust_email, preferred=preferred)
    return oidc_settings(db, org_id)


def _ensure_a_secret_to_keep(row: OidcIdpConnection | None) -> None:
    """:raise BadRequest: no connection yet, so no secret to keep (checked before the IdP is asked)."""
    if row is None:
        raise BadRequest("client_secret: the secret the IdP gave the gateway is needed to connect it.",
                         code="invalid_field", field="client_secret")


def client_secret(connection: OidcConnection, certs_dir: str) -> str:
    """:raise sealing.InvalidToken: sealed with a key this gateway no longer has."""
    return sealing.unseal(certs_dir, connection.client_secret_sealed, remember=True)


def reseal_all(db: Session, *, certs_dir: str) -> int:
    """Every IdP client secret sealed again with the newest key (`idgate keys rotate`)."""
    rows = db.scalars(select(OidcIdpConnection)).all()
    for row in rows:
        row.client_secret_sealed = sealing.reseal(certs_dir, row.client_secret_sealed)
    return len(rows)
