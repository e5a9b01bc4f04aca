"""User accounts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, UTCDateTime


class User(Base):
    __tablename__ = "users"
    # The team list's search (orgs.team) looks for a part of a name or an address: on PostgreSQL
    # trigram indexes (pg_trgm) answer `LIKE '%part%'` and `ILIKE` without reading every member.
    # SQLite has none: an embedded gateway's teams are small.
    __table_args__ = (
        Index("ix_users_name_trgm", "name", postgresql_using="gin",
              postgresql_ops={"name": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
        Index("ix_users_email_trgm", "email", postgresql_using="gin",
              postgresql_ops={"email": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Stored normalized (see accounts.emails.normalize_email), so the unique
    # index is case-insensitive without relying on the database's collation.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(40))
    # None for SSO-only users: password sign-in cannot even be attempted for them.
    password_hash: Mapped[str | None] = mapped_column(Text, default=None)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    sso_only: Mapped[bool] = mapped_column(Boolean, default=False)
    last_org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # When the address was proven to be the holder's (an invitation's link, sent to it, was used).
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    def __repr__(self) -> str:  # no secrets in reprs
        return f"<User {self.id} {self.email}>"


class FederatedIdentity(Base):
    """A user as one organization's IdP knows them: (organization, issuer, NameID) → user.

    Scoped to the organization: two organizations may connect IdPs with one entity ID (one
    Entra ID tenant, or an admin who copied another's), and neither may sign in through the other's links.
    """

    __tablename__ = "federated_identities"
    __table_args__ = (UniqueConstraint("org_id", "issuer", "subject", name="uq_federated_identities_org_issuer_subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The organization whose connection created or linked it.
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    issuer: Mapped[str] = mapped_column(String(512))
    subject: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PasswordReset(Base):
    """A "forgot password" link sent to an account's address (gateway.accounts.recovery).

    Only the SHA-256 of the link's code is kept. A row is used once (`used_at`, set by the one
    request whose UPDATE found it unused); a newer link, an admin's temporary password, or any
    change of the password deletes the account's open rows.
    """

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
