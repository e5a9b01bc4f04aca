"""Audit events: append-only, and independent of the rows they describe."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, UTCDateTime


# What people did, as against how they signed in: every row but sign-ins, second-factor steps, one's
# own password changes and organization switches. The overview's "recent admin actions" read these
# through a partial index of the same predicate, so ten of them cost ten rows however many millions
# of sign-ins lie between (the sign-ins are not even written to it).
# Literal SQL, not bound parameters: PostgreSQL uses a partial index only where it can prove the
# query's predicate implies the index's, which it cannot for a parameter it has not seen.
ADMIN_ACTIONS = text("action NOT LIKE 'login:%' AND action NOT LIKE 'mfa:%' AND action NOT LIKE 'password:%' "
                     "AND action <> 'member:switch_org'")


class AuditEvent(Base):
    """One thing that happened.

    No foreign keys on purpose: the trail must outlive the users and
    organizations it names, so ids and display values are copied in.
    """

    __tablename__ = "audit_events"
    # Every read is one organization's events, newest first, paged by id (audit.service.query);
    # the filters (action, time, actor) narrow that walk. One index for it, and no more: each
    # index is written again by every event, and sign-ins write one each.
    __table_args__ = (
        Index("ix_audit_events_org_id_id", "org_id", "id"),
        Index("ix_audit_events_admin_actions", "org_id", "id", postgresql_where=ADMIN_ACTIONS,
              sqlite_where=ADMIN_ACTIONS),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    org_id: Mapped[int | None] = mapped_column(Integer, default=None)
    action: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[int | None] = mapped_column(Integer, default=None)
    actor_email: Mapped[str | None] = mapped_column(String(320), default=None)
    target_id: Mapped[int | None] = mapped_column(Integer, default=None)
    target_email: Mapped[str | None] = mapped_column(String(320), default=None)
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(256), default=None)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
