"""Registered applications: where they are (hosts and path prefixes) and who may reach them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, UTCDateTime
from gateway.orgs.models import _enum


class Access(StrEnum):
    EVERYONE = "everyone"  # every active member of the organization
    LISTED = "listed"  # members with one of the rule's roles, or in one of its groups (none listed: nobody)


class App(Base):
    __tablename__ = "apps"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_apps_org_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    access: Mapped[Access] = mapped_column(_enum(Access), default=Access.EVERYONE)
    requires_mfa: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AppHost(Base):
    """A host an organization's apps are on. The host is the key: of two organizations registering
    one host at once, the database lets one have it."""

    __tablename__ = "app_hosts"

    host: Mapped[str] = mapped_column(String(262), primary_key=True)  # gateway.apps.urls.host_key
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)


class AppRoute(Base):
    """Where an app is: a host and a path prefix ("/" for the whole host)."""

    __tablename__ = "app_routes"
    __table_args__ = (UniqueConstraint("host", "path_prefix", name="uq_app_routes_host_path_prefix"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    host: Mapped[str] = mapped_column(ForeignKey("app_hosts.host", ondelete="CASCADE"))
    path_prefix: Mapped[str] = mapped_column(String(512), default="/")


class AppRuleRole(Base):
    """A role (admin, auditor, user or a custom role's name) the app's rule admits."""

    __tablename__ = "app_rule_roles"

    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(40), primary_key=True)


class AppRuleGroup(Base):
    """A group the app's rule admits."""

    __tablename__ = "app_rule_groups"

    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True, index=True)
