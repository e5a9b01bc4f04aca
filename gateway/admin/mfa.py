"""/admin: an organization's second-factor requirement, and resetting a member's factors."""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask_login import login_required

from gateway.admin import back_to_member, bp
from gateway.admin.forms import ActionForm, RequirementForm
from gateway.clock import now
from gateway.db import get_session
from gateway.errors import BadRequest
from gateway.mfa import services as mfa
from gateway.web import admin_scope_of_request


@bp.post("/mfa")
@login_required
def mfa_requirement():
    scope = admin_scope_of_request()
    form = RequirementForm()
    if not form.validate_on_submit():
        raise BadRequest("The form was incomplete.")
    required = mfa.set_requirement(get_session(), scope, mfa_required=form.mfa_required.data, now=now())
    flash("Members must add a second factor at their next sign-in." if required
          else "A second factor is up to each member.", "notice")
    return redirect(url_for("admin.users"), 303)


@bp.post("/users/<int:user_id>/reset-mfa")
@login_required
def reset_mfa(user_id: int):
    scope = admin_scope_of_request()
    if not ActionForm().validate_on_submit():
        raise BadRequest("The form was incomplete.")
    return back_to_member(user_id, lambda: mfa.reset_factors(get_session(), scope, user_id, now=now()),
                          lambda ended: f"Their second factors are removed and {ended} session(s) ended; "
                                        "they were told by mail.")
