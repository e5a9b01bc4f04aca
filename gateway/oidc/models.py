"""The OpenID Connect provider's rows: clients, codes, grants and their tokens, back-channel logouts.

A client is one of an organization's applications (gateway.apps): the app's rule decides who may
sign in to it. Every code and token is stored as a SHA-256 verifier, never as itself. A grant is
what one sign-in gave one client: its tokens live while it and the session it came from do, so a
logout, a deactivation or a removal ends them at once.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, UTCDateTime
from gateway.orgs.models import _enum


class SigningAlg(StrEnum):
    RS256 = "RS256"  # mandatory to implement (OIDC Core §15.1): what most clients expect
    ES256 = "ES256"


class UriKind(StrEnum):
    LOGIN = "login"  # redirect_uri
    LOGOUT = "logout"  # post_logout_redirect_uri


class OidcClient(Base):
    __tablename__ = "oidc_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str | None] = mapped_column(String(64), default=None)  # None: a public client (PKCE only)
    id_token_alg: Mapped[SigningAlg] = mapped_column(_enum(SigningAlg), default=SigningAlg.RS256)
    require_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(2000), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OidcClientUri(Base):
    """A registered redirect_uri or post_logout_redirect_uri, matched exactly as written."""

    __tablename__ = "oidc_client_uris"

    client_pk: Mapped[int] = mapped_column(ForeignKey("oidc_clients.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[UriKind] = mapped_column(_enum(UriKind), primary_key=True)
    uri: Mapped[str] = mapped_column(String(2000), primary_key=True)


class OidcGrant(Base):
    """What one sign-in gave one client; its tokens are active while it and its session are."""

    __tablename__ = "oidc_grants"
    # A nonce the client sent before is refused (gateway.oidc.server): found by this index, not a scan.
    __table_args__ = (Index("ix_oidc_grants_client_pk_nonce", "client_pk", "nonce"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("oidc_clients.id", ondelete="CASCADE"))
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(500))
    nonce: Mapped[str | None] = mapped_column(String(255), default=None)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    amr: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    logout_sent: Mapped[bool] = mapped_column(Boolean, default=False)  # a back-channel logout was queued


class OidcCode(Base):
    """An authorization code: single-use, short-lived; using it twice revokes its grant."""

    __tablename__ = "oidc_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("oidc_grants.id", ondelete="CASCADE"), index=True)
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    code_challenge: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class TokenKind(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


class OidcToken(Base):
    """An access or refresh token. A refresh token is used once: its use gives a new one, and a
    second use of the old one revokes the whole grant (the family)."""

    __tablename__ = "oidc_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("oidc_grants.id", ondelete="CASCADE"), index=True)
    kind: Mapped[TokenKind] = mapped_column(_enum(TokenKind))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class BackchannelLogout(Base):
    """A logout waiting to reach a client (OIDC Back-Channel Logout 1.0), retried like mail. The
    logout token is signed at each attempt: a retry an hour later still carries a fresh one."""

    __tablename__ = "oidc_backchannel_logouts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("oidc_clients.id", ondelete="CASCADE"), index=True)
    uri: Mapped[str] = mapped_column(String(2000))
    user_id: Mapped[int] = mapped_column(Integer)  # the token's sub; no foreign key: a removed account's logout still goes
    session_id: Mapped[int] = mapped_column(Integer)  # its sid
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
