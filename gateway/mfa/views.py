"""/login/verify (the second step of a sign-in) and /account/security (second factors: an
authenticator app, passkeys, recovery codes; and your sessions, gateway.sessions.pages).

Passkey ceremonies take two requests: the page's script (templates/static/passkeys.js) fetches the
options as JSON, then posts the browser's answer in a form, which is answered like any other form.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from gateway.clock import now
from gateway.db import get_session
from gateway.errors import BadRequest, GatewayError
from gateway.limits import SECOND_FACTOR_PER_ACCOUNT, throttled
from gateway.mfa import passkeys, services, totp
from gateway.mfa.forms import ActionForm, CodeForm, NewPasskeyForm, PasskeyAnswerForm
from gateway.mfa.policy import MFA, Owed
from gateway.redirects import account_page, safe_next, safe_redirect_target
from gateway.sessions import listing
from gateway.sessions.cookies import set_session_cookie
from gateway.sessions.login import step_page
from gateway.web import actor_from_request, settings, show_on, undo

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
            _refused(form, exc, "code")
            status = exc.status
        else:
            return _signed_in(result, next_url)
    elif form.errors:
        status = 400
    return _verify_page(form, PasskeyAnswerForm(next=next_url or ""), next_url, status)


def _verify_page(form, passkey_form, next_url, status):
    ctx = current_user.ctx
    return _second_step_page(ctx.user_id, form, passkey_form, next_url, owed=ctx.owes == Owed.SECOND_FACTOR), status


def _second_step_page(user_id: int, form, passkey_form, next_url, *, owed: bool) -> str:
    return render_template("mfa/verify.html", form=form, passkey_form=passkey_form,
                           factors=services.factors_of(get_session(), user_id), next=next_url, owed=owed,
                           passkeys=passkeys_here(), passkeys_at=passkeys_elsewhere())


def second_step_answer(sign_in, next_url: str | None):
    """The answer to a right password when the session owes a second factor: the second step's page
    itself (200, with the new session's cookie), not a redirect to it. The browser is spared a round
    trip on every such sign-in; the page's forms post to /login/verify as ever, and GET /login/verify
    still opens it (a reload there, a link, a step-up)."""
    next_url = safe_next(next_url)
    # Empty forms (formdata=None): what was posted was the password form, whose `next` is shown checked.
    page = _second_step_page(sign_in.session.user_id, CodeForm(formdata=None, next=next_url or ""),
                             PasskeyAnswerForm(formdata=None, next=next_url or ""), next_url, owed=True)
    return set_session_cookie(make_response(page), sign_in.token, sign_in.session.expires_at)


@bp.post("/login/verify/passkey/options")
@login_required
def passkey_verify_options():
    ctx = current_user.ctx
    return options_json(lambda: services.passkey_second_step_options(get_session(), ctx.session_id, settings=settings(),
                                                                 now=now()))


@bp.post("/login/verify/passkey")
@throttled(SECOND_FACTOR_PER_ACCOUNT)
@login_required
def verify_passkey():
    ctx = current_user.ctx
    form = PasskeyAnswerForm()
    next_url = safe_next(form.next.data)
    if MFA in ctx.amr:
        return redirect(safe_redirect_target(next_url, account_page), 303)
    status = 400
    if form.validate_on_submit():
        try:
            result = services.second_step_with_passkey(get_session(), ctx.session_id, form.credential.data,
                                                       actor=actor_from_request(), settings=settings(), now=now())
        except GatewayError as exc:
            show_on(form, exc, default="credential")
            status = exc.status
        else:
            return _signed_in(result, next_url)
    return _verify_page(CodeForm(next=next_url or ""), form, next_url, status)


# -- passkeys: where they are offered, and the options a ceremony starts with ------------------

def passkeys_here() -> passkeys.RelyingParty | None:
    """The relying party when this page can use passkeys (it was opened at the relying party's
    origin), else None: for a gateway at a loopback address, pages opened at 127.0.0.1 offer none
    (their origin is no rpId's) and point to the same page at localhost instead."""
    rp = passkeys.relying_party(settings().base_url)
    return rp if passkeys.offered_at(rp, request.host_url.rstrip("/")) else None


def passkeys_elsewhere() -> str | None:
    """The origin where passkeys work when this page was opened at another (127.0.0.1 for localhost)."""
    rp = passkeys.relying_party(settings().base_url)
    return rp.origin if rp and not passkeys.offered_at(rp, request.host_url.rstrip("/")) else None


def options_json(make):
    """A ceremony's options as JSON; a refusal as {"error": {code, message}} for the page's script."""
    try:
        return jsonify(make())
    except GatewayError as exc:
        undo(exc)
        return jsonify({"error": {"code": exc.code, "message": exc.message}}), exc.status


def _confirmed() -> None:
    """A button that changes something came with its CSRF token. :raise BadRequest: it did not."""
    if not ActionForm().validate_on_submit():
        raise BadRequest("The form expired. Try again.", code="bad_request")


def _refused(form, exc: GatewayError, field: str) -> None:
    """A refused code or answer on its form; what was typed is not shown again (it was a secret)."""
    show_on(form, exc, default=field)
    form[field].data = ""


@bp.get("/account/security")
@login_required
def security():
    next_url = safe_next(request.args.get("next"))
    return _security_page(CodeForm(next=next_url or ""), NewPasskeyForm(next=next_url or ""), next_url, 200)


def _security_page(code_form, passkey_form, next_url, status):
    ctx, db = current_user.ctx, get_session()
    elsewhere = passkeys_elsewhere()
    return render_template(
        "mfa/security.html", factors=services.factors_of(db, ctx.user_id),
        enrolment=totp.pending(db, ctx.user_id, ctx.email, certs_dir=settings().certs_dir), code_form=code_form,
        passkey_form=passkey_form, passkey_list=passkeys.of_user(db, ctx.user_id), passkeys=passkeys_here(),
        passkeys_at=elsewhere + url_for("mfa.security") if elsewhere else None,
        action=ActionForm(), required=ctx.owes == Owed.FACTOR_ENROLLMENT, sso=services.is_sso_session(db, ctx.session_id), next=next_url,
        sessions=listing.of_user(db, ctx.user_id, current_id=ctx.session_id, now=now()),
        ended=request.args.get("ended", type=int)), status


@bp.post("/account/security/totp")
@login_required
def add_totp():
    _confirmed()
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
            _refused(form, exc, "code")
        else:
            return _added(added, "totp", next_url)
    return _security_page(form, NewPasskeyForm(next=next_url or ""), next_url, 400)


def _added(added, kind, next_url):
    """The recovery codes of a first factor, shown once; the session's new token goes with them."""
    page = render_template("mfa/recovery_codes.html", codes=added.recovery_codes, added=kind,
                           next=step_page(added.sign_in.owes, next_url) if added.sign_in.owes
                           else next_url or url_for("mfa.security"))
    return set_session_cookie(make_response(page), added.sign_in.token, added.sign_in.session.expires_at)


@bp.post("/account/security/totp/remove")
@login_required
def remove_totp():
    _confirmed()
    services.remove_totp(get_session(), current_user.ctx.session_id, actor=actor_from_request(), now=now())
    return redirect(url_for("mfa.security"), 303)


@bp.post("/account/security/recovery-codes")
@login_required
def new_recovery_codes():
    _confirmed()
    codes = services.new_recovery_codes(get_session(), current_user.ctx.session_id, actor=actor_from_request(),
                                        now=now())
    return render_template("mfa/recovery_codes.html", codes=codes, added=False, next=url_for("mfa.security"))


@bp.post("/account/security/passkeys/options")
@login_required
def passkey_options():
    ctx = current_user.ctx
    return options_json(lambda: services.passkey_registration_options(get_session(), ctx.session_id,
                                                                  settings=settings(), now=now()))


@bp.post("/account/security/passkeys")
@login_required
def add_passkey():
    ctx = current_user.ctx
    form = NewPasskeyForm()
    next_url = safe_next(form.next.data)
    if form.validate_on_submit():
        try:
            added = services.add_passkey(get_session(), ctx.session_id, form.credential.data, form.name.data,
                                         actor=actor_from_request(), settings=settings(), now=now())
        except GatewayError as exc:
            show_on(form, exc, default="credential")
            return _security_page(CodeForm(next=next_url or ""), form, next_url, exc.status)
        return _added(added, "passkey", next_url)
    return _security_page(CodeForm(next=next_url or ""), form, next_url, 400)


@bp.post("/account/security/passkeys/<passkey_id>/remove")
@login_required
def remove_passkey(passkey_id):
    _confirmed()
    services.remove_passkey(get_session(), current_user.ctx.session_id, passkey_id, actor=actor_from_request(),
                            now=now())
    return redirect(url_for("mfa.security"), 303)
