"""Running the app under gunicorn from `idgate serve`."""

from __future__ import annotations

import os
import tempfile

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from gateway.logs import redact_path


# JSON lines; the path only (never a query string), invitation codes redacted by the logger.
ACCESS_LOG_FORMAT = ('{"remote": "%(h)s", "method": "%(m)s", "path": "%(U)s", "status": %(s)s, '
                     '"bytes": "%(b)s", "ms": %(M)s, "request_id": "%({x-request-id}o)s"}')


class RedactingLogger(Logger):
    """gunicorn's access log without the secrets some paths carry (invitation codes)."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["U"] = redact_path(atoms.get("U", ""))
        atoms["r"] = "-"  # the request line holds the raw path and query: never log it
        return atoms


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        # Each worker builds its own app after the fork: no shared connections.
        from gateway import create_app
        from gateway.logs import configure_json_logging

        configure_json_logging()
        return create_app()


def run(*, host: str, port: int, workers: int, threads: int) -> None:
    # Metrics from every worker add up at /metrics (prometheus-client's multiprocess mode).
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="idgate-metrics-")
    _Gunicorn({
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "graceful_timeout": 20,
        "timeout": 60,
        "accesslog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "logger_class": RedactingLogger,
    }).run()
