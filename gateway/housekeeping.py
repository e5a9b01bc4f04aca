"""Housekeeping: rows whose time is over leave the database.

Ended sessions, pending SAML sign-ins past their ten minutes, remembered
assertion IDs past their expiry and rate-limit windows that closed serve
nobody any more; left alone, they would grow the very tables every sign-in
writes to. Each instance clears them out at most once per INTERVAL, after a
response has gone out, so no request waits for it. (The audit log is
append-only and stays; delivered mail leaves the outbox when it is sent.)
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from flask import Flask, current_app
from sqlalchemy.orm import Session

from gateway import ratelimit_storage
from gateway.accounts import recovery
from gateway.db import transaction
from gateway.mail import outbox
from gateway.metrics import HOUSEKEEPING_DELETED
from gateway.oidc import logout
from gateway.sessions import services as sessions
from gateway.sso import oidc_signin, signin

log = logging.getLogger("idgate.housekeeping")

INTERVAL = timedelta(minutes=10)
# Rows go this long after they expired, so that instances whose clocks differ a little
# never disagree about a row one of them still needs.
MARGIN = timedelta(minutes=10)

_DUE = "idgate.housekeeping_due"
_lock = threading.Lock()


@dataclass(frozen=True)
class Purged:
    sessions: int
    saml_requests: int
    saml_assertions: int
    oidc_idp_requests: int  # sign-ins sent to an organization's OIDC IdP and never answered
    rate_limit_counters: int
    undeliverable_mail: int  # still not delivered after outbox.GIVE_UP_AFTER
    password_resets: int  # "forgot password" links used or past their hour


def purge_expired(db: Session, *, now: datetime, epoch_now: float) -> Purged:
    """Delete what expired more than MARGIN ago, in the caller's transaction.

    `epoch_now` is the rate limiter's own clock (it counts in epoch seconds from time.time()).
    """
    before = now - MARGIN
    requests, assertions = signin.forget_expired(db, before=before)
    logout.sessions_expired(db, now=now)  # the clients a session that ran out signed into hear of it first
    return Purged(
        sessions=sessions.delete_ended(db, before=before),
        saml_requests=requests,
        saml_assertions=assertions,
        oidc_idp_requests=oidc_signin.forget_expired(db, before=before),
        rate_limit_counters=ratelimit_storage.delete_expired(db, before=epoch_now - MARGIN.total_seconds()),
        undeliverable_mail=outbox.drop_undeliverable(db, now=now),
        password_resets=recovery.forget_spent(db, before=before),
    )


def run(app: Flask) -> Purged | None:
    """One round, in a transaction of its own; a failure is logged and waits for the next round."""
    try:
        with transaction(app) as db:
            purged = purge_expired(db, now=app.extensions["idgate.clock"].now(), epoch_now=time.time())
    except Exception:  # never let housekeeping break the request it followed
        log.exception("housekeeping failed; it runs again within %s", INTERVAL)
        return None
    counts = asdict(purged)
    for table, deleted in counts.items():
        HOUSEKEEPING_DELETED.labels(table).inc(deleted)
    if any(counts.values()):
        log.info("housekeeping deleted expired rows: %s", counts)
    return purged


def _schedule(response):
    """After a response, when a round is due on this instance: run one once the response has gone out."""
    app = current_app._get_current_object()
    now = app.extensions["idgate.clock"].now()
    due = app.extensions.get(_DUE)
    if due is not None and now < due:  # nearly every response: no lock needed to see it is not due
        return response
    with _lock:
        due = app.extensions.get(_DUE)
        if due is not None and now < due:
            return response
        app.extensions[_DUE] = now + INTERVAL
    response.call_on_close(lambda: (run(app), logout.deliver_after_commit(app)))  # and back-channel logouts due again
    return response


def init_app(app: Flask) -> None:
    app.after_request(_schedule)
