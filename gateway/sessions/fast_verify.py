"""The forward-auth hot path, answered before Flask whenever no database is needed.

/auth/verify is called for every request to every app behind idgate. When the request carries no
token, or its session is in the verify cache (gateway.sessions.cache), the answer needs no
database, no CSRF, no rate limiter and no template. This WSGI layer reads the request's facts,
asks gateway.sessions.forward_auth.decide (the same decision the Flask view asks) and sends its
answer with the headers every response of ours carries (the request id; gateway.web.security_headers
on those a browser may be shown) and the same metrics; everything else (a session not in memory,
any other path) goes on to Flask.

A session asking again for the same address gets the answer it got last time (`Answers`), while
nothing that answer was decided from can have moved; most of the layer's own time went to reading
the original URL, deciding and finding the downstream token again.
"""

from __future__ import annotations

import time

from flask import Flask
from sqlalchemy.exc import DBAPIError

from gateway.logs import new_request_id
from gateway.metrics import HotPathTally
from gateway.sessions import forward_auth
from gateway.sessions.cache import TTL_SECONDS, cache_of
from gateway.sessions.cookies import token_from_environ
from gateway.sessions.services import hash_token

ENDPOINT = "forward_auth.verify"
# Every request header read_facts reads besides the token's (the query string comes first in a key).
_FACT_HEADERS = ("HTTP_X_ORIGINAL_URL", "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_URI")


class Answers:
    """The last answer each (session, request facts) got, given again while it is what `decide`
    would answer: the same SessionContext object (the verify cache hands out a new one whenever it
    reads the session again, so an invalidation or its TTL ends the answer too), the same app
    directory object (reloaded when access changes), and younger than the downstream token's reuse
    (gateway.tokens.jwt reuses a token while a third of its life is left), by the app's clock.

    Keyed by the token's hash and the raw texts read_facts reads, so two requests that share a key
    are decided from the same facts; bounded, and forgotten whole when full.
    """

    MAX_ENTRIES = 20_000
    MAX_KEY_CHARACTERS = 2_048  # longer addresses are decided afresh rather than held

    def __init__(self, clock, token_ttl_seconds: float):
        self.clock = clock
        self.seconds = min(TTL_SECONDS, token_ttl_seconds / 3)
        self._answers: dict = {}

    @staticmethod
    def key(token_hash: str, environ) -> tuple | None:
        query = environ.get("QUERY_STRING", "")
        url, host, proto, uri = map(environ.get, _FACT_HEADERS)
        size = len(query) + len(url or "") + len(host or "") + len(proto or "") + len(uri or "")
        return (token_hash, query, url, host, proto, uri) if size <= Answers.MAX_KEY_CHARACTERS else None

    def get(self, key: tuple, ctx, directory) -> forward_auth.Answer | None:
        held = self._answers.get(key)
        if held is None or held[0] is not ctx or held[1] is not directory:
            return None
        if self.clock.now().timestamp() - held[3] >= self.seconds:
            return None
        return held[2]

    def put(self, key: tuple, ctx, directory, answer: forward_auth.Answer) -> None:
        if len(self._answers) >= self.MAX_ENTRIES:
            self._answers.clear()
        self._answers[key] = (ctx, directory, answer, self.clock.now().timestamp())


class FastVerify:
    def __init__(self, app: Flask):
        self.next = app.wsgi_app
        self.settings = app.extensions["idgate.settings"]
        self.cache = cache_of(app)
        self.directories = app.extensions["idgate.app_directory"]
        self.security_headers = app.extensions["idgate.security_headers"]
        self.tally = HotPathTally.of(ENDPOINT)
        self.mint = forward_auth.minter(self.settings, app.extensions["idgate.clock"], count=self.tally.token)
        self.answers = Answers(app.extensions["idgate.clock"], self.settings.token_ttl.total_seconds())
        # record(environ, status, headers, seconds), set by the server's access log: the fast path
        # writes its own line rather than run inside a wrapper (a sixth of its throughput).
        self.access_log = None

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != "/auth/verify" or environ.get("REQUEST_METHOD") != "GET":
            return self.next(environ, start_response)
        started = time.perf_counter()
        token = token_from_environ(environ)
        if token is None:
            ctx = key = None
            facts = forward_auth.read_facts(environ)
        else:
            token_hash = hash_token(token)
            ctx = self.cache.get(token_hash)
            if ctx is None:
                return self.next(environ, start_response)  # the database decides who this is
            key, facts = Answers.key(token_hash, environ), None
        try:
            directory = self.directories.current()  # from memory unless access changed
        except DBAPIError:
            return self.next(environ, start_response)  # Flask answers a database it cannot reach
        answer = self.answers.get(key, ctx, directory) if key is not None else None
        if answer is None:
            answer = forward_auth.decide(ctx, facts or forward_auth.read_facts(environ), directory=directory,
                                         settings=self.settings, mint=self.mint)
            if key is not None:
                self.answers.put(key, ctx, directory, answer)
        elif answer.status[0] == "2":
            self.tally.token(True)  # the downstream token it carries, reused
        headers = [*answer.headers, *(self.security_headers if answer.shown_to_browser else ()),
                   ("Content-Length", str(len(answer.body))),
                   ("X-Request-Id", new_request_id(environ.get("HTTP_X_REQUEST_ID", "")))]
        start_response(answer.status, headers)
        seconds = time.perf_counter() - started
        self.tally.observe(answer.status[:3], seconds)
        if self.access_log is not None:
            self.access_log(environ, answer.status, headers, seconds)
        return [answer.body]
