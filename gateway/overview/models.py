"""Daily roll-ups of sign-ins, kept as they happen (gateway.overview.rollups)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, UTCDateTime


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


class PeopleDay(Base):
    """How many distinct people signed in to an organization on one UTC day: counted when their
    ActiveDay row is new, so a day's figure is one row however many sign-ins it had."""

    __tablename__ = "signin_people_days"

    org_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class Snapshot(Base):
    """The figures about an organization's members as a whole (counts, dormant accounts, distinct
    people over 30 days), worked out at most once a minute: they read every membership, which at
    100,000 members costs a tenth of a second; the overview shows how old they are."""

    __tablename__ = "overview_snapshots"

    org_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dormant_days: Mapped[int] = mapped_column(Integer, primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    figures: Mapped[dict] = mapped_column(JSON)
