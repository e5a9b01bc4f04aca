"""Flask-Login on top of our server-side sessions, and the restricted-session guard."""

from __future__ import annotations

from flask import Flask, current_app, redirect, request, url_for
from flask_login import LoginManager, UserMixin, current_user

from gateway.clock import now
from gateway.db import get_session
from gateway.errors import Unauthorized, wants_json
from gateway.redirects import safe_next
from gateway.sessions import cache, services
from gateway.sessions.cookies import token_from_request
from gateway.sessions.services import SessionContext

# What a session that owes a step may reach besides /logout: the step's own pages.
_ALWAYS_ALLOWED = {"accounts.logout", "static", "ops.healthz", "ops.readyz"}
_STEPS = {
    "password_change": ("accounts.change_password", {"accounts.change_password"}),
    # The second step: a code, or a passkey's assertion (its options, then its answer).
    "second_factor": ("mfa.verify", {"mfa.verify", "mfa.passkey_verify_options", "mfa.verify_passkey"}),
    # Adding a first factor: an authenticator app, or a passkey's registration (options, answer).
    "factor_enrollment": ("mfa.security", {"mfa.security", "mfa.add_totp", "mfa.confirm_totp",
                                           "mfa.passkey_options", "mfa.add_passkey"}),
}
_FIRST_STEP = "password_change"  # what a restricted session owes when it says nothing else (older rows)
# Pages whose URL is itself a secret (the invitation code): never copied into another URL as `next`.
_SECRET_IN_URL = {"invitations.redeem", "accounts.reset_link"}


class SignedInUser(UserMixin):
    """current_user: a thin wrapper over the resolved SessionContext."""

    def __init__(self, ctx: SessionContext):
        self.ctx = ctx

    def get_id(self) -> str:
        return str(self.ctx.session_id)


def _load_from_request(_request) -> SignedInUser | None:
    ctx = services.resolve(get_session(), token_from_request(),
                           settings=current_app.extensions["idgate.settings"], now=now())
    return SignedInUser(ctx) if ctx else None


def verified_context(token: str) -> SessionContext | None:
    """The session of `token` for /auth/verify, the hot path: from the verify cache when it holds
    it, else from the database (and then remembered), without Flask-Login's per-request machinery."""
    verify_cache = cache.cache_of(current_app)
    token_hash = services.hash_token(token)
    if ctx := verify_cache.get(token_hash):
        return ctx
    generation = verify_cache.generation()  # before the read: a change announced meanwhile makes the entry stale
    ctx = services.resolve(get_session(), token, settings=current_app.extensions["idgate.settings"], now=now())
    if ctx:
        verify_cache.put(token_hash, ctx, generation)
    return ctx


def signed_in_context() -> SessionContext | None:
    """The caller's live session, or None. Without a token nobody is signed in, and Flask-Login's
    per-request lookup is not even started (anonymous requests: sign-in pages, the ACS)."""
    if not token_from_request() or not current_user.is_authenticated:
        return None
    return current_user.ctx


def _unauthorized():
    if wants_json():
        raise Unauthorized()
    return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))


def _hold_restricted_sessions():
    """A session that owes a step (a temporary password's change, a second factor, adding one)
    opens that step's pages and /logout, nothing else."""
    # JSON endpoints answer for themselves: /auth/verify and the API refuse a restricted session
    # with a 401 their callers understand, where a redirect to an HTML form would mean nothing.
    if request.endpoint in _ALWAYS_ALLOWED or wants_json() or request.routing_exception is not None:
        return None  # (a request that matched no route, or came with a Host no URL can be built for, fails anyway)
    ctx = signed_in_context()
    if ctx is None or not ctx.restricted:
        return None
    step, allowed = _STEPS[ctx.owes or _FIRST_STEP]
    if request.endpoint in allowed:
        return None
    return redirect(url_for(step, next=_where_they_were_going()))


def step_page(owes: str | None, next_url: str | None = None) -> str:
    """The page of the step a session owes, keeping where its holder was going."""
    return url_for(_STEPS[owes or _FIRST_STEP][0], next=safe_next(next_url))


def _where_they_were_going() -> str | None:
    """The page to open once the step is taken: the one asked for, or the sign-in page's (or a
    step's) `next`."""
    if request.method != "GET" or request.endpoint in _SECRET_IN_URL:
        return None
    if request.endpoint == "accounts.login" or any(request.endpoint in pages for _, pages in _STEPS.values()):
        return safe_next(request.args.get("next"))
    return request.full_path.rstrip("?")


def init_app(app: Flask) -> None:
    manager = LoginManager()
    manager.request_loader(_load_from_request)
    manager.user_loader(lambda _id: None)  # never from Flask's cookie session: only our token
    manager.unauthorized_handler(_unauthorized)
    manager.session_protection = None
    manager.init_app(app)
    # Its after-request hook keeps "remember me" cookies up to date, and reads Flask's session on every
    # response to find out: nobody is signed in through Flask-Login's own session or cookies here.
    app.after_request_funcs[None].remove(manager._update_remember_cookie)
    app.before_request(_hold_restricted_sessions)
