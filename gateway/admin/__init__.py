"""The admin console: server-rendered pages over the same services as the JSON API."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from gateway.admin import audit, invitations, mfa, sso, users  # noqa: E402,F401  (routes register on bp)
