"""Prometheus metrics: requests and latency per endpoint, sign-ins by outcome, SAML failures by reason,
verify token cache hits, outbox backlog, expired rows deleted.

With several workers, `idgate serve` sets PROMETHEUS_MULTIPROC_DIR so that /metrics adds up every
worker (gateway/server.py).
"""

from __future__ import annotations

import os
import threading
import time
from bisect import bisect_left
from collections import Counter as Counter_, deque

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY

from sqlalchemy.exc import SQLAlchemyError

from gateway.db import get_session

bp = Blueprint("metrics", __name__)

REQUESTS = Counter("idgate_http_requests_total", "HTTP requests", ["endpoint", "method", "status"])
LATENCY = Histogram("idgate_http_request_duration_seconds", "HTTP request latency", ["endpoint"],
                    buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))
SIGNINS = Counter("idgate_signins_total", "Sign-in attempts by method and outcome", ["method", "outcome"])
SAML_FAILURES = Counter("idgate_saml_validation_failures_total", "Refused SAML sign-ins by reason", ["reason"])
VERIFY_TOKEN_CACHE = Counter("idgate_verify_token_cache_total", "Downstream token reuse at /auth/verify",
                             ["result"])
HOUSEKEEPING_DELETED = Counter("idgate_housekeeping_deleted_total", "Expired rows deleted by housekeeping",
                               ["table"])

class HotPathTally:
    """What a fast path (/auth/verify's, the OpenID Connect provider's) observes (requests, latency, token reuse), added to Prometheus
    in batches.

    Under `idgate serve` every metric write goes to a memory-mapped file that /metrics reads; on a
    path that answers in microseconds, four such writes a request cost a fifth of its throughput.
    A request appends one tuple instead (a deque is safe across threads); a thread adds them up
    every FLUSH_SECONDS, and /metrics takes what its own process holds first. Another worker's
    last fraction of a second shows at the next flush.
    """

    FLUSH_SECONDS = 0.2

    @classmethod
    def of(cls, endpoint: str) -> "HotPathTally":
        """One tally an endpoint and process, with its thread (apps built in one process share it)."""
        with _tallies_lock:
            key = (os.getpid(), endpoint)
            if key not in _tallies:
                _tallies[key] = cls(endpoint)
            return _tallies[key]

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self._pending: deque = deque()
        self._tokens: deque = deque()
        self._lock = threading.Lock()
        threading.Thread(target=self._flush_every, name="idgate-metrics", daemon=True).start()

    def observe(self, status: str, seconds: float, method: str = "GET") -> None:
        self._pending.append((method, status, seconds))

    def token(self, reused: bool) -> None:
        """A downstream token handed out: reused, or newly minted."""
        self._tokens.append(reused)

    def _flush_every(self) -> None:
        while True:
            time.sleep(self.FLUSH_SECONDS)
            self.flush()

    def flush(self) -> None:
        with self._lock:
            statuses, latency = Counter_(), LATENCY.labels(self.endpoint)
            buckets, total = [0] * len(latency._upper_bounds), 0.0
            pending = self._pending
            while pending:
                method, status, seconds = pending.popleft()
                statuses[method, status] += 1
                total += seconds
                buckets[bisect_left(latency._upper_bounds, seconds)] += 1
            for (method, status), count in statuses.items():
                REQUESTS.labels(self.endpoint, method, status).inc(count)
            reuse, tokens = Counter_(), self._tokens
            while tokens:
                reuse["hit" if tokens.popleft() else "miss"] += 1
            for result, count in reuse.items():
                VERIFY_TOKEN_CACHE.labels(result).inc(count)
            # Histogram.observe's own arithmetic (sum, then the first bucket whose bound holds the
            # value), once for the batch: prometheus-client has no batch call.
            if total or any(buckets):
                latency._sum.inc(total)
                for index, count in enumerate(buckets):
                    if count:
                        latency._buckets[index].inc(count)


_tallies: dict = {}
_tallies_lock = threading.Lock()

_SIGNIN_ACTIONS = {"login:success": "success", "login:failure": "failure", "login:throttled": "throttled"}


def observe_audit_event(action: str, details: dict) -> None:
    """Count what the audit log records (the one place every sign-in event passes)."""
    if action in _SIGNIN_ACTIONS:
        SIGNINS.labels(details.get("method", "password"), _SIGNIN_ACTIONS[action]).inc()
    elif action == "saml:login_denied":
        SIGNINS.labels("saml", "denied").inc()
        SAML_FAILURES.labels(str(details.get("reason", "unknown"))[:64]).inc()


def _start_timer():
    g.metrics_started = time.perf_counter()


def _observe(response):
    started = g.pop("metrics_started", None)
    if started is not None:
        # The endpoint name, never the raw path: paths carry ids and secrets and would explode cardinality.
        endpoint = request.endpoint or "unmatched"
        LATENCY.labels(endpoint).observe(time.perf_counter() - started)
        REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
    return response


def _registry():
    if path := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        _forget_dead_workers(path)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def _forget_dead_workers(path: str) -> None:
    """A worker that is gone no longer counts in the live gauges (its counters still add up).

    Granian tells nobody when a worker exits or is respawned; its files name its pid, and a
    scrape asks whether that process is still there.
    """
    for name in os.listdir(path):
        if name.startswith("gauge_live"):
            pid = int(name.rsplit("_", 1)[1].removesuffix(".db"))
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                multiprocess.mark_process_dead(pid, path)
            except PermissionError:  # alive, another user's
                pass


@bp.get("/metrics")
def metrics():
    from gateway.mail.outbox import backlog

    for tally in list(_tallies.values()):
        tally.flush()
    body = generate_latest(_registry()).decode()
    try:
        waiting = backlog(get_session())
    except SQLAlchemyError:  # metrics stay readable while the database is down
        return Response(body, mimetype=CONTENT_TYPE_LATEST.split(";")[0])
    body += ("# HELP idgate_outbox_backlog Mail waiting in the outbox\n# TYPE idgate_outbox_backlog gauge\n"
             f"idgate_outbox_backlog {waiting}\n")
    return Response(body, mimetype=CONTENT_TYPE_LATEST.split(";")[0])


def init_app(app: Flask) -> None:
    app.before_request(_start_timer)
    app.after_request(_observe)
    app.register_blueprint(bp)
