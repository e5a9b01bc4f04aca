"""/api/v1/orgs/<slug>/users: the same services as /admin/users, over JSON."""

from __future__ import annotations

from gateway.api import body_as, bp, operation, query_as, scope_for
from gateway.api.schemas import (App, AppReach, Deactivated, MemberAccess, NewUser, RoleChange, TeamQuery, User,
                                 UserAnswer, UserDeleted, UserPage, UserWithPassword)
from gateway.apps import services as apps
from gateway.clock import now
from gateway.db import get_session
from gateway.orgs import lifecycle, members, team
from gateway.web import passwords

_USER = {"user_id": "/user/id"}


def _member(scope, user_id) -> User:
    return User.of(team.member_detail(get_session(), scope, user_id))


@bp.get("/orgs/<slug>/users")
@operation(UserPage, query=TeamQuery)
def list_users(slug: str):
    """Team list: filters, search, keyset paging."""
    scope = scope_for(slug)
    query = query_as(TeamQuery)
    page = team.list_members(get_session(), scope, status=query.status, role=query.role, search=query.q,
                             after=query.after, limit=query.limit)
    return UserPage(users=[User.of(m) for m in page.members], next_cursor=page.next_cursor)


@bp.post("/orgs/<slug>/users")
@operation(UserWithPassword, status=201, body=NewUser, refusals=(409,), links=_USER)
def create_user(slug: str):
    """Create a user; answers their temporary password once.

    400 `invalid_email`, `invalid_name`, `unknown_role` (a role name the organization has none of);
    409 `already_member`, or `email_taken` for an address with an account elsewhere (invite it instead).
    """
    scope = scope_for(slug)
    body = body_as(NewUser)
    user, temporary = members.create_member(get_session(), scope, email=body.email, name=body.name, role=body.role,
                                            passwords=passwords(), now=now())
    get_session().flush()
    return UserWithPassword(user=_member(scope, user.id), temporary_password=temporary)


@bp.get("/orgs/<slug>/users/<user_id>")
@operation(UserAnswer)
def get_user(slug: str, user_id: str):
    """One member."""
    return UserAnswer(user=_member(scope_for(slug), user_id))


@bp.patch("/orgs/<slug>/users/<user_id>")
@operation(UserAnswer, body=RoleChange, refusals=(409,))
def update_user(slug: str, user_id: str):
    """Change a member's role (the one thing that changes here): a built-in one or one of the organization's.

    400 `unknown_role` (a role name the organization has none of); 409 `last_admin` for the last active admin.
    """
    scope = scope_for(slug)
    body = body_as(RoleChange)  # only the role can be changed
    lifecycle.change_role(get_session(), scope, user_id, body.role, now=now())
    return UserAnswer(user=_member(scope, user_id))


@bp.get("/orgs/<slug>/users/<user_id>/access")
@operation(MemberAccess)
def user_access(slug: str, user_id: str):
    """Which applications the member reaches, and why (an inactive member reaches none)."""
    reach = apps.reach_of_member(get_session(), scope_for(slug).org_id, user_id)
    return MemberAccess(apps=[AppReach(app=App.of(r.app), reaches=r.why is not None, why=r.why) for r in reach])


@bp.post("/orgs/<slug>/users/<user_id>/deactivate")
@operation(Deactivated, refusals=(409,))
def deactivate_user(slug: str, user_id: str):
    """Deactivate a member; their sessions end at once.

    409 `self_deactivation`, `last_admin`.
    """
    scope = scope_for(slug)
    ended = lifecycle.deactivate(get_session(), scope, user_id, now=now())
    return Deactivated(user=_member(scope, user_id), sessions_ended=ended)


@bp.post("/orgs/<slug>/users/<user_id>/reactivate")
@operation(UserAnswer)
def reactivate_user(slug: str, user_id: str):
    """Reactivate a member."""
    scope = scope_for(slug)
    lifecycle.reactivate(get_session(), scope, user_id, now=now())
    return UserAnswer(user=_member(scope, user_id))


@bp.post("/orgs/<slug>/users/<user_id>/reset-password")
@operation(UserWithPassword, refusals=(400, 409))
def reset_user_password(slug: str, user_id: str):
    """New temporary password, answered once; their sessions end.

    400 `sso_only` (no password to reset), `self_reset` (change your own on the password page);
    409 `member_elsewhere` for an account other organizations hold too.
    """
    scope = scope_for(slug)
    temporary = members.reset_password(get_session(), scope, user_id, passwords=passwords(), now=now())
    return UserWithPassword(user=_member(scope, user_id), temporary_password=temporary)


@bp.delete("/orgs/<slug>/users/<user_id>")
@operation(UserDeleted, refusals=(409,))
def delete_user(slug: str, user_id: str):
    """Remove a member from the organization (the account too, when no other organization holds it).

    409 `user_has_sessions` while they are signed in (deactivate them first), `last_admin`.
    """
    scope = scope_for(slug)
    account_deleted = lifecycle.delete(get_session(), scope, user_id, now=now())
    return UserDeleted(deleted=True, account_deleted=account_deleted)
