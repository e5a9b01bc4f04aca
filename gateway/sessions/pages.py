"""/account/security's list of your sessions: sign one of them out, or all but this one.

The list itself is on the security page (gateway.mfa.views); these are its buttons' posts, each with
its CSRF token.
"""

from __future__ import annotations

from flask import Blueprint, redirect, url_for
from flask_login import current_user, login_required

from gateway.clock import now
from gateway.db import get_session
from gateway.errors import BadRequest
from gateway.mfa.forms import ActionForm
from gateway.sessions import listing
from gateway.web import actor_from_request

bp = Blueprint("your_sessions", __name__)


def _confirmed() -> None:
    """:raise BadRequest: the button came without its CSRF token."""
    if not ActionForm().validate_on_submit():
        raise BadRequest("The form expired. Try again.", code="bad_request")


@bp.post("/account/security/sessions/<session_id>/end")
@login_required
def end_one(session_id: str):
    _confirmed()
    ctx = current_user.ctx
    listing.end_own(get_session(), ctx.user_id, session_id, current_id=ctx.session_id, actor=actor_from_request(),
                    now=now())
    return redirect(url_for("mfa.security", ended=1) + "#sessions", 303)


@bp.post("/account/security/sessions/end-others")
@login_required
def end_others():
    _confirmed()
    ctx = current_user.ctx
    ended = listing.end_others(get_session(), ctx.user_id, current_id=ctx.session_id, actor=actor_from_request(),
                               now=now())
    return redirect(url_for("mfa.security", ended=ended) + "#sessions", 303)
