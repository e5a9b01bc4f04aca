"""/admin/users: the team list and everything an admin does to a member."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import login_required

from gateway.admin import back_to_member, bp
from gateway.admin.forms import (
    ActionForm,
    ConfirmForm,
    CreateUserForm,
    RequirementForm,
    RoleForm,
)
from gateway.apps import services as apps
from gateway.clock import now
from gateway.db import get_session
from gateway.errors import BadRequest, Conflict, GatewayError
from gateway.groups import services as groups
from gateway.invitations import services as invitations
from gateway.mfa import services as mfa
from gateway.orgs import lifecycle, members, roles, team
from gateway.orgs.access import AdminScope, get_member
from gateway.sessions import services as sessions
from gateway.web import admin_scope_of_request, passwords, show_on, undo


def _scope() -> AdminScope:
    return admin_scope_of_request()


def _one_time_secret_page(template: str, status: int = 200, **context):
    # The temporary password appears in this response only: never cached (like every page of
    # ours, gateway.web), never shown again.
    return render_template(template, **context), status


@bp.get("/users")
@login_required
def users():
    scope = _scope()
    args = request.args
    db = get_session()
    page = team.list_members(db, scope, status=args.get("status"), role=args.get("role"),
                             search=args.get("q"), after=args.get("after"))
    invited = []
    if args.get("status") in (None, "", "invited") and not args.get("after"):
        invited = invitations.list_pending(db, scope, role=args.get("role"), search=args.get("q"))
    factors = mfa.factors_of_members(db, [m.user_id for m in page.members])
    requirement = RequirementForm(mfa_required=mfa.requirement(db, scope.org_id))
    return render_template("admin/users.html", page=page, scope=scope, filters=args, invited=invited, now=now(),
                           factors=factors, requirement=requirement)


@bp.route("/users/new", methods=["GET", "POST"])
@login_required
def create_user():
    scope = _scope()
    form = CreateUserForm()
    if form.validate_on_submit():
        try:
            user, temporary = members.create_member(
                get_session(), scope, email=form.email.data, name=form.name.data, role=form.role.data,
                passwords=passwords(), now=now())
        except (BadRequest, Conflict) as exc:
            show_on(form, exc, default="email")
        else:
            return _one_time_secret_page("admin/temporary_password.html", 201, user=user,
                                         temporary=temporary, created=True)
    return render_template("admin/user_new.html", form=form, scope=scope), 400 if form.errors else 200


@bp.get("/users/<int:user_id>")
@login_required
def user_detail(user_id: int):
    scope = _scope()
    db = get_session()
    member = team.member_detail(db, scope, user_id)
    membership = get_member(db, scope, user_id)
    group_ids = {group.name: group.id for group in groups.list_groups(db, scope.org_id)}
    return render_template("admin/user_detail.html", member=member, scope=scope, role_name=membership.role_name,
                           role_form=RoleForm(role=membership.role_name).offer(roles.names(db, scope.org_id)),
                           action_form=ActionForm(), is_self=member.user_id == scope.actor.user_id,
                           factors=mfa.factors_of(db, user_id),
                           groups=[(name, group_ids[name]) for name in groups.names_of(db, membership.id)],
                           reach=apps.reach_of_member(db, scope.org_id, user_id))


@bp.post("/users/<int:user_id>/role")
@login_required
def change_role(user_id: int):
    scope = _scope()
    form = RoleForm()
    if not form.validate_on_submit():
        raise BadRequest("The form was incomplete.")
    return back_to_member(user_id, lambda: lifecycle.change_role(get_session(), scope, user_id, form.role.data,
                                                                now=now()), "Role changed.")


@bp.route("/users/<int:user_id>/deactivate", methods=["GET", "POST"])
@login_required
def deactivate(user_id: int):
    scope = _scope()
    form = ConfirmForm()
    back = "overview" if request.values.get("back") == "overview" else None  # from the dormant accounts
    if form.validate_on_submit():
        return back_to_member(user_id, lambda: lifecycle.deactivate(get_session(), scope, user_id, now=now()),
                             "Deactivated. Their sessions for this organization have ended.",
                             to=url_for("admin.overview") if back else None)
    db = get_session()
    member = team.member_detail(db, scope, user_id)
    active = sessions.count_active_for(db, user_id, now=now(), org_id=scope.org_id)
    return render_template("admin/confirm.html", member=member, form=form, action="deactivate",
                           active_sessions=active, scope=scope, back=back)


@bp.post("/users/<int:user_id>/reactivate")
@login_required
def reactivate(user_id: int):
    scope = _scope()
    if not ActionForm().validate_on_submit():
        raise BadRequest("The form was incomplete.")
    return back_to_member(user_id, lambda: lifecycle.reactivate(get_session(), scope, user_id, now=now()),
                         "Reactivated. They can sign in again.")


@bp.post("/users/<int:user_id>/reset-password")
@login_required
def reset_password(user_id: int):
    scope = _scope()
    if not ActionForm().validate_on_submit():
        raise BadRequest("The form was incomplete.")
    db = get_session()
    temporary = members.reset_password(db, scope, user_id, passwords=passwords(), now=now())
    member = team.member_detail(db, scope, user_id)
    return _one_time_secret_page("admin/temporary_password.html", user=member, temporary=temporary,
                                 created=False)


@bp.route("/users/<int:user_id>/delete", methods=["GET", "POST"])
@login_required
def delete(user_id: int):
    scope = _scope()
    form = ConfirmForm()
    db = get_session()
    if form.validate_on_submit():
        member = team.member_detail(db, scope, user_id)
        try:
            lifecycle.delete(db, scope, user_id, expected_version=form.version.data or "", now=now())
        except GatewayError as exc:
            undo(exc)
            if exc.status == 404:
                raise
            flash(exc.message, "error")
            return redirect(url_for("admin.user_detail", user_id=user_id), 303)
        flash(f"{member.name} ({member.email}) was removed from the organization.", "notice")
        return redirect(url_for("admin.users"), 303)
    member = team.member_detail(db, scope, user_id)
    active = sessions.count_active_for(db, user_id, now=now(), org_id=scope.org_id)
    form.version.data = str(member.version)
    return render_template("admin/confirm.html", member=member, form=form, action="delete",
                           active_sessions=active, scope=scope)
