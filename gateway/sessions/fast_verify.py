"""The forward-auth hot path, answered before Flask whenever no database is needed.

/auth/verify is called for every request to every app behind idgate. When the request carries no
token, or its session is in the verify cache (gateway.sessions.cache), the answer needs no
database, no CSRF, no rate limiter and no template. This WSGI layer reads the request's facts,
asks gateway.sessions.forward_auth.decide (the same decision the Flask view asks) and sends its
answer with the headers every response of ours carries (framing, request id) and the same
metrics; everything else (a session not in memory, any other path) goes on to Flask.
"""

from __future__ import annotations

import time

from flask import Flask

from gateway.logs import new_request_id
from gateway.metrics import LATENCY, REQUESTS
from gateway.sessions import forward_auth
from gateway.sessions.cache import cache_of
from gateway.sessions.services import hash_token
from gateway.web import FRAMING_HEADERS

ENDPOINT = "forward_auth.verify"


class FastVerify:
    def __init__(self, app: Flask):
        self.next = app.wsgi_app
        self.settings = app.extensions["idgate.settings"]
        self.cache = cache_of(app)
        self.mint = forward_auth.minter(self.settings, app.extensions["idgate.clock"])
        self.latency = LATENCY.labels(ENDPOINT)
        self.requests = {}  # status → its counter, bound once

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != "/auth/verify" or environ.get("REQUEST_METHOD") != "GET":
            return self.next(environ, start_response)
        started = time.perf_counter()
        facts = forward_auth.read_facts(environ)
        ctx = None
        if facts.token and not facts.problem:
            ctx = self.cache.get(hash_token(facts.token))
            if ctx is None:
                return self.next(environ, start_response)  # the database decides who this is
        answer = forward_auth.decide(ctx, facts, settings=self.settings, mint=self.mint)
        start_response(answer.status, [
            *answer.headers, *FRAMING_HEADERS, ("Content-Length", str(len(answer.body))),
            ("X-Request-Id", new_request_id(environ.get("HTTP_X_REQUEST_ID", ""))),
        ])
        self.latency.observe(time.perf_counter() - started)
        counter = self.requests.get(answer.status)
        if counter is None:
            counter = self.requests[answer.status] = REQUESTS.labels(ENDPOINT, "GET", answer.status[:3])
        counter.inc()
        return [answer.body]
