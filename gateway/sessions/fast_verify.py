"""The forward-auth hot path, answered before Flask for sessions resolved within the last second.

/auth/verify is called for every request to every app behind idgate. When the caller's session
is in the one-second cache (gateway.sessions.cache), the answer needs no database, no CSRF,
no rate limiter and no template: only the cached context and the reused token. This WSGI layer
gives exactly that answer, with the same headers, metrics and request id as the Flask view
(gateway.sessions.forward_auth), and hands everything else to Flask: first sightings, missing or
restricted sessions, redirects, any other path.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

from flask import Flask
from werkzeug.http import parse_cookie

from gateway.logs import new_request_id
from gateway.metrics import LATENCY, REQUESTS, VERIFY_TOKEN_CACHE
from gateway.sessions import cache
from gateway.sessions.cookies import COOKIE_NAME
from gateway.sessions.forward_auth import header_value
from gateway.sessions.services import hash_token
from gateway.tokens.jwt import token_for

ENDPOINT = "forward_auth.verify"


def _token(environ) -> str | None:
    header = environ.get("HTTP_AUTHORIZATION", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    if "HTTP_COOKIE" in environ:
        try:
            return parse_cookie(environ).get(COOKIE_NAME) or None
        except UnicodeDecodeError:  # not UTF-8: no token of ours
            return None
    return None


class FastVerify:
    def __init__(self, app: Flask):
        self.app = app
        self.next = app.wsgi_app
        self.settings = app.extensions["idgate.settings"]
        self.clock = app.extensions["idgate.clock"]

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != "/auth/verify" or environ.get("REQUEST_METHOD") != "GET":
            return self.next(environ, start_response)
        started = time.perf_counter()
        token = _token(environ)
        ctx = cache.get(hash_token(token)) if token and len(token) <= 128 else None
        pairs = parse_qsl(environ.get("QUERY_STRING", ""))
        query = dict(pairs)
        # Anything unusual, a repeated key too (Flask reads the first, dict() keeps the last), goes the long way.
        if ctx is None or ctx.restricted or set(query) - {"org", "role"} or len(query) != len(pairs):
            return self.next(environ, start_response)
        request_id = new_request_id(environ.get("HTTP_X_REQUEST_ID", ""))
        if (query.get("org") and query["org"] != ctx.org_slug) or (query.get("role") and query["role"] != ctx.role):
            status, headers = "403 FORBIDDEN", [("Cache-Control", "no-store")]
        else:
            jwt, reused = token_for(ctx, self.settings, self.clock.now())
            VERIFY_TOKEN_CACHE.labels("hit" if reused else "miss").inc()
            status, headers = "200 OK", [
                ("X-Auth-User-Id", str(ctx.user_id)), ("X-Auth-Email", header_value(ctx.email)),
                ("X-Auth-Name", header_value(ctx.name)), ("X-Auth-Org", ctx.org_slug or ""),
                ("X-Auth-Role", ctx.role or ""), ("X-Auth-Token", jwt), ("Cache-Control", "no-store"),
            ]
        headers += [("X-Request-Id", request_id), ("Content-Length", "0")]
        start_response(status, headers)
        LATENCY.labels(ENDPOINT).observe(time.perf_counter() - started)
        REQUESTS.labels(ENDPOINT, "GET", status[:3]).inc()
        return [b""]
