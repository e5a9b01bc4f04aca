"""The demo downstream app: prints the identity that nginx passed on from idgate."""

from html import escape
from wsgiref.simple_server import make_server

FIELDS = ("X-Auth-User-Id", "X-Auth-Email", "X-Auth-Name", "X-Auth-Org", "X-Auth-Role", "X-Auth-Groups",
          "X-Auth-Amr")


def app(environ, start_response):
    rows = "".join(
        f"<tr><th>{name}</th><td>{escape(environ.get('HTTP_' + name.upper().replace('-', '_'), ''))}</td></tr>"
        for name in FIELDS)
    body = (f"<h1>Hello from the app behind idgate</h1><table>{rows}</table>"
            "<p><a href=/account>Your account and sign-out</a></p>").encode()
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [body]


if __name__ == "__main__":
    make_server("0.0.0.0", 8001, app).serve_forever()
