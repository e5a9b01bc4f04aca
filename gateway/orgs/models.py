"""Organizations and memberships."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.accounts.models import User
from gateway.db import Base, UTCDateTime


class Role(StrEnum):
    ADMIN = "admin"
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


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("org_id", "user_id", name="uq_memberships_org_user"),
        # The team list pages newest first by id within one organization. With the unique
        # (org_id, user_id) it serves every lookup by organization: no index on org_id alone.
        Index("ix_memberships_org_id_id", "org_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(_enum(Role))
    status: Mapped[MemberStatus] = mapped_column(_enum(MemberStatus), default=MemberStatus.ACTIVE)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Bumped by every change, so that a confirmation page can tell it went stale.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    org: Mapped[Organization] = relationship()
    user: Mapped[User] = relationship()
