"""/saml/<slug>/metadata, /login, /acs, /sls; /oidc/<slug>/login, /callback and /backchannel-logout;
and the /sso chooser: parse → service → redirect."""

from __future__ import annotations

import secrets

from flask import Blueprint, Response, jsonify, make_response, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length

from gateway.accounts.provisioning import ProvisioningDenied
from gateway.audit.actions import AuditAction
from gateway.clock import now
from gateway.db import get_session
from gateway.errors import NotFound
from gateway.limits import SSO_STARTS_PER_ADDRESS, throttled
from gateway.redirects import account_page, safe_next, safe_redirect_target
from gateway.sessions.cookies import set_session_cookie
from gateway.sso import logout, oidc_signin, routing, saml_protocol, signin
from gateway.web import actor_from_request, forms_lead_to, settings, undo

bp = Blueprint("sso", __name__)

# The IdP's answer is one large form field: allowed up to this size on the ACS only.
ACS_MAX_FIELD_BYTES = 256 * 1024
# A random key of the browser that starts an SSO sign-in (signin.started_in). __Host-: only this
# host can set it (Secure, Path=/, no Domain), so a sibling subdomain cannot plant its own key.
BROWSER_COOKIE = "__Host-idgate_sso"


class SsoStartForm(FlaskForm):
    """The confirmation of a sign-in another site set off: where to go afterwards."""

    next = HiddenField()


class SsoForm(SsoStartForm):
    who = StringField("Work email or organization", validators=[
        DataRequired("Enter your work email or your organization's short name."), Length(max=320)])


@bp.get("/saml/<slug>/metadata")
def metadata(slug: str):
    xml = saml_protocol.metadata_for(get_session(), settings(), slug)
    return Response(xml, mimetype="application/samlmetadata+xml")


@bp.route("/saml/<slug>/login", methods=["GET", "POST"])
@throttled(SSO_STARTS_PER_ADDRESS)
def login(slug: str):
    return _start(slug, "sso.login", signin.start_login, routing.destination)


@bp.route("/oidc/<slug>/login", methods=["GET", "POST"])
@throttled(SSO_STARTS_PER_ADDRESS)
def oidc_login(slug: str):
    try:
        return _start(slug, "sso.oidc_login", oidc_signin.start_login, routing.oidc_destination)
    except signin.SsoRejected as exc:  # the IdP's metadata cannot be had
        undo(exc)
        return render_template("sso/denied.html", message=exc.message, code=exc.code), 502


def _start(slug: str, endpoint: str, start_login, destination_of):
    """A sign-in start, either protocol's. POST: the confirmation below, sent from our own page
    (CSRF-checked like every form)."""
    next_url = request.form.get("next") if request.method == "POST" else request.args.get("next")
    if request.method == "GET" and signin.needs_confirmation(request.headers.get("Sec-Fetch-Site")):
        form = SsoStartForm(next=next_url or "")
        destination = destination_of(get_session(), slug)
        forms_lead_to(destination.sign_in_url)  # the confirmation posts here, and is redirected there
        return render_template("sso/confirm.html", form=form, action=url_for(endpoint, slug=slug),
                               organization=destination.name)
    # On https, a key of this browser's travels with the IdP's answer (SameSite=None needs Secure, so
    # plain http deployments go without): the ACS and the callback then take answers from this browser only.
    binding = signin.binds_to_browser(settings())
    browser = (request.cookies.get(BROWSER_COOKIE) or secrets.token_urlsafe(24)) if binding else None
    url = start_login(get_session(), slug, next_url=next_url, settings=settings(), now=now(), browser=browser)
    response = redirect(url, 303 if request.method == "POST" else 302)
    if browser:
        response.set_cookie(BROWSER_COOKIE, browser, max_age=int(signin.LOGIN_REQUEST_TTL.total_seconds()),
                            path="/", secure=True, httponly=True, samesite="None")
    return response


@bp.get("/oidc/<slug>/callback")
def oidc_callback(slug: str):
    db = get_session()
    try:
        result = oidc_signin.finish_login(
            db, slug, state=request.args.get("state"), code=request.args.get("code"),
            error=request.args.get("error"), issuer_param=request.args.get("iss"), actor=actor_from_request(),
            settings=settings(), now=now(), browser=request.cookies.get(BROWSER_COOKIE))
    except (signin.SsoRejected, ProvisioningDenied) as exc:
        undo(exc)
        oidc_signin.forget_state(db, request.args.get("state"))
        signin.record_rejection(db, slug, exc, actor=actor_from_request(), now=now(),
                                action=AuditAction.OIDC_IDP_LOGIN_DENIED)
        return render_template("sso/denied.html", message=exc.message, code=exc.code), exc.status
    target = safe_redirect_target(result.next_url, account_page)
    return set_session_cookie(redirect(target, 303), result.sign_in.token, result.sign_in.session.expires_at)


@bp.post("/saml/<slug>/acs")
def acs(slug: str):
    db = get_session()
    try:
        result = signin.finish_login(db, slug, saml_response=request.form.get("SAMLResponse"),
                                     relay_state=request.form.get("RelayState"), actor=actor_from_request(),
                                     settings=settings(), now=now(), browser=request.cookies.get(BROWSER_COOKIE))
    except (signin.SsoRejected, ProvisioningDenied) as exc:
        # Nothing of the refused sign-in is kept but the audit row that says why.
        undo(exc)
        signin.record_rejection(db, slug, exc, actor=actor_from_request(), now=now())
        return render_template("sso/denied.html", message=exc.message, code=exc.code), exc.status
    target = safe_redirect_target(result.next_url, account_page)
    return set_session_cookie(redirect(target, 303), result.sign_in.token, result.sign_in.session.expires_at)


@bp.route("/saml/<slug>/sls", methods=["GET", "POST"])
def sls(slug: str):
    query = request.args.to_dict() if request.method == "GET" else request.form.to_dict()
    try:
        url = logout.handle_idp_logout(get_session(), slug, query, actor=actor_from_request(),
                                       settings=settings(), now=now())
    except signin.SsoRejected as exc:
        undo(exc)
        return render_template("sso/denied.html", message=exc.message, code=exc.code), 400
    return redirect(url, 302)


@bp.post("/oidc/<slug>/backchannel-logout")
def oidc_backchannel_logout(slug: str):
    """The IdP's server posts a logout token (Back-Channel Logout 1.0 §2.5): 200 once its sessions
    here are ended, 400 with an error when the token is refused; never cached."""
    try:
        logout.handle_backchannel_logout(get_session(), slug, request.form.get("logout_token"),
                                         actor=actor_from_request(), now=now())
    except (signin.SsoRejected, NotFound) as exc:
        undo(exc)
        answer = jsonify(error="invalid_request", error_description=exc.message), 400
    else:
        answer = Response(status=200)
    response = make_response(answer)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/sso", methods=["GET", "POST"])
def choose():
    form = SsoForm()
    if form.validate_on_submit():
        try:
            slug = routing.route(get_session(), form.who.data)
        except NotFound as exc:
            form.who.errors.append(exc.message)
        else:
            start = "sso.oidc_login" if routing.protocol_of(get_session(), slug) == "oidc" else "sso.login"
            # Not a redirect: the IdP is not in this page's form-action (see sso/continue.html).
            return render_template("sso/continue.html", url=url_for(start, slug=slug, next=safe_next(form.next.data)),
                                   heading="Continuing to your organization's sign-in",
                                   text="Your browser goes on to your organization's sign-in page.")
    elif request.method == "GET":
        form.next.data = request.args.get("next", "")
    return render_template("sso/choose.html", form=form), 400 if form.errors else 200
