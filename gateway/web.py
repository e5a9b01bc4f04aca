"""Small helpers shared by the HTML views."""

from __future__ import annotations

from flask import current_app

from gateway.accounts.passwords import Passwords
from gateway.config import Settings


def settings() -> Settings:
    return current_app.extensions["idgate.settings"]


def passwords() -> Passwords:
    return current_app.extensions["idgate.passwords"]
