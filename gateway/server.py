"""Running the app under granian from `idgate serve`: worker processes, access log, metrics, shutdown."""

from __future__ import annotations

import atexit
import multiprocessing
import multiprocessing.util
import os
import select
import shutil
import tempfile
import threading
import time
from collections import deque
from json.encoder import encode_basestring_ascii as _json_string

from gateway.logs import redact_path

# Granian's own lines (start, workers, shutdown) as JSON on stderr, like the app's.
_GRANIAN_LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "gateway.logs.JsonFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    "loggers": {"_granian": {"handlers": ["stderr"], "level": "INFO", "propagate": False}},
}
# Seconds that requests in flight get to finish after SIGTERM, before a worker is killed.
GRACEFUL_TIMEOUT = 20


class AccessLog:
    """One JSON line a request on stdout, written from the response our app gave.

    Granian's access log sees the request only; the request id is in the response (X-Request-Id,
    set by Flask and by the /auth/verify fast path alike), so the line is ours. The path, never the
    query string, with invitation codes redacted; `remote` is the client address the app believed
    (after IDGATE_TRUSTED_PROXIES).

    Lines wait at most FLUSH_SECONDS and are written together, as nginx's `buffer=` does: one
    system call a request was a sixth of /auth/verify's throughput. Each write holds whole lines
    and at most PIPE_BUF bytes, so lines from several workers sharing a pipe never interleave. The
    rest is written when the worker exits; only a killed worker loses its last fraction of a second.
    """

    def __init__(self, app, fd: int = 1):
        # Around Flask only: the /auth/verify fast path in front of it records its own lines.
        fast_path = app.extensions["idgate.fast_verify"]
        fast_path.access_log = self.record
        self.app, fast_path.next = fast_path.next, self
        self.wsgi_app = app.wsgi_app  # what the server runs (the fast path, behind ProxyFix if set)
        self.fd = fd
        self._lines: deque[bytes] = deque()  # append and popleft are safe across threads
        self._flushing = threading.Lock()
        threading.Thread(target=self._flush_every, name="idgate-access-log", daemon=True).start()
        # Spawned workers leave through multiprocessing, which runs its finalizers, not atexit's.
        multiprocessing.util.Finalize(self, self.flush, exitpriority=100)
        atexit.register(self.flush)

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        response = []

        def start(status, headers, exc_info=None):
            response[:] = status, headers
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, start)
        finally:
            self.record(environ, *(response or ("500", ())), time.perf_counter() - started)

    def record(self, environ, status: str, headers, seconds: float) -> None:
        self._lines.append(_line(environ, status, headers, seconds))

    def _flush_every(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            self.flush()

    def flush(self) -> None:
        with self._flushing:
            chunk, lines = [], self._lines
            size = 0
            while lines:
                line = lines.popleft()
                if size + len(line) > select.PIPE_BUF and chunk:
                    self._write(b"".join(chunk))
                    chunk, size = [], 0
                chunk.append(line)
                size += len(line)
            if chunk:
                self._write(b"".join(chunk))

    def _write(self, data: bytes) -> None:
        try:
            os.write(self.fd, data)
        except OSError:  # stdout gone or full: the requests have been answered, losing lines is the lesser harm
            pass


FLUSH_SECONDS = 0.2
_REMOTES: dict[str, str] = {}  # the few addresses a gateway hears from (its proxies), quoted once
_METHODS = {method: _json_string(method) for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")}


def _line(environ, status: str, headers, seconds: float) -> bytes:
    request_id = length = None
    for name, value in reversed(headers):  # both come last, from our own after-request hooks
        name = name.lower()
        if name == "x-request-id":
            request_id = value
        elif name == "content-length":
            length = value
        else:
            continue
        if request_id is not None and length is not None:
            break
    method = environ.get("REQUEST_METHOD", "")
    remote = environ.get("REMOTE_ADDR") or "-"
    quoted = _REMOTES.get(remote)
    if quoted is None:
        if len(_REMOTES) > 1024:
            _REMOTES.clear()
        quoted = _REMOTES[remote] = _json_string(remote)
    # Formatted by hand: a third of json.dumps's cost on a request that itself takes microseconds.
    return (f'{{"remote": {quoted}, '
            f'"method": {_METHODS.get(method) or _json_string(method)}, '
            f'"path": {_json_string(redact_path(_path(environ)))}, "status": {int(status[:3])}, '
            f'"bytes": {int(length) if length and length.isdigit() else "null"}, "ms": {seconds * 1000:.2f}, '
            f'"request_id": {_json_string(request_id) if request_id else "null"}}}\n').encode()


def _path(environ) -> str:
    path = environ.get("PATH_INFO", "")
    # WSGI hands the path over as bytes in latin-1; show what the client wrote.
    return path if path.isascii() else path.encode("latin-1").decode("utf-8", "replace")


def worker_app():
    """Granian's factory: every worker process builds its own app once it has started.

    Nothing crosses from the parent: no database connection, no background thread, no metric
    value (the workers are spawned, not forked).
    """
    from gateway import create_app
    from gateway.logs import configure_json_logging

    configure_json_logging()
    return AccessLog(create_app()).wsgi_app


def run(*, host: str, port: int, workers: int, threads: int) -> None:
    """Serve until SIGTERM or SIGINT; then requests in flight finish (GRACEFUL_TIMEOUT at most)."""
    from granian import Granian
    from granian.constants import Interfaces, RuntimeModes

    metrics_dir = _metrics_dir()
    # Spawned, so that each worker imports prometheus-client after PROMETHEUS_MULTIPROC_DIR is
    # set (its mode is chosen at import) and starts with no thread or connection of the parent's.
    multiprocessing.set_start_method("spawn", force=True)
    server = Granian(
        "gateway.server:worker_app", factory=True, interface=Interfaces.WSGI,
        address=host, port=port, workers=workers, blocking_threads=threads, websockets=False,
        # One Rust thread a worker either way (its default); the single-threaded runtime spares that thread
        # the multi-threaded scheduler's hand-offs, which /auth/verify behind nginx measured (bench/verify_wrk.py).
        runtime_mode=RuntimeModes.st,
        workers_kill_timeout=GRACEFUL_TIMEOUT, respawn_failed_workers=True, log_dictconfig=_GRANIAN_LOGGING,
    )
    try:
        server.serve()
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _metrics_dir() -> str | None:
    """Metrics from every worker add up at /metrics (prometheus-client's multiprocess mode).

    Returns the directory to remove at exit when it is ours. One set of workers a directory:
    files left by an earlier run would be added in, so they are removed first.
    """
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not given:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="idgate-metrics-")
        return os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(given, exist_ok=True)
    for name in os.listdir(given):
        if name.endswith(".db"):
            os.remove(os.path.join(given, name))
    return None
