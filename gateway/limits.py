"""Sign-in throttling (Flask-Limiter): per account and per client address, shared through Redis."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from gateway.accounts.emails import loose_email_key, normalize_email
from gateway.actor import actor_from_request
from gateway.audit.actions import AuditAction
from gateway.audit.service import record
from gateway.clock import now
from gateway.db import get_session
from gateway.errors import BadRequest, discard_transaction, error_response


SSO_STARTS_PER_ADDRESS = "120 per minute"


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


def _throttled_account() -> str | None:
    """The account a throttled attempt was for, when there is a real address to name."""
    return _signed_in_email() if request.endpoint == "accounts.change_password" else _typed_address()


def _failed(response) -> bool:
    # Only refused attempts count: a person who signs in often is never throttled (a success
    # redirects), and neither is anyone while the gateway itself fails (5xx).
    return 400 <= response.status_code < 500 and response.status_code != 429


def _wrong_password(response) -> bool:
    return response.status_code == 401


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
    login_view = app.view_functions["accounts.login"]
    # Shared: the invitation page spends the same per-account budget (below).
    limit_account = limiter.shared_limit(settings.login_limit_account, key_func=_account_key, methods=["POST"],
                                         deduct_when=_failed, scope="login-account")
    limit_address = limiter.limit(settings.login_limit_address, methods=["POST"], deduct_when=_failed,
                                  scope="login-address")
    app.view_functions["accounts.login"] = limit_account(limit_address(login_view))
    # The invitation page checks an email address and may check a password: the same
    # per-address budget keeps it from being used to guess either, and a wrong password (401)
    # there spends the account's budget shared with the sign-in page.
    limit_redeem = limiter.limit(settings.login_limit_address, methods=["POST"], deduct_when=_failed,
                                 scope="invite-address")
    limit_redeem_account = limiter.shared_limit(settings.login_limit_account, key_func=_account_key,
                                                methods=["POST"], deduct_when=_wrong_password, scope="login-account")
    app.view_functions["invitations.redeem"] = limit_redeem_account(limit_redeem(
        app.view_functions["invitations.redeem"]))
    # So does a wrong current password on the password change page (a stolen session must not
    # be a place to guess it, nor to make the gateway hash at will).
    limit_change = limiter.shared_limit(settings.login_limit_account, key_func=_signed_in_account_key,
                                        methods=["POST"], deduct_when=_wrong_password, scope="login-account")
    app.view_functions["accounts.change_password"] = limit_change(app.view_functions["accounts.change_password"])
    # Starting an SSO sign-in writes a row before anyone is known: bound it per client address,
    # generously (an office behind one address starts many), so nobody can fill the table.
    limit_sso_start = limiter.limit(SSO_STARTS_PER_ADDRESS, scope="sso-start")
    app.view_functions["sso.login"] = limit_sso_start(app.view_functions["sso.login"])
    # Every limit of ours is on a decorated view, whose wrapper checks it. The limiter's global
    # before_request hook would only cost every other request (the forward-auth hot path above
    # all) a pass through its machinery, so it goes.
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    # (Its after_request hook stays: that is where deduct_when counts failed attempts.)
    app.extensions["idgate.limiter"] = limiter

    @app.errorhandler(429)
    def _too_many(exc):
        discard_transaction()
        retry_after = _retry_after(limiter)
        if request.endpoint in ("accounts.login", "invitations.redeem", "accounts.change_password"):
            record(get_session(), actor_from_request(), AuditAction.LOGIN_THROTTLED, now=now(),
                   target_email=_throttled_account())
        if request.endpoint == "accounts.login":
            from gateway.accounts.forms import LoginForm

            page = render_template("accounts/login.html", form=LoginForm(), next=request.values.get("next"),
                                   throttled_for=retry_after)
            return page, 429, {"Retry-After": str(retry_after)}
        return error_response(429, "too_many_requests", "Too many attempts. Wait a little and try again.",
                              {"Retry-After": str(retry_after)})

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
