"""GET /auth/verify: forward-auth for nginx auth_request, Traefik ForwardAuth and Caddy forward_auth.

Modes:
- default (nginx `auth_request`): 401 with `X-Auth-Redirect: <base>/login?next=<original URL>`;
  nginx turns that into a redirect with `error_page 401`.
- `?redirect=1` (Traefik, Caddy): a browser without a session gets a 302 to the sign-in page
  straight away, because those proxies pass the auth server's answer to the browser.
`?rd=URL` names where to return after sign-in instead of the original URL (checked like `next`).
`?org=SLUG` and `?role=ROLE` add requirements: 403 when unmet.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request

from gateway.clock import now
from gateway.metrics import VERIFY_TOKEN_CACHE
from gateway.redirects import is_safe_redirect
from gateway.sessions.login import verified_context
from gateway.tokens.jwt import token_for

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
    target = request.args.get("rd") or original_url()
    query = f"?{urlencode({'next': target})}" if target and is_safe_redirect(target) else ""
    return f"{settings.base_url}/login{query}"


def header_value(text: str) -> str:
    """Header values travel as UTF-8 bytes (as oauth2-proxy sends them); WSGI wants them as latin-1."""
    return text.encode("utf-8").decode("latin-1")


@bp.get("/auth/verify")
def verify():
    """200 with X-Auth-* for a full session; 401 (or 302) to sign in otherwise; 403 for unmet ?org/?role."""
    ctx = verified_context()
    if ctx is None or ctx.restricted:
        login = _login_url()
        if request.args.get("redirect") == "1":
            return Response(status=302, headers={"Location": login, "Cache-Control": "no-store"})
        return Response(status=401, headers={"X-Auth-Redirect": login, "Cache-Control": "no-store"})
    wanted_org, wanted_role = request.args.get("org"), request.args.get("role")
    if (wanted_org and wanted_org != ctx.org_slug) or (wanted_role and wanted_role != ctx.role):
        return Response(status=403, headers={"Cache-Control": "no-store"})
    settings = current_app.extensions["idgate.settings"]
    token, reused = token_for(ctx, settings, now())
    VERIFY_TOKEN_CACHE.labels("hit" if reused else "miss").inc()
    return Response(status=200, headers={
        "X-Auth-User-Id": str(ctx.user_id),
        "X-Auth-Email": header_value(ctx.email),
        "X-Auth-Name": header_value(ctx.name),
        "X-Auth-Org": ctx.org_slug or "",
        "X-Auth-Role": ctx.role or "",
        "X-Auth-Token": token,
        "Cache-Control": "no-store",
    })
