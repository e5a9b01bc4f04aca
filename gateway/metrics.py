"""Prometheus metrics: requests and latency per endpoint, sign-ins by outcome, SAML failures by reason,
verify token cache hits, outbox backlog, expired rows deleted.

Under gunicorn with several workers, `idgate serve` sets PROMETHEUS_MULTIPROC_DIR so that
/metrics adds up every worker.
"""

from __future__ import annotations

import os
import time

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
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


@bp.get("/metrics")
def metrics():
    from gateway.mail.outbox import backlog

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
