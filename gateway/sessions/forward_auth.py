"""GET /auth/verify: forward-auth for nginx auth_request, Traefik ForwardAuth and Caddy forward_auth."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request
from flask_login import current_user

from gateway.redirects import is_safe_redirect

bp = Blueprint("forward_auth", __name__)


def original_url() -> str | None:
    """The URL the browser asked the proxy for, from the headers the proxy sets."""
    if url := request.headers.get("X-Original-URL"):
        return url
    host = request.headers.get("X-Forwarded-Host")
    if not host:
        return None
    proto = request.headers.get("X-Forwarded-Proto", "https")
    uri = request.headers.get("X-Forwarded-Uri", "/")
    return f"{proto}://{host}{uri}"


def _login_url() -> str:
    settings = current_app.extensions["idgate.settings"]
    target = original_url()
    query = f"?{urlencode({'next': target})}" if target and is_safe_redirect(target) else ""
    return f"{settings.base_url}/login{query}"


@bp.get("/auth/verify")
def verify():
    """200 with X-Auth-* for a full session; 401 with X-Auth-Redirect otherwise; 403 when
    the session does not meet ?org=SLUG or ?role=ROLE."""
    if not current_user.is_authenticated or current_user.ctx.restricted:
        return Response(status=401, headers={"X-Auth-Redirect": _login_url(), "Cache-Control": "no-store"})
    ctx = current_user.ctx
    wanted_org, wanted_role = request.args.get("org"), request.args.get("role")
    if (wanted_org and wanted_org != ctx.org_slug) or (wanted_role and wanted_role != ctx.role):
        return Response(status=403, headers={"Cache-Control": "no-store"})
    return Response(status=200, headers={
        "X-Auth-User-Id": str(ctx.user_id),
        "X-Auth-Email": header_value(ctx.email),
        "X-Auth-Name": header_value(ctx.name),
        "X-Auth-Org": ctx.org_slug or "",
        "X-Auth-Role": ctx.role or "",
        "Cache-Control": "no-store",
    })


def header_value(text: str) -> str:
    """Header values travel as UTF-8 bytes (as oauth2-proxy sends them); WSGI wants them as latin-1."""
    return text.encode("utf-8").decode("latin-1")
