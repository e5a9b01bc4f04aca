"""Daily roll-ups of sign-ins, kept as they happen (gateway.overview.rollups)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base


class SigninDay(Base):
    """How many sign-ins an organization had on one UTC day, by method and outcome.

    No foreign key, as in the audit log it summarizes: the figures outlive what they count, and a
    sign-in never waits on a lock of the organization's row.
    """

    __tablename__ = "signin_days"

    org_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    method: Mapped[str] = mapped_column(String(16), primary_key=True)   # password, passkey, sso
    outcome: Mapped[str] = mapped_column(String(16), primary_key=True)  # success, failed, throttled
    count: Mapped[int] = mapped_column(Integer, default=0)


class ActiveDay(Base):
    """A person who signed in to an organization on one UTC day (present or absent: distinct people)."""

    __tablename__ = "signin_active_days"

    org_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
