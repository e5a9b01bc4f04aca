"""The OpenID Connect round trip answered before Flask: the authorization endpoint for a holder who
is signed in and has nothing left to do, the token endpoint, and userinfo with a bearer header.

A relying party's sign-in runs these three requests, and Flask's request machinery (its contexts,
a dozen hooks, the response object) cost as much as the provider's own work. This WSGI layer runs
the same provider (gateway.oidc.server's grants, through PlainServer) and the same decisions
(gateway.oidc.edge) on a plain werkzeug Request, inside an application context so that the
request's Session and the clock are the usual ones, and commits as Flask's edge does
(gateway.db.end_request_transaction). It decides nothing of its own: whatever it is not sure to
answer exactly as the views would (no session, a restricted one, any refusal or page at the
authorization endpoint, a form it would have to judge, a database error) is rolled back and goes
on to Flask, as /auth/verify's fast path does (gateway.sessions.fast_verify).

Answers carry what Flask's hooks add to every response (security headers, Cache-Control, the
request id) and are counted under the views' endpoint names (gateway.metrics.HotPathTally).
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from typing import NamedTuple

from authlib.oauth2.rfc6749.errors import OAuth2Error
from flask import Flask
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request
from werkzeug.wsgi import ClosingIterator

from gateway import MAX_FIELD_BYTES, form_is_utf8
from gateway.clock import now
from gateway.db import end_request_transaction, get_session
from gateway.logs import new_request_id
from gateway.metrics import HotPathTally
from gateway.oidc import authorize as decision
from gateway.oidc import edge
from gateway.oidc.server import EndUser
from gateway.sessions.cookies import token_from_environ
from gateway.sessions.login import verified_context
from gateway.tokens.introspection import basic_credentials_readable

log = logging.getLogger(__name__)

# (path, method) → the view's endpoint name, which the metrics use for both edges.
ROUTES = {("/oauth/authorize", "GET"): "oidc.authorize", ("/oauth/token", "POST"): "oidc.token",
          ("/oauth/userinfo", "GET"): "oidc.userinfo", ("/oauth/userinfo", "POST"): "oidc.userinfo"}
_FORM = "application/x-www-form-urlencoded"
_BODY = "idgate.oidc.body"  # the token request's body, read once: put back for Flask if it goes on
_STATUS = {code: f"{code} {reason.upper()}" for code, reason in HTTP_STATUS_CODES.items()}


class Reply(NamedTuple):
    status: int
    headers: list
    body: bytes


class FastOidc:
    def __init__(self, app: Flask):
        self.app, self.next = app, app.wsgi_app
        self.server = app.extensions["idgate.oidc_plain"]
        self.settings = app.extensions["idgate.settings"]
        # What Flask's hooks put on every answer of these views (gateway.web), each unless the answer has
        # its own; and Vary: Cookie where Flask's session was read: the authorization endpoint's (the
        # session cookie decides its answer; the others are decided by the Authorization header).
        common = list(app.extensions["idgate.page_headers"])
        self.defaults = {"oidc.authorize": [*common, ("Vary", "Cookie")], "oidc.token": common, "oidc.userinfo": common}
        self.answerers = {"oidc.authorize": self._authorize, "oidc.token": self._token,
                          "oidc.userinfo": self._userinfo}
        self.tallies = {endpoint: HotPathTally.of(endpoint) for endpoint in self.answerers}
        # (SQLite's transactions are begun by the engine's own hook, gateway.db: left as they are.)
        self.read_outside_transactions = app.extensions["idgate.engine"].dialect.name == "postgresql"

    def __call__(self, environ, start_response):
        endpoint = ROUTES.get((environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")))
        if endpoint is None:
            return self.next(environ, start_response)
        started = time.perf_counter()
        reply, after_commit = None, []
        with self.app.app_context():
            try:
                reply = self.answerers[endpoint](environ)
                after_commit = end_request_transaction(keep=reply is not None and reply.status < 500)
            except DBAPIError:  # Flask answers a database it cannot reach (503), and says so
                _abandon()
                reply = None
            except Exception:  # noqa: BLE001 - a fault of this path's own must not become the caller's 500
                log.exception("the OpenID Connect fast path failed; Flask answers instead")
                _abandon()
                reply = None
        if reply is None:
            if _BODY in environ:
                environ["wsgi.input"] = io.BytesIO(environ[_BODY])
            return self.next(environ, start_response)
        headers = list(reply.headers)
        present = {name.lower() for name, _ in headers}
        headers += [(name, value) for name, value in self.defaults[endpoint] if name.lower() not in present]
        headers += [("Content-Length", str(len(reply.body))),
                    ("X-Request-Id", new_request_id(environ.get("HTTP_X_REQUEST_ID", "")))]
        start_response(_STATUS[reply.status], headers)
        self.tallies[endpoint].observe(str(reply.status), time.perf_counter() - started, environ["REQUEST_METHOD"])
        if after_commit:  # (queued by a service: run once the answer is sent, as Flask's edge runs them)
            return ClosingIterator([reply.body], lambda: [run(self.app) for run in dict.fromkeys(after_commit)])
        return [reply.body]

    def _authorize(self, environ) -> Reply | None:
        request = Request(environ)
        # A `next` here is a page on its way to a client, which Flask's hook names (gateway.oidc.views).
        if "next" in request.args or not edge.readable(request.values):
            return None
        token = token_from_environ(environ)
        ctx = verified_context(token) if token else None  # the verify cache's, else the database's
        moment = now()
        if ctx is None or moment >= ctx.expires_at:  # (a restricted one: the decision sends it to its step)
            return None
        user = EndUser(ctx, ctx.started_at)
        try:
            grant = self.server.get_consent_grant(request, end_user=user)
            asked = edge.asked(grant, method="GET", form={})
        except (OAuth2Error, ValueError):
            return None  # refused by the view, the one place refusals are worded
        if edge.decide(get_session(), grant, ctx, asked, now=moment).step is not decision.Step.ISSUE:
            return None
        answer = self.server.create_authorization_response(grant.request, grant_user=user, grant=grant)
        if answer.status != 302:  # (an error with no redirect URI to carry it: the view's page)
            return None
        return Reply(answer.status, [("Content-Type", "text/html; charset=utf-8"), *answer.headers], b"")

    def _token(self, environ) -> Reply | None:
        if not _read_form(environ):
            return None
        request = Request(environ)
        if not basic_credentials_readable(request.headers.get("Authorization", "")) \
                or not edge.readable(request.values):
            return None
        try:
            answer = self.server.create_token_response(request)
        except ValueError:
            return None
        return Reply(answer.status, answer.headers, _json(self.app, answer.payload))

    def _userinfo(self, environ) -> Reply | None:
        token = edge.bearer(environ.get("HTTP_AUTHORIZATION"))
        if token is None:
            return None  # (a form's access_token: Flask reads forms)
        db = get_session()
        if self.read_outside_transactions and isinstance(db.bind, Engine):
            # One read and no write: PostgreSQL answers it without BEGIN and COMMIT, two round trips
            # of the three this request would cost it. (A Session joined to a transaction of its
            # caller's, as the tests bind theirs, reads inside that one.)
            db.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        status, payload, headers = edge.userinfo(db, token, settings=self.settings, now=now())
        # As jsonify writes it: compact, a newline last.
        body = (self.app.json.dumps(payload, separators=(",", ":")) + "\n").encode()
        return Reply(status, [("Content-Type", "application/json"), *headers], body)


def _abandon() -> None:
    """Roll back what the request wrote before Flask takes it over (a broken connection: nothing to roll back)."""
    with contextlib.suppress(DBAPIError):
        end_request_transaction(keep=False)


def _read_form(environ) -> bool:
    """Read a plain urlencoded form's body (kept in the environ, for the request and for Flask);
    False for anything else: another type, no length, more than one field may hold, %-escapes that
    are not UTF-8 (Flask's checks refuse those, gateway._refuse_malformed_input)."""
    mimetype = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
    length = environ.get("CONTENT_LENGTH") or ""
    if mimetype != _FORM or not length.isdigit() or int(length) > MAX_FIELD_BYTES:
        return False
    body = environ[_BODY] = environ["wsgi.input"].read(int(length))
    environ["wsgi.input"] = io.BytesIO(body)
    return form_is_utf8(body)


def _json(app: Flask, payload) -> bytes:
    """The body as the Flask provider's handle_response writes it (flask.json.dumps of a dict)."""
    return (app.json.dumps(payload) if isinstance(payload, dict) else payload or "").encode()
