"""Groups and who is in them."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, UTCDateTime
from gateway.orgs.models import _enum


class Source(StrEnum):
    """Who put a member in a group: an admin, or the IdP at sign-in (which also takes them out)."""

    MANUAL = "manual"
    SSO = "sso"
    SCIM = "scim"


class Group(Base):
    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_groups_org_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))  # what apps receive in X-Auth-Groups
    description: Mapped[str] = mapped_column(String(200), default="")
    # The IdP's group value (SAML group attribute) that fills this group at each sign-in.
    sso_name: Mapped[str | None] = mapped_column(String(256), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The role its members take (gateway.groups.roles): admin, auditor, user or a custom role's name
    # (names are stable: a custom role is never renamed, and deleting one clears it here). None: no role.
    role: Mapped[str | None] = mapped_column(String(40), default=None)
    # SCIM (gateway.scim): a random id, the IdP's externalId and its displayName as it spelled it (the
    # name apps receive is derived from it, in the characters X-Auth-Groups allows).
    scim_id: Mapped[str | None] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    external_id: Mapped[str | None] = mapped_column(String(256), default=None)
    display_name: Mapped[str | None] = mapped_column(String(256), default=None)
    modified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)  # by SCIM; None: created_at


class GroupMember(Base):
    """A member in a group. Keyed by membership: leaving the organization leaves its groups."""

    __tablename__ = "group_members"

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id", ondelete="CASCADE"), primary_key=True,
                                               index=True)
    source: Mapped[Source] = mapped_column(_enum(Source), default=Source.MANUAL)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
