"""Pending invitations. A row lives until it is redeemed or deleted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, UTCDateTime
from gateway.orgs.models import Role, _enum


class Invitation(Base):
    __tablename__ = "invitations"
    # One open invitation per address and organization: an expired one must be
    # deleted before the address is invited again.
    __table_args__ = (UniqueConstraint("org_id", "email", name="uq_invitations_org_email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[Role] = mapped_column(_enum(Role))
    # SHA-256 of the invitation code; the code itself is only ever in the magic link.
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
