"""/admin/apps: the organization's applications, where each is and who may reach it."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import login_required

from gateway.admin import bp
from gateway.admin.forms import AppForm, ConfirmForm
from gateway.apps import services as apps
from gateway.clock import now
from gateway.config import UnregisteredHosts
from gateway.db import get_session
from gateway.errors import BadRequest, Conflict
from gateway.groups import services as groups
from gateway.orgs import roles
from gateway.orgs.access import AdminScope
from gateway.web import admin_scope_of_request, settings, show_on


def _form(db, scope: AdminScope, **data) -> AppForm:
    """The app form, offering the organization's roles and groups."""
    return AppForm(**data).offer(roles.names(db, scope.org_id), [g.name for g in groups.list_groups(db, scope.org_id)])


def _settings(form: AppForm) -> dict:
    """The form's values as the service's keywords: one route a line."""
    return {"name": form.name.data, "routes": [line for line in (form.routes.data or "").splitlines() if line.strip()],
            "access": form.access.data, "roles_": form.roles.data or [], "groups_": form.groups.data or [],
            "requires_mfa": form.requires_mfa.data}


@bp.get("/apps")
@login_required
def apps_page():
    scope = admin_scope_of_request()
    return render_template("admin/apps.html", apps=apps.list_apps(get_session(), scope.org_id), scope=scope)


@bp.route("/apps/new", methods=["GET", "POST"])
@login_required
def create_app():
    scope = admin_scope_of_request()
    db = get_session()
    form = _form(db, scope)
    if form.validate_on_submit():
        try:
            app = apps.create_app(db, scope, **_settings(form), now=now())
        except (BadRequest, Conflict) as exc:
            show_on(form, exc, default="routes")
        else:
            flash(f"{app.name} is registered.", "notice")
            return redirect(url_for("admin.app_detail", app_id=app.id), 303)
    return render_template("admin/app_new.html", form=form, scope=scope), 400 if form.errors else 200


@bp.route("/apps/<int:app_id>", methods=["GET", "POST"])
@login_required
def app_detail(app_id: int):
    scope = admin_scope_of_request()
    db = get_session()
    current = apps.view(db, apps.get_app(db, scope.org_id, app_id))
    form = _form(db, scope, name=current.name, routes="\n".join(current.routes), access=current.access,
                 roles=current.roles, groups=current.groups, requires_mfa=current.requires_mfa)
    if form.validate_on_submit():
        try:
            apps.update_app(db, scope, app_id, **_settings(form), now=now())
        except (BadRequest, Conflict) as exc:
            show_on(form, exc, default="routes")
        else:
            flash("Saved. Requests are checked against the new settings at once.", "notice")
            return redirect(url_for("admin.app_detail", app_id=app_id), 303)
    return render_template("admin/app_detail.html", app=current, form=form, scope=scope,
                           reachers=apps.reachers(db, scope.org_id, app_id)), 400 if form.errors else 200


@bp.route("/apps/<int:app_id>/delete", methods=["GET", "POST"])
@login_required
def delete_app(app_id: int):
    scope = admin_scope_of_request()
    form = ConfirmForm()
    db = get_session()
    app = apps.view(db, apps.get_app(db, scope.org_id, app_id))
    if form.validate_on_submit():
        apps.delete_app(db, scope, app_id, now=now())
        flash(f"{app.name} is deleted; its hosts are free to register again.", "notice")
        return redirect(url_for("admin.apps_page"), 303)
    # What /auth/verify answers for the freed hosts: what it answers for any host no app claims.
    left_open = settings().unregistered_hosts == UnregisteredHosts.ALLOW
    return render_template("admin/app_delete.html", app=app, form=form, scope=scope, left_open=left_open)
