"""Organizations and memberships."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.accounts.models import User
from gateway.db import Base, UTCDateTime


class Role(StrEnum):
    """What a member may do in the console. A custom role (CustomRole) has a User's rights there."""

    ADMIN = "admin"
    AUDITOR = "auditor"  # reads everything an admin reads, changes nothing
    USER = "user"


class MemberStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


def _enum(cls):
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e],
                create_constraint=True, name=cls.__name__.lower())


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Members who sign in with a password must pass a second factor too (SSO members: their IdP's).
    mfa_required: Mapped[bool] = mapped_column(Boolean, default=False)


class CustomRole(Base):
    """A role an organization names for its apps ("editor", "oncall"): apps receive it in
    X-Auth-Role and access rules can name it; in the console its members have a User's rights."""

    __tablename__ = "custom_roles"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_custom_roles_org_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("org_id", "user_id", name="uq_memberships_org_user"),
        # The team list pages newest first by id within one organization. With the unique
        # (org_id, user_id) it serves every lookup by organization: no index on org_id alone.
        Index("ix_memberships_org_id_id", "org_id", "id"),
        # SCIM's userName, unique per organization without regard to case (RFC 7643 §4.1.1: caseExact false);
        # also what a `userName eq` filter reads, so one index answers it at any size.
        UniqueConstraint("org_id", "scim_user_key", name="uq_memberships_org_scim_user_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(_enum(Role))
    status: Mapped[MemberStatus] = mapped_column(_enum(MemberStatus), default=MemberStatus.ACTIVE)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set only with role User: the member is presented to apps under this role's name instead.
    custom_role_id: Mapped[int | None] = mapped_column(
        ForeignKey("custom_roles.id", ondelete="SET NULL"), default=None, index=True)
    # Bumped by every change, so that a confirmation page can tell it went stale.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # SCIM (gateway.scim): the id the IdP knows the member by (random, so that ids say nothing across
    # organizations), the IdP's own externalId, and the userName as the IdP spelled it (None: the email).
    scim_id: Mapped[str | None] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    external_id: Mapped[str | None] = mapped_column(String(256), default=None)
    scim_user_name: Mapped[str | None] = mapped_column(String(256), default=None)
    scim_user_key: Mapped[str | None] = mapped_column(String(256), default=None)
    modified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)  # by SCIM; None: joined_at
    # The email's type and primary flag as the IdP sent them (None: not sent), echoed back unchanged.
    scim_email_type: Mapped[str | None] = mapped_column(String(64), default=None)
    scim_email_primary: Mapped[bool | None] = mapped_column(Boolean, default=None)

    org: Mapped[Organization] = relationship()
    user: Mapped[User] = relationship()
    custom_role: Mapped[CustomRole | None] = relationship()

    @property
    def role_name(self) -> str:
        """The role apps and rules see: the custom role's name, else admin, auditor or user."""
        return self.custom_role.name if self.custom_role_id is not None else str(self.role)
