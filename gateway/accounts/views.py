"""Sign-up, sign-in, sign-out, password change and the account page."""

from __future__ import annotations

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from gateway.accounts import recovery, services
from gateway.accounts.forms import (ChangePasswordForm, ForgotPasswordForm, LoginForm, ResetPasswordForm, SignupForm,
                                    SwitchForm)
from gateway.clock import now
from gateway.db import get_session
from gateway.errors import BadRequest, GatewayError, InvalidCredentials, PolicyViolation
from gateway.limits import (CURRENT_PASSWORD_PER_ACCOUNT, PASSKEY_SIGN_IN_PER_ADDRESS, PASSKEY_STARTS_PER_ADDRESS,
                            RESET_LINK_PER_ADDRESS, RESET_REQUESTS_PER_ACCOUNT, RESET_REQUESTS_PER_ADDRESS,
                            SIGN_IN_PER_ACCOUNT, SIGN_IN_PER_ADDRESS, throttled)
from gateway.orgs.services import memberships_of
from gateway.redirects import account_page, safe_next, safe_redirect_target
from gateway.sessions.cookies import clear_session_cookie, set_session_cookie
from gateway.mfa import services as mfa
from gateway.mfa.forms import PasskeyAnswerForm
from gateway.mfa.policy import Owed
from gateway.mfa.views import options_json, passkeys_elsewhere, passkeys_here, second_step_answer
from gateway.sessions.login import step_page
from gateway.sso import logout as single_logout
from gateway.oidc.views import asking_app
from gateway.web import actor_from_request, passwords, settings, show_on

bp = Blueprint("accounts", __name__)

def _signed_in(result: services.SignIn, next_url: str | None):
    if result.owes == Owed.SECOND_FACTOR:
        return second_step_answer(result, next_url)  # the code form is the answer: no redirect to fetch it
    if result.owes:
        # The step comes first (a new password, a second factor); where they were going is kept for after it.
        target = step_page(result.owes, next_url)
    else:
        target = safe_redirect_target(next_url, account_page)
    return set_session_cookie(redirect(target, 303), result.token, result.session.expires_at)


@bp.get("/")
def index():
    return redirect(url_for("accounts.account"))


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    form = SignupForm()
    db = get_session()
    if not services.signup_is_open(db, settings()):
        return render_template("accounts/signup_closed.html"), 403
    if form.validate_on_submit():
        try:
            result = services.sign_up(
                db, org_slug=form.org_slug.data, org_name=form.org_name.data, email=form.email.data,
                name=form.name.data, password=form.password.data, passwords=passwords(),
                actor=actor_from_request(), settings=settings(), now=now(),
            )
        except GatewayError as exc:
            show_on(form, exc, default="email")  # nothing of a refused sign-up is kept
        else:
            # A new organization's first admin starts on its overview, whose checklist says what next.
            return _signed_in(result, url_for("admin.overview"))
    status = 400 if form.errors else 200
    return render_template("accounts/signup.html", form=form, min_length=settings().password_min_length), status


def _login_page(form, next_url, status=200, passkey_form=None, **shown):
    """The sign-in page: email and password, and "Sign in with a passkey" where this page can use one;
    the app asking, when the sign-in is for an OpenID Connect client."""
    return render_template("accounts/login.html", form=form, next=next_url, passkeys=passkeys_here(),
                           asking=asking_app(),
                           password_reset=request.args.get("reset") == "1",
                           passkeys_at=passkeys_elsewhere(),
                           passkey_form=passkey_form or PasskeyAnswerForm(next=next_url or ""), **shown), status


def _throttled_login_page(retry_after: int):
    return _login_page(LoginForm(), request.values.get("next"), throttled_for=retry_after)[0]


@bp.route("/login", methods=["GET", "POST"])
@throttled(SIGN_IN_PER_ACCOUNT, SIGN_IN_PER_ADDRESS, page=_throttled_login_page)
def login():
    form = LoginForm()
    next_url = request.values.get("next") or None
    status = 200
    if form.validate_on_submit():
        try:
            result = services.sign_in_with_password(
                get_session(), email=form.email.data, password=form.password.data, passwords=passwords(),
                actor=actor_from_request(), settings=settings(), now=now(),
            )
        except GatewayError as exc:  # a wrong password, an SSO-only account, no active organization
            show_on(form, exc, default="email")
            status = exc.status
        else:
            return _signed_in(result, next_url)
    elif form.errors:
        status = 400
    return _login_page(form, next_url, status)


@bp.post("/login/passkey/options")
@throttled(PASSKEY_STARTS_PER_ADDRESS)
def passkey_sign_in_options():
    return options_json(lambda: mfa.passkey_sign_in_options(get_session(), settings=settings(), now=now()))


@bp.post("/login/passkey")
@throttled(PASSKEY_SIGN_IN_PER_ADDRESS, page=_throttled_login_page)
def sign_in_with_passkey():
    form = PasskeyAnswerForm()
    next_url = form.next.data or None
    status = 400
    if form.validate_on_submit():
        try:
            result = mfa.sign_in_with_passkey(get_session(), form.credential.data, actor=actor_from_request(),
                                              settings=settings(), now=now())
        except GatewayError as exc:  # a refused passkey, an SSO-only account, no active organization
            show_on(form, exc, default="credential")
            status = exc.status
        else:
            return _signed_in(result, next_url)
    return _login_page(LoginForm(), next_url, status, passkey_form=form)


@bp.post("/logout")
@login_required
def logout():
    db, session_id = get_session(), current_user.ctx.session_id
    # An SSO session also ends at the IdP when it has a logout endpoint (SP-initiated single logout).
    idp_logout = single_logout.logout_redirect(db, session_id, settings=settings())
    services.sign_out(db, session_id=session_id, actor=actor_from_request(), now=now())
    if idp_logout is None:
        return clear_session_cookie(redirect(url_for("accounts.login"), 303))
    # Not a redirect: every page's sign-out form would need the IdP in its form-action.
    page = render_template("sso/continue.html", url=idp_logout, heading="Signed out",
                           text="You are signed out here; your browser goes on to sign you out of your "
                                "organization's sign-in too.")
    return clear_session_cookie(make_response(page))


@bp.route("/password/change", methods=["GET", "POST"])
@throttled(CURRENT_PASSWORD_PER_ACCOUNT)
@login_required
def change_password():
    form = ChangePasswordForm()
    ctx = current_user.ctx
    next_url = safe_next(request.values.get("next"))
    if form.validate_on_submit():
        try:
            result = services.change_password(
                get_session(), user_id=ctx.user_id, session_id=ctx.session_id,
                current_password=form.current_password.data, new_password=form.new_password.data,
                passwords=passwords(), actor=actor_from_request(), settings=settings(), now=now(),
            )
        except (InvalidCredentials, PolicyViolation) as exc:
            show_on(form, exc, default="new_password")
            return _change_password_page(form, ctx, next_url, exc.status)
        else:
            target = (step_page(result.owes, next_url) if result.owes
                      else next_url or url_for("accounts.account", changed=1))
            return set_session_cookie(redirect(target, 303), result.token, result.session.expires_at)
    return _change_password_page(form, ctx, next_url, 400 if form.errors else 200)


def _change_password_page(form, ctx, next_url, status):
    return render_template("accounts/change_password.html", form=form, restricted=ctx.owes == Owed.PASSWORD_CHANGE,
                           min_length=settings().password_min_length, next=next_url), status


@bp.get("/account")
@login_required
def account():
    ctx = current_user.ctx
    return render_template("accounts/account.html", ctx=ctx, switch_form=SwitchForm(),
                           memberships=memberships_of(get_session(), ctx.user_id),
                           changed=request.args.get("changed") == "1", joined=request.args.get("joined") == "1")


@bp.post("/account/switch")
@login_required
def switch():
    form = SwitchForm()
    if not form.validate_on_submit():
        raise BadRequest("Choose an organization.", code="bad_request")
    ctx = current_user.ctx
    services.switch_organization(get_session(), user_id=ctx.user_id, session_id=ctx.session_id,
                                 org_slug=form.org.data, actor=actor_from_request(), now=now())
    return redirect(safe_redirect_target(form.next.data or None, lambda: url_for("accounts.account")), 303)


# -- forgot password (gateway.accounts.recovery) -------------------------------------------------

# The link's code, between its first load and the form: the link's URL is left at once for
# /password/reset, so the code is neither in the address bar nor in the history, and no page a
# person goes on to from the form can see it. HttpOnly, on the reset pages' path only.
RESET_COOKIE = "idgate_reset"
_RESET_PATH = "/password/reset"


@bp.after_request
def _no_referrer(response):
    # The link's code must not reach another site through the Referer header (its refusals too).
    if request.endpoint in ("accounts.reset_link", "accounts.reset_password"):
        response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _forgot_page(form, status=200, **shown):
    return render_template("accounts/forgot_password.html", form=form, can_reset=bool(settings().smtp_url),
                           **shown), status


def _throttled_forgot_page(retry_after: int):
    return _forgot_page(ForgotPasswordForm(), throttled_for=retry_after)[0]


@bp.route("/password/forgot", methods=["GET", "POST"])
@throttled(RESET_REQUESTS_PER_ACCOUNT, RESET_REQUESTS_PER_ADDRESS, page=_throttled_forgot_page)
def forgot_password():
    """Whatever address is typed, the same page: "if it has an account, a mail is on its way"."""
    form = ForgotPasswordForm()
    if not settings().smtp_url:  # without mail the link could only go to a log: resets stay with the admins
        return _forgot_page(form)
    if form.validate_on_submit():
        try:
            recovery.request_link(get_session(), form.email.data, actor=actor_from_request(), settings=settings(),
                                  now=now())
        except BadRequest as exc:  # not an email address at all: that tells nothing about any account
            show_on(form, exc, default="email")
            return _forgot_page(form, 400)
        return _forgot_page(ForgotPasswordForm(formdata=None), sent=True)
    return _forgot_page(form, 400 if form.errors else 200)


@bp.get("/password/reset/<code>")
@throttled(RESET_LINK_PER_ADDRESS)
def reset_link(code: str):
    """The link in the mail: checked, then exchanged for the cookie and the page without the code."""
    recovery.find_valid(get_session(), code, now=now())
    response = redirect(url_for("accounts.reset_password"), 303)
    response.set_cookie(RESET_COOKIE, code, max_age=int(recovery.RESET_TTL.total_seconds()), path=_RESET_PATH,
                        secure=settings().secure_cookies, httponly=True, samesite="Lax")
    return response


@bp.route("/password/reset", methods=["GET", "POST"])
@throttled(RESET_LINK_PER_ADDRESS)
def reset_password():
    code = request.cookies.get(RESET_COOKIE)
    db = get_session()
    recovery.find_valid(db, code, now=now())
    form = ResetPasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            recovery.reset_password(db, code, new_password=form.new_password.data, passwords=passwords(),
                                    actor=actor_from_request(), settings=settings(), now=now())
        except PolicyViolation as exc:
            show_on(form, exc, default="new_password")
            status = exc.status
        else:
            # No session starts here: the new password signs in, then the second factor where there is one.
            response = clear_session_cookie(redirect(url_for("accounts.login", reset=1), 303))
            response.delete_cookie(RESET_COOKIE, path=_RESET_PATH, secure=settings().secure_cookies, httponly=True,
                                   samesite="Lax")
            return response
    elif form.errors:
        status = 400
    return render_template("accounts/reset_password.html", form=form,
                           min_length=settings().password_min_length), status
