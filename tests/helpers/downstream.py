"""A tiny downstream app for forward-auth tests: answers with the headers it received."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from wsgiref.simple_server import WSGIRequestHandler, make_server

from tests.helpers.processes import free_port


class Received(dict):
    """The headers as a WSGI app reads them (from the environ); `.raw` holds the (name, value) pairs
    as they arrived. WSGI folds X_Auth_Org into X-Auth-Org, so only `.raw` shows such look-alikes."""

    raw: list[tuple[str, str]]


class _Handler(WSGIRequestHandler):
    def get_environ(self):
        environ = super().get_environ()
        environ["downstream.raw_headers"] = list(self.headers.items())
        return environ

    def log_message(self, *args):
        pass


@contextmanager
def downstream_app():
    """Yields (port, list of Received, one per request)."""
    seen: list[Received] = []

    def app(environ, start_response):
        headers = Received({k[5:].replace("_", "-").title(): v
                            for k, v in environ.items() if k.startswith("HTTP_")})
        headers.raw = environ["downstream.raw_headers"]
        seen.append(headers)
        body = json.dumps(headers)
        if "text/html" in environ.get("HTTP_ACCEPT", ""):
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [f"<h1>The app</h1><p id=who>{headers.get('X-Auth-Email', '')}</p><pre>{body}</pre>".encode()]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body.encode()]

    server = make_server("127.0.0.1", free_port(), app, handler_class=_Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port, seen
    finally:
        server.shutdown()
        server.server_close()
