"""What both edges of the provider's endpoints decide alike: the Flask views (gateway.oidc.views)
and the WSGI fast path in front of Flask (gateway.oidc.fast). Each rule is here once; an edge only
reads its request and sends what these return."""

from __future__ import annotations

from datetime import datetime

from authlib.oauth2.rfc6749.errors import AccessDeniedError, InvalidRequestError
from sqlalchemy.orm import Session

from gateway.config import Settings
from gateway.oidc import authorize as decision
from gateway.oidc import claims, grants
from gateway.orgs import services as memberships
from gateway.sessions.services import SessionContext

MAX_PARAMETER = 4096
_NOT_ACTIVE = {"error": "invalid_token", "error_description": "The access token is not active."}


def readable(values) -> bool:
    """No parameter of the protocol's is this long, or holds a control character (PostgreSQL
    stores no NUL): refused before any of it is looked up."""
    return all(len(value) <= MAX_PARAMETER and value.isprintable() for value in values.values())


def asked(grant, *, method: str, form) -> decision.Request:
    """The authorization request's own demands (`form`: the consent page's answer, on a POST).
    :raise OAuth2Error: one we cannot read."""
    data, state = grant.request.payload.data, grant.request.payload.state
    max_age = data.get("max_age")
    if max_age is not None:
        if not str(max_age).isdigit() or len(str(max_age)) > 9:
            raise InvalidRequestError("max_age is a number of seconds.", redirect_uri=grant.redirect_uri, state=state)
        max_age = int(max_age)
    after = data.get(decision.AFTER)
    after = int(after) if after and str(after).isdigit() and len(after) <= 12 else None
    consented = method == "POST" and form.get("consent") == "allow"
    if method == "POST" and form.get("consent") == "deny":
        raise AccessDeniedError("The member did not consent.", redirect_uri=grant.redirect_uri, state=state)
    return decision.Request(frozenset(str(data.get("prompt") or "").split()), max_age,
                            frozenset(str(data.get("acr_values") or "").split()), after, consented)


def decide(db: Session, grant, ctx: SessionContext | None, request: decision.Request, *,
           now: datetime) -> decision.Decision:
    """The authorization endpoint's decision for a request authlib found valid (gateway.oidc.authorize),
    with what it needs looked up: the client's app, and whether the holder is a member of its
    organization while working in another."""
    client = grant.request.client
    app = client.row.app
    member_there = ctx is not None and app is not None and app.org_id != ctx.org_id and \
        memberships.is_active_member(db, ctx.user_id, app.org_id)
    return decision.decide(ctx, ctx.started_at if ctx else None, app, request,
                           require_consent=client.row.require_consent, now=now, member_there=member_there)


def bearer(header: str | None, form_token: str | None = None) -> str | None:
    """The access token of a userinfo request: `Authorization: Bearer …`, else the form's (RFC 6750 §2.2)."""
    header = header or ""
    return header[7:].strip() if header[:7].lower() == "bearer " else form_token


def userinfo(db: Session, token: str | None, *, settings: Settings,
             now: datetime) -> tuple[int, dict, list[tuple[str, str]]]:
    """(status, JSON payload, headers) of /userinfo (OIDC Core §5.3): the claims the token's scope
    names, or RFC 6750's invalid_token while the token is not active."""
    active = grants.active_access_token(db, token, settings=settings, now=now)
    if active is None:
        return 401, _NOT_ACTIVE, [("WWW-Authenticate", 'Bearer error="invalid_token"')]
    return 200, claims.of(active.ctx, active.grant.scope), [("Cache-Control", "no-store")]
