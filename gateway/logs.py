"""Logging: JSON lines with a request id, and no secrets in them."""

from __future__ import annotations

import json
import logging
import re
import random
from datetime import datetime, timezone

from flask import Flask, g, has_request_context, request

# Paths that carry a secret in themselves.
_SECRET_PATHS = re.compile(r"^(/invite/|/password/reset/)[^/?#\s]+")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def redact_path(path: str) -> str:
    """`/invite/<code>` becomes `/invite/[redacted]` (and `/password/reset/<code>` alike); other paths
    pass unchanged."""
    # A function, not a template string: re parses a template on every call (2 µs a request).
    return _SECRET_PATHS.sub(_redacted, path or "")


def _redacted(match: re.Match) -> str:
    return match[1] + "[redacted]"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request id, method, path (redacted)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context():
            entry.update(request_id=g.get("request_id"), method=request.method, path=redact_path(request.path))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_json_logging(level: int = logging.INFO) -> None:
    """Route the app's and our loggers' records to stderr as JSON (called by `idgate serve`)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    for name in ("idgate", "gateway"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False


def new_request_id(incoming: str) -> str:
    # Keep a proxy's id when it looks like one, so a request can be followed across hops.
    # Not a secret, only unique: the Mersenne Twister (reseeded in every forked worker) costs
    # a tenth of a system call for random bytes, on every request of the hot path.
    return incoming if incoming and _REQUEST_ID.match(incoming) else f"{random.getrandbits(64):016x}"


def _assign_request_id():
    g.request_id = new_request_id(request.headers.get("X-Request-Id", ""))


def _echo_request_id(response):
    if "request_id" in g:
        response.headers["X-Request-Id"] = g.request_id
    return response


def init_app(app: Flask) -> None:
    # Ahead of every other hook: a request one of them refuses (CSRF, a malformed form) has an id too.
    app.before_request_funcs.setdefault(None, []).insert(0, _assign_request_id)
    app.after_request(_echo_request_id)
