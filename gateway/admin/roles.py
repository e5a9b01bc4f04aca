"""/admin/roles: the built-in roles, and the organization's own that apps and rules can name."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import login_required

from gateway.admin import bp
from gateway.admin.forms import ConfirmForm, NewRoleForm, RoleDescriptionForm
from gateway.clock import now
from gateway.db import get_session
from gateway.errors import BadRequest, Conflict
from gateway.orgs import roles
from gateway.web import admin_scope_of_request, show_on


def _page(scope, form: NewRoleForm, edited: str | None = None, edit_form: RoleDescriptionForm | None = None):
    """The roles page; `edit_form` (with its errors) stands in for the role `edited`'s own form."""
    listed = roles.list_roles(get_session(), scope.org_id)
    edit_forms = {role.name: edit_form if role.name == edited else RoleDescriptionForm(description=role.description,
                                                                                       formdata=None)
                  for role in listed if not role.built_in}
    failed = form.errors or (edit_form is not None and edit_form.errors)
    return render_template("admin/roles.html", roles=listed, form=form, edit_forms=edit_forms,
                           scope=scope), 400 if failed else 200


@bp.route("/roles", methods=["GET", "POST"])
@login_required
def roles_page():
    scope = admin_scope_of_request()
    form = NewRoleForm()
    if form.validate_on_submit():
        try:
            role = roles.create_role(get_session(), scope, form.name.data, form.description.data, now=now())
        except (BadRequest, Conflict) as exc:
            show_on(form, exc, default="name")
        else:
            flash(f"Role {role.name} is created. Give it to members on their pages.", "notice")
            return redirect(url_for("admin.roles_page"), 303)
    return _page(scope, form)


@bp.post("/roles/<name>")
@login_required
def update_role(name: str):
    scope = admin_scope_of_request()
    form = RoleDescriptionForm()
    if not form.validate_on_submit():
        raise BadRequest("The form was incomplete.")
    try:
        roles.update_role(get_session(), scope, name, form.description.data, now=now())
    except BadRequest as exc:
        show_on(form, exc, default="description")
        return _page(scope, NewRoleForm(formdata=None), edited=name, edit_form=form)
    flash(f"Role {name} is saved.", "notice")
    return redirect(url_for("admin.roles_page"), 303)


@bp.route("/roles/<name>/delete", methods=["GET", "POST"])
@login_required
def delete_role(name: str):
    scope = admin_scope_of_request()
    form = ConfirmForm()
    db = get_session()
    role = roles.get_role(db, scope.org_id, name)
    if form.validate_on_submit():
        moved = roles.delete_role(db, scope, role.name, now=now())
        flash(f"Role {role.name} is deleted. Members who had it are users now ({moved}).", "notice")
        return redirect(url_for("admin.roles_page"), 303)
    members = next(r.members for r in roles.list_roles(db, scope.org_id) if r.name == role.name)
    return render_template("admin/roles_delete.html", role=role, members=members, form=form, scope=scope)
