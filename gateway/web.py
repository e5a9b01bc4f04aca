"""Small helpers shared by the HTML views."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, current_app, g, request

from gateway.accounts.passwords import Passwords
from gateway.actor import Actor
from gateway.config import Settings
from gateway.errors import GatewayError
from gateway.orgs.access import AdminScope, admin_scope
from gateway.sessions.login import signed_in_context


def settings() -> Settings:
    return current_app.extensions["idgate.settings"]


def passwords() -> Passwords:
    return current_app.extensions["idgate.passwords"]


def admin_scope_of_request(slug: str | None = None) -> AdminScope:
    """The signed-in admin's organization, for the console and the API alike: a read (GET) is open
    to auditors too, anything else to admins only."""
    ctx = signed_in_context()
    return admin_scope(ctx, actor_from_request(), slug, reading=request.method in ("GET", "HEAD"))


def actor_from_request() -> Actor:
    """The anonymous or signed-in caller of the current request."""
    ua = (request.user_agent.string or "")[:256] or None
    ip = request.remote_addr
    if ctx := signed_in_context():
        return Actor(ctx.user_id, ctx.email, ctx.org_id, ip, ua)
    return Actor(ip=ip, user_agent=ua)


def undo(exc: GatewayError) -> None:
    """A refusal shown to the person: nothing the request wrote is kept (the edge would otherwise
    commit it with the page), but for a refusal the service recorded (an audit row)."""
    if not exc.recorded and "db" in g:
        g.db.rollback()  # the Session stays: the page shown next may still read through it


def show_on(form, exc: GatewayError, default: str) -> None:
    """Put a refusal on the form field it is about (`exc.field`, else `default`), having undone
    the request's writes. Fields are named after the service's parameters, so the two match."""
    undo(exc)
    field = form[exc.field if exc.field in form else default]
    field.errors = [*field.errors, *exc.messages]


# What every response of ours carries, the /auth/verify fast path's included:
# - no framing by another site (a hidden frame over a decoy would steer clicks onto our buttons:
#   deactivate, continue to an IdP, sign out);
# - a Content Security Policy that lets a page load only our own scripts, styles and images, and
#   nothing inline: an injected tag runs nothing, an injected <base> moves no link, and an injected
#   <form> posts nowhere but to us and to where our forms send people (the allowed `next` hosts;
#   browsers check `form-action` on every redirect that follows a post, too);
# - no content sniffing, no Referer beyond our own origin, no window shared with an opener.
_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
           "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
HSTS = ("Strict-Transport-Security", "max-age=31536000")


def content_security_policy(form_targets=()) -> str:
    """The policy, with the origins beyond our own that this page's forms may lead to."""
    return " ".join((_POLICY, *sorted(set(form_targets))))


def _redirect_origins(settings: Settings) -> tuple[str, ...]:
    # is_safe_redirect takes either scheme on an allowed host: so does form-action.
    return tuple(f"{scheme}://{host}" for host in settings.allowed_redirect_hosts for scheme in ("https", "http"))


def security_headers(settings: Settings) -> tuple:
    headers = (
        ("X-Frame-Options", "DENY"),
        ("Content-Security-Policy", content_security_policy(_redirect_origins(settings))),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    )
    # Browsers keep to https once they have seen it over https; over http they ignore it.
    return headers + (HSTS,) if settings.base_url.startswith("https://") else headers


def for_the_proxy_only() -> None:
    """This response is read by a proxy and never shown to a browser: no browser headers on it."""
    g.for_the_proxy_only = True


def forms_lead_to(url: str) -> None:
    """Let this page's forms lead to `url`'s origin (a post answered by a redirect there: an IdP)."""
    parts = urlsplit(url)
    g.setdefault("form_targets", set()).add(f"{parts.scheme}://{parts.netloc}")


def init_app(app) -> None:
    settings = app.extensions["idgate.settings"]
    headers = app.extensions["idgate.security_headers"] = security_headers(settings)
    # Pages show signed-in people's data, forms carry CSRF tokens, some show a secret once:
    # nothing of ours is kept by a browser or a shared cache, but the static files.
    not_kept = app.extensions["idgate.page_headers"] = (*headers, ("Cache-Control", "no-store"))
    redirect_origins = _redirect_origins(settings)

    @app.after_request
    def send_security_headers(response: Response) -> Response:
        if g.get("for_the_proxy_only"):
            return response
        if targets := g.get("form_targets"):
            response.headers["Content-Security-Policy"] = content_security_policy({*redirect_origins, *targets})
        # Those the view did not set itself, added in one go (Headers.setdefault looks through every
        # header once per name, and raises and catches a KeyError for each one missing).
        present = {name.lower() for name, _ in response.headers}
        response.headers.extend([(name, value) for name, value in
                                 (headers if request.endpoint == "static" else not_kept) if name.lower() not in present])
        return response
