"""An organization's identity-provider connections: configure one, read it, declare its email domains.

SAML today; the connection's routing, domains and the rules that read them are protocol-neutral,
so an OpenID Connect IdP takes its place beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import bindparam, delete, exists, select
from sqlalchemy.orm import Session

from gateway.accounts import provisioning
from gateway.accounts.emails import normalize_email
from gateway.actor import Actor
from gateway.audit.actions import AuditAction
from gateway.audit.service import record
from gateway.db import core_execute, insert_if_absent
from gateway.errors import BadRequest, Conflict, NotFound, about
from gateway.orgs.lifecycle import parse_role
from gateway.orgs.models import Organization, Role
from gateway.sso.models import SamlConnection, SsoEmailDomain
from saml import errors as saml_errors
from saml.metadata import parse_idp_metadata


class SsoNotConfigured(NotFound):
    code, message = "sso_not_configured", "Single sign-on is not set up for this organization."


@dataclass(frozen=True)
class IdpConnection:
    """An organization's IdP connection, as sign-in and logout read it (the metadata XML stays behind)."""

    id: int
    org_id: int
    idp_entity_id: str
    sso_url: str
    slo_url: str | None
    signing_certs: list
    default_role: Role
    allow_idp_initiated: bool
    email_attribute: str | None
    name_attribute: str | None
    group_attribute: str | None
    admin_groups: list


@dataclass(frozen=True)
class IdpSettings:
    """An organization's IdP connection as its admins see and edit it."""

    idp_entity_id: str
    sso_url: str
    slo_url: str | None
    signing_certs: list
    metadata_xml: str
    default_role: Role
    allow_idp_initiated: bool
    email_domains: list[str]
    admin_groups: list[str]
    group_attribute: str | None
    email_attribute: str | None
    name_attribute: str | None
    updated_at: datetime


def organization(db: Session, slug: str) -> Organization:
    """:raise NotFound: no organization has that slug."""
    org = db.scalar(select(Organization).where(Organization.slug == slug))
    if org is None:
        raise NotFound()
    return org


_orgs, _connections = Organization.__table__, SamlConnection.__table__
# Built once, bound per call: every sign-in and every ACS post starts here.
_CONNECTION_OF = (select(_orgs.c.id, *(_connections.c[field.name] for field in fields(IdpConnection)))
                  .outerjoin_from(_orgs, _connections, _connections.c.org_id == _orgs.c.id)
                  .where(_orgs.c.slug == bindparam("slug")))


def idp_connection(db: Session, slug: str) -> IdpConnection:
    """:raise NotFound: unknown organization, or (SsoNotConfigured) no IdP connected to it."""
    row = core_execute(db, _CONNECTION_OF, {"slug": slug}).first()
    if row is None:
        raise NotFound()
    if row[1] is None:
        raise SsoNotConfigured()
    return IdpConnection(*row[1:])


def has_saml(db: Session, org_id: int) -> bool:
    return db.scalar(select(SamlConnection.id).where(SamlConnection.org_id == org_id)) is not None


def idp_settings(db: Session, org_id: int) -> IdpSettings | None:
    """The organization's connection with its declared domains, or None when it has none."""
    connection = db.scalar(select(SamlConnection).where(SamlConnection.org_id == org_id))
    if connection is None:
        return None
    return IdpSettings(
        idp_entity_id=connection.idp_entity_id, sso_url=connection.sso_url, slo_url=connection.slo_url,
        signing_certs=list(connection.signing_certs), metadata_xml=connection.metadata_xml,
        default_role=connection.default_role, allow_idp_initiated=connection.allow_idp_initiated,
        email_domains=declared_domains(db, org_id), admin_groups=list(connection.admin_groups or []),
        group_attribute=connection.group_attribute, email_attribute=connection.email_attribute,
        name_attribute=connection.name_attribute, updated_at=connection.updated_at)


# -- configuration ---------------------------------------------------------------------------

def _invalid(message: str) -> BadRequest:
    return BadRequest(message, code="invalid_field")


def _clean_list(values, field: str, *, lower: bool = False) -> list[str]:
    """A list of names from a list, or from text separated by commas or spaces."""
    if isinstance(values, str):
        values = values.replace(",", " ").split()
    if values is None:
        values = []
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
        raise _invalid(f"{field} must be a list of names.")
    cleaned = [v.strip() for v in values if v.strip()]
    if len(cleaned) > 100 or any(len(v) > 256 or not v.isprintable() for v in cleaned):
        raise _invalid(f"{field}: at most 100 names of at most 256 printable characters.")
    return sorted({v.lower() for v in cleaned}) if lower else list(dict.fromkeys(cleaned))


def _attribute_name(value, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value.strip()) > 256 or not value.strip().isprintable():
        raise _invalid(f"{field} must be an attribute name of at most 256 printable characters.")
    return value.strip() or None


# The connection's columns hold this much; longer metadata is refused, never cut.
_METADATA_LIMITS = {"entity ID": 512, "single sign-on URL": 1024, "single logout URL": 1024}


def configure(
    db: Session, org_id: int, *, metadata_xml: str, default_role="user", allow_idp_initiated: bool = False,
    email_domains=(), admin_groups=(), group_attribute: str | None = None, email_attribute: str | None = None,
    name_attribute: str | None = None, actor: Actor, now: datetime,
) -> IdpSettings:
    """Connect (or reconnect) an organization's IdP from its metadata.

    :raise BadRequest: invalid metadata (`invalid_metadata`), role or domain.
    :raise Conflict: a domain another organization declared already.
    """
    try:
        idp = parse_idp_metadata(metadata_xml)
    except saml_errors.MetadataError as exc:
        raise BadRequest(exc.message, code="invalid_metadata") from None
    for (what, limit), value in zip(_METADATA_LIMITS.items(), (idp.entity_id, idp.sso_url, idp.slo_url)):
        if value and len(value) > limit:
            raise BadRequest(f"The metadata's {what} is longer than {limit} characters.", code="invalid_metadata")
    with about("default_role"):
        role = parse_role(default_role)
    if not isinstance(allow_idp_initiated, bool):
        raise _invalid("allow_idp_initiated must be true or false.")
    admin_groups = _clean_list(admin_groups, "admin_groups")
    group_attribute, email_attribute, name_attribute = (
        _attribute_name(value, field) for value, field in ((group_attribute, "group_attribute"),
                                                            (email_attribute, "email_attribute"),
                                                            (name_attribute, "name_attribute")))
    domains = sorted({ascii_domain(domain) for domain in _clean_list(email_domains, "email_domains", lower=True)})
    connection = db.scalar(select(SamlConnection).where(SamlConnection.org_id == org_id))
    if connection is None:
        connection = SamlConnection(org_id=org_id, created_at=now)
        db.add(connection)
    connection.idp_entity_id, connection.sso_url, connection.slo_url = idp.entity_id, idp.sso_url, idp.slo_url
    connection.signing_certs = list(idp.signing_certs)
    connection.metadata_xml = metadata_xml if isinstance(metadata_xml, str) else metadata_xml.decode()
    connection.default_role = role
    connection.allow_idp_initiated = allow_idp_initiated
    connection.admin_groups = admin_groups
    connection.group_attribute, connection.email_attribute = group_attribute, email_attribute
    connection.name_attribute = name_attribute
    connection.updated_at = now
    db.flush()  # the id, for the domains and the audit row
    declare_domains(db, org_id, domains)
    record(db, actor, AuditAction.SAML_CONFIGURE, now=now, org_id=org_id, idp_entity_id=idp.entity_id,
           certificates=len(idp.signing_certs), allow_idp_initiated=connection.allow_idp_initiated,
           email_domains=domains)
    return idp_settings(db, org_id)


# -- declared domains ------------------------------------------------------------------------

def ascii_domain(domain: str) -> str:
    """A domain as normalized email addresses carry it (IDNA, lowercase): `bücher.example` is
    declared, and compared, as `xn--bcher-kva.example`.

    :raise BadRequest: not a domain name.
    """
    if "@" not in domain and "." in domain and len(domain) <= 253:
        try:
            return normalize_email(f"postmaster@{domain}").rsplit("@", 1)[1]
        except BadRequest:
            pass
    raise BadRequest(f"{domain!r} is not a domain name.", code="invalid_domain", field="email_domains")


_domains = SsoEmailDomain.__table__


def declare_domains(db: Session, org_id: int, domains: list[str]) -> None:
    """Make `domains` (ASCII, see ascii_domain) the organization's declared domains, for whichever
    protocol its IdP speaks.

    :raise Conflict: some are another organization's. The domain is the table's key: of two
        organizations declaring one domain at once, the database lets one have it.
    """
    db.execute(delete(_domains).where(_domains.c.org_id == org_id, _domains.c.domain.not_in(domains)))
    held = set(db.scalars(select(_domains.c.domain).where(_domains.c.org_id == org_id)))
    taken = [domain for domain in domains
             if domain not in held and not insert_if_absent(db, SsoEmailDomain, domain=domain, org_id=org_id)]
    if taken:
        raise Conflict(f"Another organization declared {', '.join(taken)} for its identity provider.",
                       code="domain_taken", field="email_domains")


def declared_domains(db: Session, org_id: int) -> list[str]:
    """The email domains the organization declared for its IdP, sorted."""
    return list(db.scalars(select(_domains.c.domain).where(_domains.c.org_id == org_id).order_by(_domains.c.domain)))


def slug_declaring(db: Session, domain: str) -> str | None:
    """The slug of the organization that declared `domain` (an ASCII domain), if one did."""
    return db.scalar(select(_orgs.c.slug).join_from(_domains, _orgs, _orgs.c.id == _domains.c.org_id)
                     .where(_domains.c.domain == domain))


# Built once, bound per call: asked on first sign-ins (provisioning.decide).
_DOMAIN_CLAIM = select(
    select(_domains.c.org_id).where(_domains.c.domain == bindparam("domain")).scalar_subquery(),
    exists().where(_domains.c.org_id == bindparam("org_id")),
)


def domain_claims(db: Session, org_id: int):
    """What the declared domains say of an email domain, from this organization's side (for provisioning)."""
    def domain_claim(domain: str) -> provisioning.DomainClaim:
        owner, declares_any = core_execute(db, _DOMAIN_CLAIM, {"domain": domain, "org_id": org_id}).first()
        return provisioning.DomainClaim(here=owner == org_id, elsewhere=owner not in (None, org_id),
                                        declares_any=bool(declares_any))
    return domain_claim
