"""idgate: the Flask application."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote_to_bytes

from flask import Flask, abort, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import BadHost
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway import db, errors
from gateway.accounts.passwords import Passwords
from gateway.clock import SystemClock
from gateway.config import Settings, ensure_secret_key, load_settings
from gateway.logs import redact_path


# Any single form field above this is refused before it reaches a view.
MAX_FIELD_BYTES = 10 * 1024
_FORM_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


class _StateCookie(SecureCookieSessionInterface):
    """Flask's signed cookie session (pre-auth state: the CSRF token), without its per-request costs
    when the request neither reads nor writes it: the signing serializer is built once per secret
    key, not on every request, and a session left empty is not looked at again on the way out."""

    def __init__(self):
        self._serializer = None

    def get_signing_serializer(self, app):
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        if self._serializer is None or self._serializer[0] != keys:
            self._serializer = (keys, super().get_signing_serializer(app))
        return self._serializer[1]

    def save_session(self, app, session, response) -> None:
        if not session and not session.modified:  # nothing to set or delete (Flask's own first check)
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


class Gateway(Flask):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.session_interface = _StateCookie()
        self._sync_functions: set = set()

    def ensure_sync(self, func):
        # Flask asks this of every hook and view on every request (inspect's coroutine check, some
        # 16 times a request): a function found to be a plain one is remembered as such.
        if func in self._sync_functions:
            return func
        wrapped = super().ensure_sync(func)
        if wrapped is func and len(self._sync_functions) < 4096:
            self._sync_functions.add(func)
        return wrapped

    def create_url_adapter(self, request):
        try:
            return super().create_url_adapter(request)
        except UnicodeError:  # a Host header IDNA cannot encode (a label over 63 characters, say)
            raise BadHost() from None

    def log_exception(self, exc_info) -> None:
        # Flask's own line names the raw path, and /invite/<code> carries a secret in it.
        self.logger.error("Exception on %s [%s]", redact_path(request.path), request.method, exc_info=exc_info)


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app: config → database → extensions → blueprints → error handlers.

    `overrides` take precedence over the environment (tests); CLOCK may be given
    to control time.
    """
    from saml import compiled

    compiled.install()  # python3-saml's schemas and XPaths compiled once (refused on another release)
    overrides = dict(overrides or {})
    clock = overrides.pop("CLOCK", None) or SystemClock()
    settings = load_settings(overrides=overrides)

    app = Gateway(
        __name__,
        # gateway/templates is the top-level templates/ (a link in the checkout, a copy in the wheel).
        template_folder="templates",
        static_folder="templates/static",
        instance_path=str(Path(settings.instance_path).resolve()),
    )
    _configure_flask(app, settings)
    app.extensions["idgate.settings"] = settings
    app.extensions["idgate.clock"] = clock
    app.extensions["idgate.passwords"] = Passwords(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_cost,
        parallelism=settings.argon2_parallelism,
    )
    db.init_app(app, settings.database_url)

    from gateway import invalidation
    from gateway.sessions import cache, login

    channel = invalidation.channel_for(settings)
    cache.init_app(app, channel)
    from gateway.apps.directory import Directories

    # Through the app's sessionmaker as it is when asked (tests bind theirs after create_app).
    app.extensions["idgate.app_directory"] = Directories(lambda: app.extensions["idgate.sessionmaker"](), channel)

    # Before CSRFProtect: the raw body is checked before anything parses the form.
    app.before_request(_refuse_malformed_input)
    csrf = CSRFProtect(app)
    login.init_app(app)

    from gateway import ops
    from gateway.accounts.views import bp as accounts_bp
    from gateway.admin import bp as admin_bp
    from gateway.api import bp as api_bp
    from gateway.invitations.views import bp as invitations_bp
    from gateway.mfa.views import bp as mfa_bp
    from gateway.sessions.pages import bp as your_sessions_bp
    from gateway.sso.views import bp as sso_bp
    from gateway.tokens import introspection
    from gateway.tokens.views import bp as tokens_bp
    from gateway.sessions.views import bp as forward_auth_bp
    from gateway.oidc import server as oidc_server
    from gateway.oidc.views import bp as oidc_bp
    from gateway.scim.views import bp as scim_bp

    for blueprint in (accounts_bp, admin_bp, api_bp, invitations_bp, mfa_bp, your_sessions_bp, sso_bp, forward_auth_bp,
                      tokens_bp, ops.bp, oidc_bp, scim_bp):
        app.register_blueprint(blueprint)
    csrf.exempt(scim_bp)  # an IdP's bearer token, never a cookie
    csrf.exempt(api_bp)  # bearer tokens only, never cookies: nothing for a cross-site form to ride on
    # The IdP posts cross-site by design; the signed answer and the one-time RelayState are the proof.
    csrf.exempt("gateway.sso.views.acs")
    csrf.exempt("gateway.sso.views.sls")
    csrf.exempt("gateway.sso.views.oidc_backchannel_logout")  # the IdP's server, proved by its signed token
    csrf.exempt("gateway.tokens.views.introspect")  # machine-to-machine, HTTP Basic client auth
    csrf.exempt("gateway.oidc.views.token")  # the client's back end, with its own authentication
    csrf.exempt("gateway.oidc.views.userinfo")  # a bearer access token, never a cookie
    introspection.init_app(app)
    oidc_server.init_app(app)

    from gateway import housekeeping, limits, logs, metrics
    from gateway import web

    web.init_app(app)

    limits.init_app(app)
    metrics.init_app(app)
    logs.init_app(app)
    housekeeping.init_app(app)
    errors.register(app)

    from gateway.cli import register_commands
    from gateway.oidc.fast import FastOidc
    from gateway.sessions.fast_verify import FastVerify

    register_commands(app)
    app.wsgi_app = app.extensions["idgate.fast_oidc"] = FastOidc(app)  # the OpenID Connect round trip, before Flask
    app.wsgi_app = app.extensions["idgate.fast_verify"] = FastVerify(app)  # the forward-auth hot path, before both
    if settings.trusted_proxies:
        # The client's address and scheme as the trusted proxies saw them (the Host header they pass on).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies)
    return app


def _configure_flask(app: Flask, settings: Settings) -> None:
    app.config.update(
        SECRET_KEY=ensure_secret_key(settings),
        # Flask's own signed cookie only carries pre-auth state such as the CSRF token.
        SESSION_COOKIE_NAME="idgate_state",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        MAX_CONTENT_LENGTH=64 * 1024,
        MAX_FORM_MEMORY_SIZE=MAX_FIELD_BYTES,
        WTF_CSRF_TIME_LIMIT=None,  # tied to the browser session instead of a clock
        # The token is the check. Flask-WTF's extra Referer match on https would refuse the invitation
        # page's forms, which send no Referer (its URL is a secret: Referrer-Policy no-referrer).
        WTF_CSRF_SSL_STRICT=False,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.config.update(settings.extra)


def _refuse_malformed_input():
    """Unknown content types and undecodable bytes get a 4xx that says so."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    if request.path.startswith(("/api/", "/scim/")):
        return None  # the JSON API and SCIM check their own content type
    if request.endpoint == "sso.acs":
        from gateway.sso.views import ACS_MAX_FIELD_BYTES

        request.max_form_memory_size = ACS_MAX_FIELD_BYTES
        request.max_content_length = ACS_MAX_FIELD_BYTES + 4096
    if not request.mimetype and not request.content_length:
        return None  # no body at all: nothing to decode, and the CSRF check refuses it with a clear 400
    if request.mimetype not in _FORM_TYPES:
        abort(415, description="Send forms as application/x-www-form-urlencoded or multipart/form-data.")
    if request.mimetype == "application/x-www-form-urlencoded":
        # Werkzeug keeps undecodable %-escapes as literal text instead of failing; look at the
        # raw body (cached, so the form is still parsed from it afterwards).
        body = request.get_data(cache=True)
        # Not on the ACS: its one large field is base64, which the SAML layer decodes strictly.
        if request.endpoint != "sso.acs" and not form_is_utf8(body):
            abort(400, description="The form is not valid UTF-8.")
        # Werkzeug caps each field of multipart forms only; hold urlencoded ones to the same limit.
        limit = request.max_form_memory_size
        if limit and len(body) > limit and any(len(value) > limit for value in request.form.values()):
            abort(413, description="A form field is too large.")
    elif any("\ufffd" in value for value in request.form.values()):
        abort(400, description="The form is not valid UTF-8.")
    return None


def form_is_utf8(body: bytes) -> bool:
    """An urlencoded body whose %-escapes decode as UTF-8 (Werkzeug would keep undecodable ones as
    literal text instead of failing)."""
    try:
        unquote_to_bytes(body.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
