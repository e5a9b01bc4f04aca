"""/invite/<code>: the magic link. Confirm the address, then register, sign in, or join."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from gateway.accounts.services import SignIn
from gateway.clock import now
from gateway.db import get_session
from gateway.errors import BadRequest, Conflict, InvalidCredentials, PolicyViolation
from gateway.invitations import services
from gateway.invitations.forms import RedeemForm
from gateway.limits import INVITATION_PER_ADDRESS, WRONG_PASSWORD_PER_ACCOUNT, throttled
from gateway.orgs.models import Organization
from gateway.sessions.cookies import set_session_cookie
from gateway.sessions.login import step_page
from gateway.web import actor_from_request, passwords, settings, show_on

bp = Blueprint("invitations", __name__)


@bp.after_request
def _no_referrer(response):
    # The link's code must not leak to other sites through the Referer header.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _page(form: RedeemForm, invitation, status: int = 200, **context):
    org = get_session().get(Organization, invitation.org_id)
    return render_template("invitations/redeem.html", form=form, org=org, role=str(invitation.role),
                           min_length=settings().password_min_length, **context), status


def _next_step(form: RedeemForm, invitation):
    """After the address is confirmed: join, sign in, or register."""
    db = get_session()
    if current_user.is_authenticated and current_user.ctx.email == invitation.email:
        form.step.data = "join"
    else:
        user = services.account_for(db, invitation)
        if user is not None and user.sso_only:
            return _page(form, invitation, sso_only=True)
        # An account SCIM created for this organization has no password yet: its holder sets one.
        waiting = user is not None and services.is_provisioned(db, user, invitation.org_id)
        form.step.data = "signin" if user is not None and not waiting else "register"
    return _page(form, invitation)


def _signed_in(result: SignIn):
    target = step_page(result.owes) if result.owes else url_for("accounts.account", joined=1)
    return set_session_cookie(redirect(target, 303), result.token, result.session.expires_at)


@bp.route("/invite/<code>", methods=["GET", "POST"])
@throttled(WRONG_PASSWORD_PER_ACCOUNT, INVITATION_PER_ADDRESS)
def redeem(code: str):
    db = get_session()
    invitation = services.find_valid(db, code, now=now())
    form = RedeemForm()
    if not form.validate_on_submit():
        return _page(form, invitation, 400 if form.errors else 200)
    step, common = form.step.data, dict(actor=actor_from_request(), now=now())
    try:
        services.confirm_email(invitation, form.email.data)
        if step == "email":
            return _next_step(form, invitation)
        if step == "register":
            return _signed_in(services.accept_as_new_user(
                db, code, email=form.email.data, name=form.name.data or "", password=form.password.data or "",
                passwords=passwords(), settings=settings(), **common))
        if step == "signin":
            return _signed_in(services.accept_with_password(
                db, code, email=form.email.data, password=form.password.data or "", passwords=passwords(),
                settings=settings(), **common))
        if step == "join" and current_user.is_authenticated:
            services.accept_signed_in(db, code, email=form.email.data, session=current_user.ctx, **common)
            return redirect(url_for("accounts.account", joined=1), 303)
        raise BadRequest("That step is not known; open the link again.")
    except services.EmailMismatch as exc:
        form.step.data = "email"
        show_on(form, exc, default="email")
        return _page(form, invitation, 403)
    except (PolicyViolation, InvalidCredentials, BadRequest, Conflict) as exc:
        show_on(form, exc, default="email")  # a wrong password keeps its audit row, nothing else
        return _page(form, invitation, 401 if isinstance(exc, InvalidCredentials) else 400)
