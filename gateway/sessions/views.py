"""GET /auth/verify in Flask: for the requests the WSGI fast path hands on (a session not in memory)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from gateway.sessions import forward_auth
from gateway.sessions.login import verified_context
from gateway.web import for_the_proxy_only, settings

bp = Blueprint("forward_auth", __name__)


@bp.get("/auth/verify")
def verify():
    """Forward-auth: the answer gateway.sessions.forward_auth.decide gives (see there)."""
    facts = forward_auth.read_facts(request.environ)
    # Before the session is looked up: its touch writes, and on SQLite the directory's own session
    # (a second connection) would wait on that write lock until it timed out.
    directory = current_app.extensions["idgate.app_directory"].current()
    ctx = verified_context(facts.token) if facts.token and not facts.problem else None
    mint = forward_auth.minter(settings(), current_app.extensions["idgate.clock"])
    answer = forward_auth.decide(ctx, facts, directory=directory, settings=settings(), mint=mint)
    if not answer.shown_to_browser:
        for_the_proxy_only()
    return Response(answer.body, status=answer.status, headers=answer.headers)
