"""The overview of one organization: sign-ins by day, its people, dormant accounts, next steps.

Sign-in figures come from the daily roll-ups (gateway.overview.rollups), never from the audit log,
so they cost the same however long the log grows; the people's figures are counts over the
organization's memberships through their indexes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, distinct, func, or_, select, union
from sqlalchemy.orm import Session

from gateway.accounts.models import User
from gateway.apps.models import App
from gateway.audit.models import ADMIN_ACTIONS, AuditEvent
from gateway.errors import BadRequest
from gateway.invitations.models import Invitation
from gateway.mfa.models import Passkey, TotpFactor
from gateway.orgs.access import AdminScope
from gateway.orgs.models import MemberStatus, Membership, Organization
from gateway.overview.models import ActiveDay, SigninDay
from gateway.overview.rollups import METHODS, OUTCOMES, day_of
from gateway.sso.models import OidcIdpConnection, SamlConnection

DAYS = 30
DORMANT_DAYS = 90  # no sign-in for this long: dormant (?dormant_days= changes it, 1 to 3650)
DORMANT_SHOWN = 20
RECENT_SHOWN = 10


@dataclass(frozen=True)
class Day:
    day: date
    counts: dict[tuple[str, str], int]  # (method, outcome) → sign-ins
    active: int  # distinct people who signed in

    def total(self, outcome: str | None = None) -> int:
        return sum(n for (_, o), n in self.counts.items() if outcome is None or o == outcome)


@dataclass(frozen=True)
class People:
    active: int
    inactive: int
    invited_pending: int
    invited_expired: int
    with_second_factor: int  # active members with an authenticator app or a passkey
    sso_only: int  # active members who sign in only through the organization's IdP


@dataclass(frozen=True)
class DormantMember:
    user_id: int
    name: str
    email: str
    last_sign_in: datetime | None  # None: never signed in (counted from when they joined)
    joined_at: datetime


@dataclass(frozen=True)
class Dormant:
    days: int
    count: int
    members: list[DormantMember]


@dataclass(frozen=True)
class Step:
    key: str  # protect_app, connect_sso, invite_people, require_mfa
    done: bool


@dataclass(frozen=True)
class Overview:
    days: list[Day]
    active_30_days: int
    people: People
    dormant: Dormant
    checklist: list[Step]
    recent: list[AuditEvent] = field(default_factory=list)

    @property
    def onboarded(self) -> bool:
        return all(step.done for step in self.checklist)


def parse_dormant_days(value) -> int:
    """:raise BadRequest: `bad_filter` unless a whole number of days from 1 to 3650."""
    if value in (None, ""):
        return DORMANT_DAYS
    try:
        days = int(str(value).strip())
    except ValueError:
        days = 0
    if not 1 <= days <= 3650:
        raise BadRequest("`dormant_days` is a number of days from 1 to 3650.", code="bad_filter")
    return days


def overview(db: Session, scope: AdminScope, *, now: datetime, dormant_days: int = DORMANT_DAYS) -> Overview:
    """Everything the overview shows, for the scope's organization (read only)."""
    return Overview(
        days=sign_ins_by_day(db, scope.org_id, now=now),
        active_30_days=active_people(db, scope.org_id, now=now),
        people=people(db, scope.org_id, now=now),
        dormant=dormant(db, scope.org_id, now=now, days=dormant_days),
        checklist=checklist(db, scope.org_id),
        recent=recent_admin_actions(db, scope.org_id),
    )


def _first_day(now: datetime) -> date:
    return day_of(now) - timedelta(days=DAYS - 1)


def sign_ins_by_day(db: Session, org_id: int, *, now: datetime) -> list[Day]:
    """The last 30 UTC days, today included, oldest first; a day without sign-ins is all zeros."""
    first = _first_day(now)
    counts: dict[date, dict] = {first + timedelta(days=i): {} for i in range(DAYS)}
    rows = db.execute(select(SigninDay.day, SigninDay.method, SigninDay.outcome, SigninDay.count)
                      .where(SigninDay.org_id == org_id, SigninDay.day >= first))
    for day, method, outcome, n in rows:
        if day in counts and method in METHODS and outcome in OUTCOMES:
            counts[day][(method, outcome)] = n
    active = dict(db.execute(select(ActiveDay.day, func.count()).where(ActiveDay.org_id == org_id,
                                                                       ActiveDay.day >= first)
                             .group_by(ActiveDay.day)).all())
    return [Day(day, {(m, o): counts[day].get((m, o), 0) for m in METHODS for o in OUTCOMES}, active.get(day, 0))
            for day in counts]


def active_people(db: Session, org_id: int, *, now: datetime) -> int:
    """Distinct people who signed in over the last 30 days."""
    return db.scalar(select(func.count(distinct(ActiveDay.user_id)))
                     .where(ActiveDay.org_id == org_id, ActiveDay.day >= _first_day(now))) or 0


def people(db: Session, org_id: int, *, now: datetime) -> People:
    active = Membership.status == MemberStatus.ACTIVE
    members = db.execute(
        select(func.count(case((active, 1))), func.count(case((~active, 1))),
               func.count(case((and_(active, User.sso_only), 1))))
        .select_from(Membership).join(User, User.id == Membership.user_id)
        .where(Membership.org_id == org_id)).one()
    invited = db.execute(
        select(func.count(case((Invitation.expires_at > now, 1))), func.count(case((Invitation.expires_at <= now, 1))))
        .where(Invitation.org_id == org_id)).one()
    # Those with a factor, from the (few) factor rows up: not a probe per member.
    holders = union(select(TotpFactor.user_id).where(TotpFactor.confirmed_at.is_not(None)),
                    select(Passkey.user_id)).subquery()
    with_factor = db.scalar(select(func.count()).select_from(holders)
                            .join(Membership, Membership.user_id == holders.c.user_id)
                            .where(Membership.org_id == org_id, active))
    return People(active=members[0], inactive=members[1], invited_pending=invited[0], invited_expired=invited[1],
                  with_second_factor=with_factor or 0, sso_only=members[2])


def dormant(db: Session, org_id: int, *, now: datetime, days: int = DORMANT_DAYS,
            limit: int = DORMANT_SHOWN) -> Dormant:
    """Active members with no sign-in for `days` (never signed in: counted from when they joined);
    the longest-quiet first."""
    cutoff = now - timedelta(days=days)
    quiet_since = func.coalesce(User.last_login_at, Membership.joined_at)
    where = (Membership.org_id == org_id, Membership.status == MemberStatus.ACTIVE,
             or_(User.last_login_at < cutoff, and_(User.last_login_at.is_(None), Membership.joined_at < cutoff)))
    base = select(Membership.user_id, User.name, User.email, User.last_login_at, Membership.joined_at) \
        .join(User, User.id == Membership.user_id).where(*where)
    rows = db.execute(base.order_by(quiet_since, Membership.user_id).limit(limit)).all()
    count = db.scalar(select(func.count()).select_from(Membership).join(User, User.id == Membership.user_id)
                      .where(*where))
    return Dormant(days=days, count=count or 0, members=[DormantMember(*row) for row in rows])


def checklist(db: Session, org_id: int) -> list[Step]:
    """A new organization's first steps, each ticked from what exists."""
    def any_of(query) -> bool:
        return db.scalar(select(query.exists())) or False

    org = db.get(Organization, org_id)
    return [
        Step("protect_app", any_of(select(App.id).where(App.org_id == org_id))),
        Step("connect_sso", any_of(select(SamlConnection.id).where(SamlConnection.org_id == org_id))
             or any_of(select(OidcIdpConnection.id).where(OidcIdpConnection.org_id == org_id))),
        Step("invite_people", any_of(select(Invitation.id).where(Invitation.org_id == org_id))
             or any_of(select(Membership.id).where(Membership.org_id == org_id).offset(1))),
        Step("require_mfa", bool(org.mfa_required)),
    ]


def recent_admin_actions(db: Session, org_id: int, limit: int = RECENT_SHOWN) -> list[AuditEvent]:
    """The latest changes people made (no sign-ins), through the partial index of the same predicate."""
    return list(db.scalars(select(AuditEvent).where(AuditEvent.org_id == org_id, ADMIN_ACTIONS)
                           .order_by(AuditEvent.id.desc()).limit(limit)))
