"""/api/v1/orgs/<slug>/users/<id>/sessions: where a member is signed in, and signing one session out."""

from __future__ import annotations

from gateway.api import bp, operation, scope_for
from gateway.api.schemas import MemberSession, MemberSessionList, SessionEnded
from gateway.clock import now
from gateway.db import get_session
from gateway.sessions import listing
from gateway.sessions.login import signed_in_context


def _current_id() -> int | None:
    ctx = signed_in_context()
    return ctx.session_id if ctx else None


@bp.get("/orgs/<slug>/users/<user_id>/sessions")
@operation(MemberSessionList)
def list_user_sessions(slug: str, user_id: str):
    """The member's live sessions in this organization: device, address, start, last activity, method."""
    sessions = listing.of_member(get_session(), scope_for(slug), user_id, current_id=_current_id(), now=now())
    return MemberSessionList(sessions=[MemberSession.of(s) for s in sessions])


@bp.delete("/orgs/<slug>/users/<user_id>/sessions/<session_id>")
@operation(SessionEnded, refusals=(409,))
def end_user_session(slug: str, user_id: str, session_id: str):
    """Sign one of the member's sessions out, at once; audited.

    404 `unknown_member`, `unknown_session` (none of theirs here, or already over); 409 `current_session` for the
    session making this request (sign out instead).
    """
    listing.end_members(get_session(), scope_for(slug), user_id, session_id, current_id=_current_id(), now=now())
    return SessionEnded(ended=True)
