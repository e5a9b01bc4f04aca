"""/api/v1/orgs/<slug>/users: the same services as /admin/users, over JSON."""

from __future__ import annotations

from flask import jsonify, request

from gateway.api import body_as, bp, created, scope_for
from gateway.api.schemas import NewUser, RoleChange, member_to_json
from gateway.clock import now
from gateway.db import get_session
from gateway.errors import BadRequest
from gateway.orgs import lifecycle, members, team
from gateway.web import passwords


def _member(scope, user_id):
    return member_to_json(team.member_detail(get_session(), scope, user_id))


@bp.get("/orgs/<slug>/users")
def list_users(slug: str):
    scope = scope_for(slug)
    args = request.args
    try:
        limit = int(args.get("limit", team.PAGE_SIZE))
    except ValueError:
        raise BadRequest("`limit` must be a number.", code="bad_filter") from None
    page = team.list_members(get_session(), scope, status=args.get("status"), role=args.get("role"),
                             search=args.get("q"), after=args.get("after"), limit=limit)
    return jsonify(users=[member_to_json(m) for m in page.members], next_cursor=page.next_cursor)


@bp.post("/orgs/<slug>/users")
def create_user(slug: str):
    scope = scope_for(slug)
    body = body_as(NewUser)
    user, temporary = members.create_member(get_session(), scope, email=body.email, name=body.name, role=body.role,
                                            passwords=passwords(), now=now())
    get_session().flush()
    return created(user=_member(scope, user.id), temporary_password=temporary)


@bp.get("/orgs/<slug>/users/<user_id>")
def get_user(slug: str, user_id: str):
    return jsonify(user=_member(scope_for(slug), user_id))


@bp.patch("/orgs/<slug>/users/<user_id>")
def update_user(slug: str, user_id: str):
    scope = scope_for(slug)
    body = body_as(RoleChange)  # only the role can be changed
    lifecycle.change_role(get_session(), scope, user_id, body.role, now=now())
    return jsonify(user=_member(scope, user_id))


@bp.post("/orgs/<slug>/users/<user_id>/deactivate")
def deactivate_user(slug: str, user_id: str):
    scope = scope_for(slug)
    ended = lifecycle.deactivate(get_session(), scope, user_id, now=now())
    return jsonify(user=_member(scope, user_id), sessions_ended=ended)


@bp.post("/orgs/<slug>/users/<user_id>/reactivate")
def reactivate_user(slug: str, user_id: str):
    scope = scope_for(slug)
    lifecycle.reactivate(get_session(), scope, user_id, now=now())
    return jsonify(user=_member(scope, user_id))


@bp.post("/orgs/<slug>/users/<user_id>/reset-password")
def reset_user_password(slug: str, user_id: str):
    scope = scope_for(slug)
    temporary = members.reset_password(get_session(), scope, user_id, passwords=passwords(), now=now())
    return jsonify(user=_member(scope, user_id), temporary_password=temporary)


@bp.delete("/orgs/<slug>/users/<user_id>")
def delete_user(slug: str, user_id: str):
    scope = scope_for(slug)
    account_deleted = lifecycle.delete(get_session(), scope, user_id, now=now())
    return jsonify(deleted=True, account_deleted=account_deleted)
