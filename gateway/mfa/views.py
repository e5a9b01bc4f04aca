"""/login/verify (the second step of a sign-in) and /account/security (second factors)."""

from __future__ import annotations

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from gateway.clock import now
from gateway.db import get_session
from gateway.errors import BadRequest, GatewayError
from gateway.limits import SECOND_FACTOR_PER_ACCOUNT, throttled
from gateway.mfa import services, totp
from gateway.mfa.forms import ActionForm, CodeForm
from gateway.mfa.policy import MFA, Owed
from gateway.redirects import account_page, safe_next, safe_redirect_target
from gateway.sessions.cookies import set_session_cookie
from gateway.sessions.login import step_page
from gateway.web import actor_from_request, settings, show_on

bp = Blueprint("mfa", __name__)


def _signed_in(sign_in, next_url):
    target = step_page(sign_in.owes, next_url) if sign_in.owes else safe_redirect_target(next_url, account_page)
    return set_session_cookie(redirect(target, 303), sign_in.token, sign_in.session.expires_at)


@bp.route("/login/verify", methods=["GET", "POST"])
@throttled(SECOND_FACTOR_PER_ACCOUNT)
@login_required
def verify():
    ctx, db = current_user.ctx, get_session()
    next_url = safe_next(request.values.get("next"))
    if MFA in ctx.amr:  # nothing left to prove (a step-up that was taken already)
        return redirect(safe_redirect_target(next_url, account_page), 303)
    form = CodeForm(next=next_url or "")
    status = 200
    if form.validate_on_submit():
        try:
            result = services.second_step(db, ctx.session_id, form.code.data, actor=actor_from_request(),
                                          settings=settings(), now=now())
        except GatewayError as exc:
            show_on(form, exc, default="code")
            status = exc.status
        else:
            return _signed_in(result, next_url)
    elif form.errors:
        status = 400
    return render_template("mfa/verify.html", form=form, factors=services.factors_of(db, ctx.user_id),
                           next=next_url, owed=ctx.owes == Owed.SECOND_FACTOR), status


@bp.get("/account/security")
@login_required
def security():
    ctx, db = current_user.ctx, get_session()
    enrolment = totp.pending(db, ctx.user_id, ctx.email, certs_dir=settings().certs_dir)
    return render_template(
        "mfa/security.html", factors=services.factors_of(db, ctx.user_id), enrolment=enrolment,
        code_form=CodeForm(next=safe_next(request.args.get("next")) or ""), action=ActionForm(),
        required=ctx.owes == Owed.FACTOR_ENROLLMENT, sso=_is_sso(ctx), next=safe_next(request.args.get("next")))


def _is_sso(ctx) -> bool:
    from gateway.sessions.models import UserSession

    return get_session().get(UserSession, ctx.session_id).sso_org_id is not None


@bp.post("/account/security/totp")
@login_required
def add_totp():
    if not ActionForm().validate_on_submit():
        raise BadRequest("The form expired. Try again.", code="bad_request")
    ctx = current_user.ctx
    services.start_totp(get_session(), ctx.session_id, settings=settings(), now=now())
    return redirect(url_for("mfa.security", next=safe_next(request.args.get("next"))), 303)


@bp.post("/account/security/totp/confirm")
@login_required
def confirm_totp():
    ctx, db = current_user.ctx, get_session()
    form = CodeForm()
    next_url = safe_next(form.next.data)
    if form.validate_on_submit():
        try:
            added = services.confirm_totp(db, ctx.session_id, form.code.data, actor=actor_from_request(),
                                          settings=settings(), now=now())
        except GatewayError as exc:
            show_on(form, exc, default="code")
        else:
            page = render_template("mfa/recovery_codes.html", codes=added.recovery_codes, added=True,
                                   next=step_page(added.sign_in.owes, next_url) if added.sign_in.owes
                                   else next_url or url_for("mfa.security"))
            return set_session_cookie(make_response(page), added.sign_in.token, added.sign_in.session.expires_at)
    enrolment = totp.pending(db, ctx.user_id, ctx.email, certs_dir=settings().certs_dir)
    return render_template("mfa/security.html", factors=services.factors_of(db, ctx.user_id), enrolment=enrolment,
                           code_form=form, action=ActionForm(), required=ctx.owes == Owed.FACTOR_ENROLLMENT,
                           sso=False, next=next_url), 400


@bp.post("/account/security/totp/remove")
@login_required
def remove_totp():
    if not ActionForm().validate_on_submit():
        raise BadRequest("The form expired. Try again.", code="bad_request")
    services.remove_totp(get_session(), current_user.ctx.session_id, actor=actor_from_request(), now=now())
    return redirect(url_for("mfa.security"), 303)


@bp.post("/account/security/recovery-codes")
@login_required
def new_recovery_codes():
    if not ActionForm().validate_on_submit():
        raise BadRequest("The form expired. Try again.", code="bad_request")
    codes = services.new_recovery_codes(get_session(), current_user.ctx.session_id, actor=actor_from_request(),
                                        now=now())
    return render_template("mfa/recovery_codes.html", codes=codes, added=False, next=url_for("mfa.security"))
