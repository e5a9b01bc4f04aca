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


def admin_scope(ctx: SessionContext, actor: Actor, slug: str | None = None) -> AdminScope:
    """The organization the session may administer.

    A session administers only the organization it is working in: asking for
    another slug answers 404, so nothing reveals whether that organization exists.

    :raise NotFound: the slug is not the session's organization.
    :raise Forbidden: the session's member is not an admin there.
    """
    if ctx.org_id is None or (slug is not None and slug != ctx.org_slug):
        raise NotFound()
    if ctx.role != Role.ADMIN:
        raise Forbidden("Only admins of this organization can do that.", code="admins_only")
    return AdminScope(ctx.org_id, ctx.org_slug, ctx.org_name, actor)


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
