"""/admin/invitations: invite by magic link, see who is pending, withdraw an invitation."""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, url_for
from flask_login import login_required

from gateway.admin import bp
from gateway.admin.forms import ConfirmForm
from gateway.clock import now
from gateway.db import get_session
from gateway.errors import BadRequest, Conflict
from gateway.invitations import services as invitations
from gateway.invitations.forms import InviteForm
from gateway.web import admin_scope_of_request, settings, show_on


def _scope():
    return admin_scope_of_request()


def _list_page(form: InviteForm, status: int = 200):
    scope = _scope()
    pending = invitations.list_pending(get_session(), scope)
    return render_template("admin/invitations.html", form=form, pending=pending, now=now(),
                           smtp=bool(settings().smtp_url), scope=scope), status


@bp.route("/invitations", methods=["GET", "POST"])
@login_required
def invitations_page():
    scope = _scope()
    form = InviteForm()
    if form.validate_on_submit():
        try:
            issued = invitations.issue(get_session(), scope, email=form.email.data, role=form.role.data,
                                       send_mail=form.send_mail.data, settings=settings(), now=now())
        except (BadRequest, Conflict) as exc:
            show_on(form, exc, default="email")
        else:
            # The link appears in this response only: never send it onwards as a Referer (nor cached: gateway.web).
            response = make_response(render_template(
                "admin/invitation_link.html", invitation=issued.invitation,
                link=invitations.magic_link(settings(), issued.code), mailed=form.send_mail.data), 201)
            response.headers["Referrer-Policy"] = "no-referrer"
            return response
    return _list_page(form, 400 if form.errors else 200)


@bp.route("/invitations/<int:invitation_id>/delete", methods=["GET", "POST"])
@login_required
def delete_invitation(invitation_id: int):
    scope = _scope()
    form = ConfirmForm()
    db = get_session()
    if form.validate_on_submit():
        invitations.revoke(db, scope, invitation_id, now=now())
        flash("Invitation deleted. Its link no longer works.", "notice")
        return redirect(url_for("admin.invitations_page"), 303)
    invitation = invitations.get(db, scope, invitation_id)
    return render_template("admin/invitation_delete.html", invitation=invitation, form=form, scope=scope)
