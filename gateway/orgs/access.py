"""Who may administer which organization: the one check both the console and the API use."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.actor import Actor
from gateway.errors import Forbidden, NotFound
from gateway.orgs.models import Membership, Role
from gateway.params import row_id
from gateway.sessions.services import SessionContext


@dataclass(frozen=True)
class AdminScope:
    """An admin acting inside one organization: every query of theirs is limited to it."""

    org_id: int
    org_slug: str
    org_name: str
    actor: Actor
    can_change: bool = True  # False for an auditor: reads only


def admin_scope(ctx: SessionContext, actor: Actor, slug: str | None = None, *, reading: bool = False) -> AdminScope:
    """The organization the session may administer, or (`reading`) read as an admin reads it.

    A session administers only the organization it is working in: asking for
    another slug answers 404, so nothing reveals whether that organization exists.
    An auditor reads everything an admin reads and changes nothing.

    :raise NotFound: the slug is not the session's organization.
    :raise Forbidden: the session's member is not an admin there (nor an auditor, for a read).
    """
    if ctx.org_id is None or (slug is not None and slug != ctx.org_slug):
        raise NotFound()
    if ctx.role == Role.ADMIN:
        return AdminScope(ctx.org_id, ctx.org_slug, ctx.org_name, actor)
    if ctx.role == Role.AUDITOR:
        if reading:
            return AdminScope(ctx.org_id, ctx.org_slug, ctx.org_name, actor, can_change=False)
        raise Forbidden("Auditors read; only admins of this organization can change it.", code="read_only")
    raise Forbidden("Only admins of this organization can do that.", code="admins_only")


def get_member(db: Session, scope: AdminScope, user_id, *, lock: bool = False) -> Membership:
    """The membership of `user_id` in the scope's organization.

    :raise NotFound: no such member here (including every member of other organizations).
    """
    user_id = row_id(user_id)
    if user_id is None:
        raise NotFound("There is no such member in this organization.", code="unknown_member")
    query = select(Membership).where(Membership.org_id == scope.org_id, Membership.user_id == user_id)
    if lock:
        query = query.with_for_update(of=Membership)
    membership = db.scalar(query)
    if membership is None:
        raise NotFound("There is no such member in this organization.", code="unknown_member")
    return membership
