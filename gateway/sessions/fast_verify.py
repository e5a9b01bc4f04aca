"""The forward-auth hot path, answered before Flask whenever no database is needed.

/auth/verify is called for every request to every app behind idgate. When the request carries no
token, or its session is in the verify cache (gateway.sessions.cache), the answer needs no
database, no CSRF, no rate limiter and no template. This WSGI layer reads the request's facts,
asks gateway.sessions.forward_auth.decide (the same decision the Flask view asks) and sends its
answer with the headers every response of ours carries (the request id; gateway.web.security_headers
on those a browser may be shown) and the same metrics; everything else (a session not in memory,
any other path) goes on to Flask.
"""

from __future__ import annotations

import time

from flask import Flask
from sqlalchemy.exc import DBAPIError

from gateway.logs import new_request_id
from gateway.metrics import HotPathTally
from gateway.sessions import forward_auth
from gateway.sessions.cache import cache_of
from gateway.sessions.services import hash_token

ENDPOINT = "forward_auth.verify"


class FastVerify:
    def __init__(self, app: Flask):
        self.next = app.wsgi_app
        self.settings = app.extensions["idgate.settings"]
        self.cache = cache_of(app)
        self.directories = app.extensions["idgate.app_directory"]
        self.security_headers = app.extensions["idgate.security_headers"]
        self.tally = HotPathTally.of(ENDPOINT)
        self.mint = forward_auth.minter(self.settings, app.extensions["idgate.clock"], count=self.tally.token)
        # record(environ, status, headers, seconds), set by the server's access log: the fast path
        # writes its own line rather than run inside a wrapper (a sixth of its throughput).
        self.access_log = None

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
        try:
            directory = self.directories.current()  # from memory unless access changed
        except DBAPIError:
            return self.next(environ, start_response)  # Flask answers a database it cannot reach
        answer = forward_auth.decide(ctx, facts, directory=directory, settings=self.settings, mint=self.mint)
        headers = [*answer.headers, *(self.security_headers if answer.shown_to_browser else ()),
                   ("Content-Length", str(len(answer.body))),
                   ("X-Request-Id", new_request_id(environ.get("HTTP_X_REQUEST_ID", "")))]
        start_response(answer.status, headers)
        seconds = time.perf_counter() - started
        self.tally.observe(answer.status[:3], seconds)
        if self.access_log is not None:
            self.access_log(environ, answer.status, headers, seconds)
        return [answer.body]
