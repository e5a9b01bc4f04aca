"""The forward-auth decision: what GET /auth/verify answers, decided once for both of its callers.

`decide(ctx, facts)` is a pure function of the caller's session (a SessionContext or None) and the
request's facts (read once from the WSGI environ by `read_facts`). The WSGI fast path
(gateway.sessions.fast_verify) and the Flask view (gateway.sessions.views) both call it and send
what it returns; every rule of forward-auth goes here and nowhere else.

Modes:
- default (nginx `auth_request`): 401 with `X-Auth-Redirect: <base>/login?next=<original URL>`;
  nginx turns that into a redirect with `error_page 401`.
- `?redirect=1` (Traefik, Caddy): a browser without a session gets a 302 to the sign-in page
  straight away, because those proxies pass the auth server's answer to the browser.
`?rd=URL` names where to return after sign-in instead of the original URL (checked like `next`).
`?org=SLUG` and `?role=ROLE` add requirements: 403 when unmet. `?mfa=1` asks for a session that
used a second factor: one that did not is sent to the second step (step-up), as to a sign-in.

Registered applications (gateway.apps): the original URL, normalised once (gateway.apps.urls),
names the app; its rule must admit the member (403 otherwise: a page naming the app in browser
mode), and an app that requires a second factor steps up like `?mfa=1`. A URL we cannot read with
certainty is refused (403), as is a registered host's path no app is on, and, with
IDGATE_UNREGISTERED_HOSTS=deny, a host no app claims.

A query we cannot read with certainty is refused with a 400 (the proxy then refuses the request):
a parameter given twice (which one counts?), one we do not know (a misspelt `?Org=` must not
silently drop a requirement), an empty requirement.
"""

from __future__ import annotations

import html
import json
from typing import Callable, NamedTuple
from urllib.parse import parse_qsl, urlencode

from gateway.apps.directory import Directory
from gateway.apps.urls import BadUrl, Target, target_of
from gateway.config import UnregisteredHosts
from gateway.metrics import VERIFY_TOKEN_CACHE
from gateway.redirects import is_safe_redirect
from gateway.sessions.cookies import token_from_environ
from gateway.sessions.services import SessionContext
from gateway.tokens.jwt import token_for

PARAMETERS = frozenset({"org", "role", "redirect", "rd", "mfa"})
_NO_STORE = ("Cache-Control", "no-store")
_VARY = ("Vary", "Cookie, Authorization")  # the answer is the caller's: no shared cache may reuse it
_EMPTY = ("Content-Type", "text/plain; charset=utf-8")


class Facts(NamedTuple):
    """What /auth/verify reads from a request, read once."""

    token: str | None
    org: str | None = None
    role: str | None = None
    browser: bool = False  # ?redirect=1
    mfa: bool = False  # ?mfa=1
    return_to: str | None = None  # ?rd=, else the original URL the proxy names
    problem: str | None = None  # why the query is refused, if it is
    target: Target | None = None  # the original URL, normalised (None: the proxy named none)
    bad_url: str | None = None  # why the original URL cannot be read, if it cannot


class Answer(NamedTuple):
    status: str
    headers: list
    body: bytes = b""
    # False for a 200: only the proxy reads it (it copies the X-Auth-* it was told to onto the app's
    # request and drops the rest), so the browser's security headers, a fifth of nginx's cost of
    # an answer, are left off. Every answer a browser may be shown carries them.
    shown_to_browser: bool = True


def read_facts(environ) -> Facts:
    token = token_from_environ(environ)
    url = original_url(environ)
    target = bad_url = None
    if url is not None:
        try:
            target = _target(environ, url)
        except BadUrl as exc:
            bad_url = str(exc)
    if not environ.get("QUERY_STRING"):
        return Facts(token, return_to=url, target=target, bad_url=bad_url)
    try:
        pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True, strict_parsing=False,
                          errors="strict", max_num_fields=16)
    except (UnicodeDecodeError, ValueError):
        return Facts(token, problem="The query string cannot be read.")
    query = dict(pairs)
    if len(query) != len(pairs):
        return Facts(token, problem="A parameter is given more than once.")
    if unknown := set(query) - PARAMETERS:
        return Facts(token, problem=f"Unknown parameter: {sorted(unknown)[0][:64]}.")
    if query.get("org") == "" or query.get("role") == "":
        return Facts(token, problem="An empty requirement (org= or role=) means nothing.")
    if query.get("redirect", "0") not in ("0", "1") or query.get("mfa", "0") not in ("0", "1"):
        return Facts(token, problem="redirect and mfa take 0 or 1.")
    return Facts(token, org=query.get("org"), role=query.get("role"), browser=query.get("redirect") == "1",
                 mfa=query.get("mfa") == "1", return_to=query.get("rd") or url, target=target, bad_url=bad_url)


def original_url(environ) -> str | None:
    """The URL the browser asked the proxy for, from the headers the proxy sets."""
    if url := environ.get("HTTP_X_ORIGINAL_URL"):
        return url
    return _forwarded_url(environ)


def _forwarded_url(environ) -> str | None:
    host = environ.get("HTTP_X_FORWARDED_HOST")
    if not host:
        return None
    proto = environ.get("HTTP_X_FORWARDED_PROTO", "https")
    uri = environ.get("HTTP_X_FORWARDED_URI", "/")
    return f"{proto}://{host}{uri}"


def _target(environ, url: str) -> Target:
    """The original URL normalised. :raise BadUrl: unreadable, or named two ways.

    nginx sets X-Original-URL; Caddy and Traefik set X-Forwarded-* and pass a client's own
    X-Original-URL along. When both are there and disagree, one of them is the client's: refused.
    """
    target = target_of(url)
    if "HTTP_X_ORIGINAL_URL" in environ and (forwarded := _forwarded_url(environ)) is not None:
        try:
            other = target_of(forwarded)
        except BadUrl:
            other = None
        if other != target:
            raise BadUrl("X-Original-URL and X-Forwarded-Host/-Uri name different addresses")
    return target


def header_value(text: str) -> str:
    """Header values travel as UTF-8 bytes (as oauth2-proxy sends them); WSGI wants them as latin-1."""
    return text.encode("utf-8").decode("latin-1")


def decide(ctx: SessionContext | None, facts: Facts, *, directory: Directory, settings,
           mint: Callable[[SessionContext], str]) -> Answer:
    """200 with X-Auth-* for a full session the app's rule admits; 401 (or 302) to sign in
    otherwise; 403 for an unmet ?org/?role or rule, or a URL we cannot read; 400 for a query we
    cannot read with certainty. `mint(ctx)` gives the X-Auth-Token."""
    if facts.problem:
        body = json.dumps({"error": {"code": "bad_verify_query", "message": facts.problem}}).encode()
        return Answer("400 BAD REQUEST", [("Content-Type", "application/json"), _NO_STORE, _VARY], body)
    if facts.bad_url:
        return _refused(facts, "This address cannot be read with certainty, so it is refused.")
    app, registered_host = directory.find(facts.target)
    if app is None and (registered_host or settings.unregistered_hosts == UnregisteredHosts.DENY):
        return _refused(facts, "No application is registered at this address.")
    if ctx is None or ctx.restricted:
        return _sign_in_first(_login_url(facts, settings, "/login"), facts)
    if (facts.org and facts.org != ctx.org_slug) or (facts.role and facts.role != ctx.role):
        return Answer("403 FORBIDDEN", [_EMPTY, _NO_STORE, _VARY])
    if app is not None:
        if app.org_id != ctx.org_id:
            return _refused(facts, f"{app.name} belongs to {app.org_name}, and you are working in "
                                   f"{ctx.org_name or 'no organization'}. Switch organization, or ask an admin of "
                                   f"{app.org_name} to invite you.", settings=settings)
        if not app.rule.admits(ctx.role, ctx.group_set):
            return _refused(facts, f"{app.name} is open to {app.rule.describe()} of {app.org_name}. You are signed "
                                   f"in as {ctx.email}. Ask an admin of {app.org_name} for access.",
                            settings=settings)
    if (facts.mfa or (app is not None and app.requires_mfa)) and "mfa" not in ctx.amr:
        return _sign_in_first(_login_url(facts, settings, "/login/verify"), facts)
    return Answer("200 OK", [_EMPTY, *ctx.identity_headers, ("X-Auth-Token", mint(ctx)), _NO_STORE, _VARY],
                  shown_to_browser=False)


def identity_headers(ctx: SessionContext) -> tuple[tuple[str, str], ...]:
    """Who the member is, for the app behind the proxy (read through ctx.identity_headers)."""
    return (
        ("X-Auth-User-Id", str(ctx.user_id)),
        ("X-Auth-Email", header_value(ctx.email)),
        ("X-Auth-Name", header_value(ctx.name)),
        ("X-Auth-Org", ctx.org_slug or ""),
        ("X-Auth-Role", ctx.role or ""),
        ("X-Auth-Groups", header_value(",".join(ctx.groups))),
        ("X-Auth-Amr", " ".join(ctx.amr)),
    )


def minter(settings, clock, count: Callable[[bool], None] | None = None) -> Callable[[SessionContext], str]:
    """X-Auth-Token for a 200: our JWT, reused for a session while it has a third of its life left.
    `count(reused)` tallies each (by default straight into idgate_verify_token_cache_total)."""
    if count is None:
        hit, miss = VERIFY_TOKEN_CACHE.labels("hit"), VERIFY_TOKEN_CACHE.labels("miss")

        def count(reused: bool) -> None:
            (hit if reused else miss).inc()

    def mint(ctx: SessionContext) -> str:
        token, reused = token_for(ctx, settings, clock.now())
        count(reused)
        return token

    return mint


def _refused(facts: Facts, reason: str, *, settings=None) -> Answer:
    """403. In browser mode (the proxy shows our answer to the browser) a page that says why and
    who to ask; for nginx the reason as text (nginx shows its own error page)."""
    if not facts.browser:
        return Answer("403 FORBIDDEN", [_EMPTY, _NO_STORE, _VARY], reason.encode())
    account = f'<p><a href="{html.escape(settings.base_url)}/account">Your account and organizations</a></p>' \
        if settings is not None else ""
    page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>No access</title></head>'
            f'<body><main><h1>You cannot open this page</h1><p>{html.escape(reason)}</p>{account}</main></body></html>')
    return Answer("403 FORBIDDEN", [("Content-Type", "text/html; charset=utf-8"), _NO_STORE, _VARY], page.encode())


def _sign_in_first(url: str, facts: Facts) -> Answer:
    if facts.browser:
        return Answer("302 FOUND", [_EMPTY, ("Location", url), _NO_STORE, _VARY])
    return Answer("401 UNAUTHORIZED", [_EMPTY, ("X-Auth-Redirect", url), _NO_STORE, _VARY])


def _login_url(facts: Facts, settings, page: str) -> str:
    target = facts.return_to
    safe = target and is_safe_redirect(target, settings.allowed_redirect_hosts)
    return f"{settings.base_url}{page}" + (f"?{urlencode({'next': target})}" if safe else "")
