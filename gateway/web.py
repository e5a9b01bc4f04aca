"""Small helpers shared by the HTML views."""

from __future__ import annotations

from flask import Response, current_app

from gateway.accounts.passwords import Passwords
from gateway.config import Settings


def settings() -> Settings:
    return current_app.extensions["idgate.settings"]


def passwords() -> Passwords:
    return current_app.extensions["idgate.passwords"]


# No page of ours may be shown inside another site's frame: a hidden frame over a decoy would
# let that site steer clicks onto our buttons (deactivate, continue to an IdP, sign out).
FRAMING_HEADERS = (("X-Frame-Options", "DENY"), ("Content-Security-Policy", "frame-ancestors 'none'"))


def refuse_framing(response: Response) -> Response:
    for name, value in FRAMING_HEADERS:
        response.headers.setdefault(name, value)
    return response
