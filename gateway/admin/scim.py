"""/admin/scim: the organization's SCIM tokens, for its IdP to provision members and groups."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import login_required

from gateway.admin import bp
from gateway.admin.forms import ActionForm, ScimTokenForm
from gateway.clock import now
from gateway.db import get_session
from gateway.errors import BadRequest
from gateway.scim import tokens
from gateway.web import admin_scope_of_request, settings, show_on


def _base_url(scope) -> str:
    return f"{settings().base_url}/scim/v2/{scope.org_slug}"


@bp.route("/scim", methods=["GET", "POST"])
@login_required
def scim_page():
    scope = admin_scope_of_request()
    db = get_session()
    form = ScimTokenForm()
    if form.validate_on_submit():
        try:
            row, token = tokens.create(db, scope.org_id, scope.actor, name=form.name.data, now=now())
        except BadRequest as exc:
            show_on(form, exc, default="name")
        else:
            # In this response only: never stored, flashed or put in a URL (pages are not cached, gateway.web).
            return render_template("admin/scim_token.html", name=row.name, token=token,
                                   base_url=_base_url(scope)), 201
    return render_template("admin/scim.html", tokens=tokens.list_tokens(db, scope.org_id), form=form,
                           revoke=ActionForm(), scope=scope, base_url=_base_url(scope)), 400 if form.errors else 200


@bp.post("/scim/<int:token_id>/revoke")
@login_required
def scim_token_revoke(token_id: int):
    scope = admin_scope_of_request()
    form = ActionForm()
    if form.validate_on_submit():
        tokens.revoke(get_session(), scope.org_id, scope.actor, token_id, now=now())
        flash("The token is revoked: the IdP's next request with it is refused.", "notice")
    return redirect(url_for("admin.scim_page"), 303)
