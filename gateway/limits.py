"""Throttles (Flask-Limiter), declared at the views they apply to, counted in Redis when there is one.

A view names its budgets with `@throttled(...)`, under its route:

    @bp.route("/login", methods=["GET", "POST"])
    @throttled(SIGN_IN_PER_ACCOUNT, SIGN_IN_PER_ADDRESS, page=_throttled_page)
    def login(): ...

`init_app` gives each app its own limiter (its own storage) and puts every declared budget in front
of its view; `app.extensions["idgate.throttles"]` says which endpoint spends which. A breach answers
429 with Retry-After: the view's own `page` when it names one, else the usual error; a breach of a
budget that `names` an account writes a `login:throttled` audit row naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from flask import Flask, Response, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from gateway.accounts.emails import loose_email_key, normalize_email
from gateway.audit.actions import AuditAction
from gateway.audit.service import record
from gateway.clock import now
from gateway.db import get_session
from gateway.errors import BadRequest, discard_transaction, error_response
from gateway.web import actor_from_request


def _typed_address() -> str | None:
    """The email field in its account's normal form (so that NFD or IDN spellings of one address are
    one account); None when the text is not an address (a password typed into it, say)."""
    try:
        return normalize_email(request.form.get("email", ""))
    except BadRequest:
        return None


def _signed_in_email() -> str | None:
    from gateway.sessions.login import signed_in_context

    ctx = signed_in_context()
    return ctx.email if ctx else None


def _account_key() -> str:
    return "account:" + (_typed_address() or loose_email_key(request.form.get("email", "")))


def _signed_in_account_key() -> str:
    email = _signed_in_email()
    return "account:" + email if email else "address:" + get_remote_address()


def _refused(response: Response) -> bool:
    # Only refused attempts count: a person who signs in often is never throttled (a success
    # redirects), and neither is anyone while the gateway itself fails (5xx).
    return 400 <= response.status_code < 500 and response.status_code != 429


def _wrong_password(response: Response) -> bool:
    return response.status_code == 401


@dataclass(frozen=True)
class Throttle:
    """One budget. Throttles of one `name` share their count, wherever they are declared."""

    name: str
    limit: Callable  # settings → "4 per 15 minutes"
    key: Callable[[], str] = get_remote_address
    spends: Callable[[Response], bool] | None = None  # which answers count; None: every request
    methods: tuple[str, ...] | None = ("POST",)  # None: every method
    names: Callable[[], str | None] | None = None  # the account a breach is audited for; None: not audited
    audited_as: AuditAction = AuditAction.LOGIN_THROTTLED


SIGN_IN_PER_ACCOUNT = Throttle("login-account", lambda s: s.login_limit_account, key=_account_key,
                               spends=_refused, names=_typed_address)
SIGN_IN_PER_ADDRESS = Throttle("login-address", lambda s: s.login_limit_address, spends=_refused,
                               names=_typed_address)
# The invitation page checks an email address and may check a password: the same per-address
# budget keeps it from being used to guess either, and a wrong password (401) there spends the
# account's budget shared with the sign-in page.
INVITATION_PER_ADDRESS = Throttle("invite-address", lambda s: s.login_limit_address, spends=_refused,
                                  names=_typed_address)
WRONG_PASSWORD_PER_ACCOUNT = Throttle("login-account", lambda s: s.login_limit_account, key=_account_key,
                                      spends=_wrong_password, names=_typed_address)
# So does a wrong current password on the password change page: a stolen session must not be a
# place to guess it, nor to make the gateway hash at will.
CURRENT_PASSWORD_PER_ACCOUNT = Throttle("login-account", lambda s: s.login_limit_account,
                                        key=_signed_in_account_key, spends=_wrong_password,
                                        names=_signed_in_email)
# Second-factor codes have a budget of their own per account: a password guessed elsewhere must not
# leave fewer tries for the code, nor a code guessed lock out the password (one counter for both is
# a known lockout bug elsewhere). Only wrong codes (401) count.
SECOND_FACTOR_PER_ACCOUNT = Throttle("mfa-account", lambda s: s.mfa_limit_account, key=_signed_in_account_key,
                                     spends=_wrong_password, names=_signed_in_email,
                                     audited_as=AuditAction.MFA_THROTTLED)
# A sign-in with a passkey names no account before the answer is checked: its refused answers spend
# the client address's sign-in budget, shared with the password form's (one address, one budget).
PASSKEY_SIGN_IN_PER_ADDRESS = Throttle("login-address", lambda s: s.login_limit_address, spends=_refused,
                                       names=lambda: None)  # audited, for no account
# Its start writes a challenge row before anyone is known: bounded per address, as SSO starts are.
PASSKEY_STARTS_PER_ADDRESS = Throttle("passkey-start", lambda s: "60 per minute")
# "Forgot password": every request sends a mail or could, so every one counts, per typed address
# (an account's budget, whether or not the address has one: the answer must not differ) and per
# client address, on the sign-in throttles' storage. A link's page spends the client address's
# budget on refused answers (an unknown or dead link), as the invitation page does.
RESET_REQUESTS_PER_ACCOUNT = Throttle("reset-account", lambda s: s.reset_limit_account, key=_account_key,
                                      names=_typed_address)
RESET_REQUESTS_PER_ADDRESS = Throttle("reset-address", lambda s: s.reset_limit_address, names=_typed_address)
RESET_LINK_PER_ADDRESS = Throttle("login-address", lambda s: s.login_limit_address, spends=_refused,
                                  methods=None)


def _scim_token_key() -> str:
    from gateway.scim.tokens import throttle_key

    return throttle_key(request.headers.get("Authorization")) or "address:" + get_remote_address()


# Each SCIM token has its own budget (keyed by its hash, never the token), every method counted:
# an IdP syncing one organization does not slow another's.
SCIM_PER_TOKEN = Throttle("scim-token", lambda s: s.scim_limit_token, key=_scim_token_key, methods=None)
# Starting an SSO sign-in writes a row before anyone is known: bounded per client address,
# generously (an office behind one address starts many), so nobody can fill the table.
SSO_STARTS_PER_ADDRESS = Throttle("sso-start", lambda s: "120 per minute", methods=None)


@dataclass(frozen=True)
class _Declared:
    throttles: tuple[Throttle, ...]
    page: Callable[[int], object] | None  # retry-after seconds → the view's own 429 answer


def throttled(*throttles: Throttle, page: Callable[[int], object] | None = None):
    """Declare the budgets a view spends (below its route decorator, so the route keeps the mark)."""
    def mark(view):
        view.idgate_throttles = _Declared(throttles, page)
        return view
    return mark


def init_app(app: Flask) -> Limiter:
    settings = app.extensions["idgate.settings"]
    storage_uri = _storage_uri(app, settings)
    limiter = Limiter(
        key_func=get_remote_address,
        storage_uri=storage_uri,
        headers_enabled=True,
        # A Redis (or database) outage must not turn sign-in into errors: fall back to counting
        # in the process, and never let a storage error escape as a 500.
        in_memory_fallback_enabled=not storage_uri.startswith("memory://"),
        swallow_errors=True,
        key_prefix="idgate",
    )
    limiter.init_app(app)
    declared = app.extensions["idgate.throttles"] = {}
    for endpoint, view in list(app.view_functions.items()):
        found = getattr(view, "idgate_throttles", None)
        if found is None:
            continue
        for throttle in reversed(found.throttles):  # the first declared is checked first
            view = limiter.shared_limit(throttle.limit(settings), scope=throttle.name, key_func=throttle.key,
                                        methods=list(throttle.methods) if throttle.methods else None,
                                        deduct_when=throttle.spends)(view)
        app.view_functions[endpoint] = view
        declared[endpoint] = found
    # Every limit of ours is on a declared view, whose wrapper checks it. The limiter's global
    # before_request hook would only cost every other request (the forward-auth hot path above
    # all) a pass through its machinery, so it goes.
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    # (Its after_request hook stays: that is where `spends` counts the answers.)
    app.extensions["idgate.limiter"] = limiter

    @app.errorhandler(429)
    def _too_many(exc):
        discard_transaction()
        retry_after = _retry_after(limiter)
        found = declared.get(request.endpoint)
        audited = [t for t in found.throttles if t.names] if found else []
        if audited:
            from gateway.accounts.services import home_org_of

            db, named = get_session(), audited[0].names()
            # In the log (and the overview's figures) of the named account's organization, as its
            # failed sign-ins are.
            record(db, actor_from_request(), audited[0].audited_as, now=now(), target_email=named,
                   org_id=home_org_of(db, named) if audited[0].audited_as is AuditAction.LOGIN_THROTTLED else None)
        headers = {"Retry-After": str(retry_after)}
        if found and found.page:
            return found.page(retry_after), 429, headers
        return error_response(429, "too_many_requests", "Too many attempts. Wait a little and try again.", headers)

    return limiter


def _storage_uri(app: Flask, settings) -> str:
    """Redis when configured; else PostgreSQL, so instances still count together; else memory."""
    if settings.redis_url:
        return settings.redis_url
    if not settings.is_sqlite:
        from gateway import ratelimit_storage

        # Looked up at call time: tests swap the sessionmaker for one inside their transaction.
        return ratelimit_storage.register(str(id(app)), lambda: app.extensions["idgate.sessionmaker"]())
    return "memory://"


def _retry_after(limiter: Limiter) -> int:
    # Flask-Limiter sets Retry-After itself when it injects headers; compute it for the page too.
    import time

    window = getattr(limiter, "current_limit", None)
    if window is not None:
        return max(1, int(window.reset_at - time.time()))
    return 60
