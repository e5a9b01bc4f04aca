"""/admin/groups: groups of members, filled by hand or from the IdP, that app rules can name."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import login_required

from gateway.admin import bp
from gateway.admin.forms import ActionForm, ConfirmForm, GroupForm, GroupMemberForm
from gateway.clock import now
from gateway.db import get_session
from gateway.errors import BadRequest, Conflict
from gateway.groups import services as groups
from gateway.orgs import roles, team
from gateway.orgs.access import AdminScope
from gateway.web import admin_scope_of_request, show_on

PICKABLE = 200  # members offered in the "add a member" list (team.list_members' largest page)


def _member_form(db, scope: AdminScope, members) -> GroupMemberForm:
    """The "add a member" form, offering the organization's active members who are not in the group."""
    form = GroupMemberForm()
    inside = {m.user_id for m in members}
    page = team.list_members(db, scope, status="active", limit=PICKABLE)
    form.user_id.choices = [(str(m.user_id), f"{m.name} ({m.email})") for m in sorted(page.members, key=lambda m: m.name)
                            if m.user_id not in inside]
    return form


@bp.route("/groups", methods=["GET", "POST"])
@login_required
def groups_page():
    scope = admin_scope_of_request()
    db = get_session()
    form = GroupForm().offer(roles.names(db, scope.org_id))
    if form.validate_on_submit():
        try:
            group = groups.create_group(db, scope, form.name.data, description=form.description.data,
                                        sso_name=form.sso_name.data, role=form.role.data or None, now=now())
        except (BadRequest, Conflict) as exc:
            show_on(form, exc, default="name")
        else:
            flash(f"Group {group.name} is created. Add its members here.", "notice")
            return redirect(url_for("admin.group_detail", group_id=group.id), 303)
    return render_template("admin/groups.html", groups=groups.list_groups(db, scope.org_id), form=form,
                           scope=scope), 400 if form.errors else 200


@bp.route("/groups/<int:group_id>", methods=["GET", "POST"])
@login_required
def group_detail(group_id: int):
    scope = admin_scope_of_request()
    db = get_session()
    group = groups.get_group(db, scope.org_id, group_id)
    name = group.name  # as saved: the page's title, whatever the form says
    form = GroupForm(obj=group).offer(roles.names(db, scope.org_id))
    if form.validate_on_submit():
        # A role that would demote the last active admin is LastAdmin (409): not caught here, so the
        # error page answers and the whole change is undone.
        try:
            groups.update_group(db, scope, group_id, name=form.name.data, description=form.description.data,
                                sso_name=form.sso_name.data, role=form.role.data or None, now=now())
        except (BadRequest, Conflict) as exc:
            show_on(form, exc, default="name")
        else:
            flash("Saved.", "notice")
            return redirect(url_for("admin.group_detail", group_id=group_id), 303)
    members = groups.members_of(db, scope.org_id, group_id)
    return render_template("admin/group_detail.html", group_id=group_id, name=name, form=form, members=members,
                           member_form=_member_form(db, scope, members), action_form=ActionForm(),
                           scope=scope), 400 if form.errors else 200


@bp.post("/groups/<int:group_id>/members")
@login_required
def add_group_member(group_id: int):
    scope = admin_scope_of_request()
    form = GroupMemberForm()
    if not form.validate_on_submit():
        raise BadRequest("The form was incomplete.")
    added = groups.add_member(get_session(), scope, group_id, form.user_id.data, now=now())
    flash("Added to the group." if added else "They were in the group already.", "notice")
    return redirect(url_for("admin.group_detail", group_id=group_id), 303)


@bp.post("/groups/<int:group_id>/members/<int:user_id>/remove")
@login_required
def remove_group_member(group_id: int, user_id: int):
    scope = admin_scope_of_request()
    if not ActionForm().validate_on_submit():
        raise BadRequest("The form was incomplete.")
    removed = groups.remove_member(get_session(), scope, group_id, user_id, now=now())
    flash("Removed from the group." if removed else "They were not in the group.", "notice")
    return redirect(url_for("admin.group_detail", group_id=group_id), 303)


@bp.route("/groups/<int:group_id>/delete", methods=["GET", "POST"])
@login_required
def delete_group(group_id: int):
    scope = admin_scope_of_request()
    form = ConfirmForm()
    db = get_session()
    group = groups.get_group(db, scope.org_id, group_id)
    name = group.name
    if form.validate_on_submit():
        groups.delete_group(db, scope, group_id, now=now())
        flash(f"Group {name} is deleted.", "notice")
        return redirect(url_for("admin.groups_page"), 303)
    members = len(groups.members_of(db, scope.org_id, group_id))
    return render_template("admin/group_delete.html", group=group, members=members, form=form, scope=scope)
