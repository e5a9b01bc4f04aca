"""The overview of one organization: sign-ins by day, its people, dormant accounts, next steps.

Sign-in figures come from the daily roll-ups (gateway.overview.rollups), never from the audit log,
so they cost the same however long the log grows. The figures over all the members (how many are
active, dormant, with a second factor; distinct people over 30 days) read every membership: they
are worked out at most once a minute per organization and kept in a snapshot row that every
instance shares (`Snapshot`), so the page costs the same at 100 members as at 100,000 but for one
request a minute. The dormant accounts listed are checked again on every read, so one just
deactivated leaves the list at once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
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
from gateway.overview.models import ActiveDay, PeopleDay, SigninDay, Snapshot
from gateway.overview.rollups import METHODS, OUTCOMES, day_of
from gateway.sso.models import OidcIdpConnection, SamlConnection

DAYS = 30
DORMANT_DAYS = 90  # no sign-in for this long: dormant (?dormant_days= changes it, 1 to 3650)
DORMANT_SHOWN = 20
RECENT_SHOWN = 10
SNAPSHOT_SECONDS = 60


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
    as_of: datetime | None = None  # when the figures over all members were worked out

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
    """Everything the overview shows, for the scope's organization (writes only its snapshot row)."""
    members = member_figures(db, scope.org_id, now=now, dormant_days=dormant_days)
    return Overview(
        days=sign_ins_by_day(db, scope.org_id, now=now),
        active_30_days=members.active_30_days,
        people=members.people,
        dormant=members.dormant,
        checklist=checklist(db, scope.org_id),
        recent=recent_admin_actions(db, scope.org_id),
        as_of=members.computed_at,
    )


@dataclass(frozen=True)
class MemberFigures:
    computed_at: datetime
    people: People
    active_30_days: int
    dormant: Dormant


def member_figures(db: Session, org_id: int, *, now: datetime, dormant_days: int) -> MemberFigures:
    """The figures over every member, from a snapshot at most SNAPSHOT_SECONDS old (made now if not)."""
    row = db.get(Snapshot, (org_id, dormant_days))
    if row is not None and timedelta(0) <= now - row.computed_at < timedelta(seconds=SNAPSHOT_SECONDS):
        figures = _from_json(row.computed_at, row.figures)
    else:
        figures = MemberFigures(now, people(db, org_id, now=now), active_people(db, org_id, now=now),
                                dormant(db, org_id, now=now, days=dormant_days))
        _keep(db, org_id, dormant_days, figures)
    return _still_dormant(db, org_id, figures)


def _keep(db: Session, org_id: int, dormant_days: int, figures: MemberFigures) -> None:
    # INSERT … ON CONFLICT DO UPDATE: two admins opening the page at once both write, neither fails.
    if db.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    values = {"org_id": org_id, "dormant_days": dormant_days, "computed_at": figures.computed_at,
              "figures": _to_json(figures)}
    statement = insert(Snapshot).values(**values)
    db.execute(statement.on_conflict_do_update(
        index_elements=[Snapshot.org_id, Snapshot.dormant_days],
        set_={"computed_at": statement.excluded.computed_at, "figures": statement.excluded.figures}))


def _to_json(figures: MemberFigures) -> dict:
    d = figures.dormant
    return {"people": asdict(figures.people), "active_30_days": figures.active_30_days,
            "dormant": {"days": d.days, "count": d.count, "members": [
                {"user_id": m.user_id, "name": m.name, "email": m.email, "joined_at": m.joined_at.isoformat(),
                 "last_sign_in": m.last_sign_in.isoformat() if m.last_sign_in else None} for m in d.members]}}


def _from_json(computed_at: datetime, data: dict) -> MemberFigures:
    d = data["dormant"]
    members = [DormantMember(m["user_id"], m["name"], m["email"],
                             datetime.fromisoformat(m["last_sign_in"]) if m["last_sign_in"] else None,
                             datetime.fromisoformat(m["joined_at"])) for m in d["members"]]
    return MemberFigures(computed_at, People(**data["people"]), data["active_30_days"],
                         Dormant(d["days"], d["count"], members))


def _still_dormant(db: Session, org_id: int, figures: MemberFigures) -> MemberFigures:
    """The listed dormant members who are still active members (one query by key, at most 20 rows)."""
    listed = [m.user_id for m in figures.dormant.members]
    if not listed:
        return figures
    active = set(db.scalars(select(Membership.user_id).where(
        Membership.org_id == org_id, Membership.user_id.in_(listed), Membership.status == MemberStatus.ACTIVE)))
    kept = [m for m in figures.dormant.members if m.user_id in active]
    if len(kept) == len(listed):
        return figures
    gone = len(listed) - len(kept)
    return replace(figures, dormant=Dormant(figures.dormant.days, max(figures.dormant.count - gone, 0), kept))


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
    active = dict(db.execute(select(PeopleDay.day, PeopleDay.count).where(PeopleDay.org_id == org_id,
                                                                          PeopleDay.day >= first)).all())
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
