"""A tiny downstream app for forward-auth tests: answers with the headers it received."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from wsgiref.simple_server import WSGIRequestHandler, make_server

from tests.helpers.processes import free_port


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@contextmanager
def downstream_app():
    """Yields (port, list of received header dicts)."""
    seen: list[dict] = []

    def app(environ, start_response):
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
        seen.append(headers)
        body = json.dumps(headers)
        if "text/html" in environ.get("HTTP_ACCEPT", ""):
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [f"<h1>The app</h1><p id=who>{headers.get('X-Auth-Email', '')}</p><pre>{body}</pre>".encode()]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body.encode()]

    server = make_server("127.0.0.1", free_port(), app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port, seen
    finally:
        server.shutdown()
        server.server_close()
