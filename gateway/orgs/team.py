"""The team list: members with filters, search and keyset pagination."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import any_, func, or_, select
from sqlalchemy.orm import Session

from gateway.accounts.models import User
from gateway.errors import BadRequest
from gateway.orgs.access import AdminScope
from gateway.orgs.models import MemberStatus, Membership, Role
from gateway.params import cursor

PAGE_SIZE = 50


@dataclass(frozen=True)
class TeamMember:
    user_id: int
    name: str
    email: str
    role: str
    status: str
    sign_in_method: str  # "password" or "sso"
    joined_at: datetime
    last_login_at: datetime | None
    last_seen_at: datetime | None
    version: int


@dataclass(frozen=True)
class TeamPage:
    members: list[TeamMember]
    next_cursor: int | None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def parse_filters(status: str | None, role: str | None) -> tuple[MemberStatus | None, Role | None]:
    """:raise BadRequest: for a status or role that does not exist."""
    try:
        return (MemberStatus(status) if status else None, Role(role) if role else None)
    except ValueError:
        raise BadRequest("Filter by status active|inactive|invited and role admin|user.",
                         code="bad_filter") from None


def list_members(
    db: Session, scope: AdminScope, *, status: str | None = None, role: str | None = None,
    search: str | None = None, after: int | str | None = None, limit: int = PAGE_SIZE,
) -> TeamPage:
    """One page of members, newest first.

    Keyset pagination on the membership id (`after` is the last id of the
    previous page), so page 2,000 costs what page 1 costs; an index on
    (org_id, id) serves it.
    """
    if status == "invited":  # invited people are not members yet: see invitations.list_pending
        return TeamPage([], None)
    status_filter, role_filter = parse_filters(status, role)
    limit = max(1, min(int(limit), 200))
    query = (
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.org_id == scope.org_id)
        .order_by(Membership.id.desc())
        .limit(limit + 1)
    )
    try:
        after = cursor(after)
    except ValueError:
        raise BadRequest("That page cursor is not valid.", code="bad_cursor") from None
    if after is not None:
        query = query.where(Membership.id < after)
    if status_filter:
        query = query.where(Membership.status == status_filter)
    if role_filter:
        query = query.where(Membership.role == role_filter)
    if search and search.strip():
        query = _searching(db, query, search.strip().lower()[:100])
    rows = db.execute(query).all()
    members = [_member(m, u) for m, u in rows[:limit]]
    next_cursor = rows[limit - 1][0].id if len(rows) > limit else None
    return TeamPage(members, next_cursor)


def _searching(db: Session, query, text: str):
    """Members whose name or address holds `text`.

    On PostgreSQL the matching accounts are found first, through the trigram indexes on users'
    names and emails (pg_trgm: `LIKE '%…%'` and `ILIKE` use them), then joined to the organization
    and ordered. Written as one WHERE, the planner walks the organization's members newest first
    and tests each, expecting matches to come early; where they cluster among the oldest (a search
    for "Member 12" at 100,000 members) that reads nearly all of them. Materialized, the search
    costs what the matches cost: a term that most members match still reads most of them, either
    way (about 250 ms at 100,000 members for a term all of them match, where the walk found its first
    page at once). Under three characters trigrams cannot narrow anything: the walk is as good.
    """
    pattern = f"%{_escape_like(text)}%"
    matches = or_(User.email.like(pattern, escape="\\"), User.name.ilike(pattern, escape="\\"))
    if db.get_bind().dialect.name != "postgresql" or len(text) < 3:
        return query.where(matches)
    found = select(User.id).where(matches).cte("found").prefix_with("MATERIALIZED")
    # `= ANY(ARRAY(…))` rather than a join: the driver prepares statements it runs often, and in
    # PostgreSQL's generic plan for them (the organization a parameter) a join hashes all of the
    # memberships; the array is looked up member by member through the user_id index.
    return query.add_cte(found).where(
        Membership.user_id == any_(func.array(select(found.c.id).scalar_subquery())))


def _member(membership: Membership, user: User) -> TeamMember:
    return TeamMember(
        user_id=user.id, name=user.name, email=user.email, role=membership.role_name,
        status=str(membership.status), sign_in_method="sso" if user.sso_only else "password",
        joined_at=membership.joined_at, last_login_at=user.last_login_at, last_seen_at=user.last_seen_at,
        version=membership.version,
    )


def member_detail(db: Session, scope: AdminScope, user_id) -> TeamMember:
    from gateway.orgs.access import get_member

    membership = get_member(db, scope, user_id)
    return _member(membership, membership.user)
