"""The baseline for bench/verify_wrk.py: a bare Flask endpoint answering with the same headers."""

from flask import Flask, Response

app = Flask(__name__)
HEADERS = {"X-Auth-User-Id": "1", "X-Auth-Email": "ops@acme.example", "X-Auth-Name": "Olga Ops",
           "X-Auth-Org": "acme", "X-Auth-Role": "admin", "X-Auth-Token": "x" * 600, "Cache-Control": "no-store"}


@app.get("/auth/verify")
def verify():
    return Response(status=200, headers=HEADERS)
