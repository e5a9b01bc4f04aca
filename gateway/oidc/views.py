"""The provider's endpoints: /oauth/authorize, /oauth/token, /oauth/userinfo, /oauth/logout.
Each parses, asks authlib or one service, and answers."""

from __future__ import annotations

from urllib.parse import urlencode

from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError, OAuth2Error
from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request

from gateway.accounts import services as accounts
from gateway.accounts.forms import SwitchForm
from gateway.clock import now
from gateway.db import get_session
from gateway.oidc import authorize as decision
from gateway.oidc import clients, edge, logout
from gateway.oidc.server import EndUser, Issuer
from gateway.sessions.cookies import clear_session_cookie
from gateway.sessions.login import signed_in_context, step_page
from gateway.tokens.introspection import basic_credentials_readable
from gateway.web import actor_from_request, forms_lead_to, settings

bp = Blueprint("oidc", __name__)


@bp.before_app_request
def _lead_on_to_the_asking_client():
    """A page on the way to an authorization request (sign-in, password change, second factor)
    ends, through redirects, at the client's redirect URI: browsers hold a form's redirects to the
    page's form-action, so the page names that origin too."""
    next_url = request.args.get("next") or (request.form.get("next") if request.method == "POST" else None)
    if next_url and next_url.startswith("/oauth/authorize?") and \
            (asking := clients.asking(get_session(), next_url)) is not None:
        g.oidc_asking = asking[0]
        forms_lead_to(asking[1])


def asking_app() -> str | None:
    """The name of the app whose authorization request this page leads on to, if any."""
    return g.get("oidc_asking")


def _server():
    return current_app.extensions["idgate.oidc"]


@bp.route("/oauth/authorize", methods=["GET", "POST"])
def authorize():
    server, moment = _server(), now()
    if not edge.readable(request.values):
        return _refused(server, InvalidRequestError("A parameter is too long or holds a control character."))
    ctx = signed_in_context()
    auth_time = ctx.started_at if ctx else None
    try:
        grant = server.get_consent_grant(end_user=EndUser(ctx, auth_time) if ctx else None)
        asked = edge.asked(grant, method=request.method, form=request.form)
    except OAuth2Error as error:
        return _refused(server, error)
    except ValueError:  # authlib's error text would quote characters an error may not carry
        return _refused(server, InvalidRequestError("A parameter holds characters it may not."))
    app = grant.request.client.row.app
    decided = edge.decide(get_session(), grant, ctx, asked, now=moment)
    if decided.step is decision.Step.SWITCH:
        return render_template("oidc/switch.html", app=app, email=ctx.email, working_in=ctx.org_name,
                               form=SwitchForm(org=app.org_slug, next=request.full_path))
    if decided.step is decision.Step.FINISH:
        return redirect(step_page(ctx.owes, request.full_path))
    if decided.step is decision.Step.SIGN_IN:
        return redirect(f"/login?{urlencode({'next': _again(moment)})}")
    if decided.step is decision.Step.STEP_UP:
        return redirect(f"/login/verify?{urlencode({'next': request.full_path})}")
    if decided.step is decision.Step.REFUSE:
        return _refused(server, OAuth2Error(error=decided.error, description=decided.description,
                                            redirect_uri=grant.redirect_uri, state=grant.request.payload.state))
    if decided.step is decision.Step.CONSENT:
        forms_lead_to(grant.redirect_uri)  # the answer to the post is a redirect there
        return render_template("oidc/consent.html", app=app, scopes=grant.request.payload.scope.split(),
                               email=ctx.email, action=request.full_path)
    return server.create_authorization_response(grant_user=EndUser(ctx, auth_time), grant=grant)


def _again(moment) -> str:
    """This authorization request, to come back to once signed in (again)."""
    params = [(name, value) for name, value in request.args.items(multi=True) if name != decision.AFTER]
    params = [(name, value) for name, value in params if name != "prompt" or "none" in value.split()]
    params.append((decision.AFTER, str(int(moment.timestamp()))))
    return f"{request.path}?{urlencode(params)}"


def _refused(server, error: OAuth2Error):
    """An OAuth error: back to the client when its redirect URI was checked (with `iss`, RFC 9207
    §2), else a page here (never a redirect to an address nobody vouched for)."""
    if error.redirect_uri:
        response = server.handle_error_response(None, error)
        Issuer().add_issuer_parameter(server, response)
        return response
    return render_template("errors/error.html", status=400, code=error.error or "invalid_request",
                           message=error.description or "This sign-in request cannot be read."), 400


@bp.post("/oauth/token")
def token():
    server = _server()
    if not basic_credentials_readable(request.headers.get("Authorization", "")):
        return server.handle_error_response(None, InvalidClientError(
            status_code=401, description="The client credentials cannot be read."))
    if not edge.readable(request.values):
        return server.handle_error_response(None, InvalidRequestError(
            "A parameter is too long or holds a control character."))
    try:
        return server.create_token_response()
    except ValueError:  # authlib's error text would quote characters an error may not carry
        return server.handle_error_response(None, InvalidRequestError("A parameter holds characters it may not."))


@bp.route("/oauth/userinfo", methods=["GET", "POST"])
def userinfo():
    token = edge.bearer(request.headers.get("Authorization"), request.form.get("access_token"))
    status, payload, headers = edge.userinfo(get_session(), token, settings=settings(), now=now())
    response = jsonify(payload)
    response.status_code = status
    response.headers.extend(headers)
    return response


@bp.route("/oauth/logout", methods=["GET", "POST"])
def end_session():
    """RP-initiated logout: signs out at once when the ID token names this session; asks first
    otherwise (a link anyone can send must not sign people out)."""
    db, moment, ctx = get_session(), now(), signed_in_context()
    asked = logout.read_request(db, request.values, settings=settings())
    if ctx is not None and (asked.session_id == ctx.session_id or request.method == "POST"):
        accounts.sign_out(db, session_id=ctx.session_id, actor=actor_from_request(), now=moment)
        return clear_session_cookie(redirect(asked.then or "/login", 303))
    if ctx is None:
        return redirect(asked.then or "/login", 303)
    if asked.then:
        forms_lead_to(asked.then)
    return render_template("oidc/logout.html", email=ctx.email, action=request.full_path)
