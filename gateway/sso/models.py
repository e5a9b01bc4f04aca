"""An organization's IdP connections (SAML, OpenID Connect), the email domains it declared for them,
pending sign-ins, and the SAML replay cache."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, UTCDateTime
from gateway.orgs.models import Role, _enum


class SamlConnection(Base):
    __tablename__ = "saml_connections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), unique=True)
    idp_entity_id: Mapped[str] = mapped_column(String(512))
    sso_url: Mapped[str] = mapped_column(String(1024))
    slo_url: Mapped[str | None] = mapped_column(String(1024), default=None)
    signing_certs: Mapped[list] = mapped_column(JSON)  # several during a rollover
    metadata_xml: Mapped[str] = mapped_column(Text)
    default_role: Mapped[Role] = mapped_column(_enum(Role), default=Role.USER)
    allow_idp_initiated: Mapped[bool] = mapped_column(Boolean, default=False)
    email_attribute: Mapped[str | None] = mapped_column(String(256), default=None)
    name_attribute: Mapped[str | None] = mapped_column(String(256), default=None)
    group_attribute: Mapped[str | None] = mapped_column(String(256), default=None)
    admin_groups: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SsoEmailDomain(Base):
    """An email domain an organization declared its IdP answers for, whichever protocol that IdP speaks:
    routing on /sso, linking existing members, and where new users may come from.

    The domain is the key: of two organizations declaring one domain at once, the database lets one
    have it.
    """

    __tablename__ = "sso_email_domains"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)  # IDNA, lowercase
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)


class OidcIdpConnection(Base):
    """An organization's OpenID Connect IdP (issue 21). The client secret is sealed
    (gateway.mfa.sealing: a key beside the signing keys, not in the database)."""

    __tablename__ = "oidc_idp_connections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), unique=True)
    issuer: Mapped[str] = mapped_column(String(512))
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret_sealed: Mapped[str] = mapped_column(Text)
    scopes: Mapped[str] = mapped_column(String(512))
    email_claim: Mapped[str] = mapped_column(String(256))
    name_claim: Mapped[str] = mapped_column(String(256))
    groups_claim: Mapped[str | None] = mapped_column(String(256), default=None)
    trust_email: Mapped[bool] = mapped_column(Boolean, default=False)  # the IdP verifies every email it issues
    default_role: Mapped[Role] = mapped_column(_enum(Role), default=Role.USER)
    admin_groups: Mapped[list] = mapped_column(JSON, default=list)
    # While the organization has a SAML IdP too (a migration): whether sign-ins go to this one.
    preferred: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OidcIdpLoginRequest(Base):
    """A sign-in sent to an organization's OIDC IdP, keyed by its state's digest. Its nonce and PKCE
    verifier are not kept: both are derived from the state with the gateway's secret key."""

    __tablename__ = "oidc_idp_login_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("oidc_idp_connections.id", ondelete="CASCADE"))
    next_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class SamlLoginRequest(Base):
    """An AuthnRequest we sent, keyed by the opaque RelayState that comes back with the answer.

    Server-side because the IdP's cross-site POST carries no SameSite=Lax cookie,
    and shared through the database so that any instance can finish the sign-in.
    """

    __tablename__ = "saml_login_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    relay_state: Mapped[str] = mapped_column(String(64), unique=True)
    request_id: Mapped[str] = mapped_column(String(128))
    connection_id: Mapped[int] = mapped_column(ForeignKey("saml_connections.id", ondelete="CASCADE"))
    next_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class SeenAssertion(Base):
    """Assertion IDs already used: the unique constraint makes a replay fail, on any instance."""

    __tablename__ = "saml_seen_assertions"
    __table_args__ = (UniqueConstraint("issuer", "assertion_id", name="uq_saml_seen_assertions_issuer_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer: Mapped[str] = mapped_column(String(512))
    assertion_id: Mapped[str] = mapped_column(String(256))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
