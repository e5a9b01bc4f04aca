"""Server-side sessions: the cookie holds a random token, the table only its hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, UTCDateTime


class UserSession(Base):
    __tablename__ = "sessions"
    # Single and back-channel logout: a person's sessions of one organization, by the IdP's name for them.
    __table_args__ = (Index("ix_sessions_sso_subject", "sso_org_id", "sso_name_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), default=None
    )
    # Set while the session owes a step (`owes`: a password change, a second factor, adding one):
    # it opens that step's pages and /logout only, and passes nothing.
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    owes: Mapped[str | None] = mapped_column(String(32), default=None)
    # How the holder authenticated (RFC 8176 values, space-separated): pwd, otp, hwk, mfa…
    amr: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    idle_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Set for sessions started through an organization's IdP: what single logout needs. SAML: its
    # NameID, format and SessionIndex; OpenID Connect: `sub` (format OIDC_SUBJECT), `sid`, and the
    # ID token, sealed, for the IdP's end_session_endpoint.
    sso_org_id: Mapped[int | None] = mapped_column(Integer, default=None)
    sso_name_id: Mapped[str | None] = mapped_column(String(256), default=None)
    sso_name_id_format: Mapped[str | None] = mapped_column(String(128), default=None)
    sso_session_index: Mapped[str | None] = mapped_column(String(256), default=None)
    sso_id_token_sealed: Mapped[str | None] = mapped_column(Text, default=None)
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(256), default=None)


# The sso_name_id_format of sessions begun through an OpenID Connect IdP: their sso_name_id is the `sub`.
OIDC_SUBJECT = "urn:idgate:oidc:sub"
