"""Where a person is signed in: their live sessions, for themselves (/account/security) and for an
admin of their organization (the API), and ending one of them, or all but the current one.

Ending goes through gateway.sessions.services.revoke / revoke_all_for, the one path every sign-out
takes: the commit that sets `revoked_at` tells every worker's verify cache (gateway.sessions.cache),
and what the session gave OpenID Connect clients ends with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.actor import Actor
from gateway.audit.actions import AuditAction
from gateway.audit.service import record
from gateway.errors import Conflict, NotFound
from gateway.mfa.policy import HWK, MFA, PWD, amr_of
from gateway.orgs.access import AdminScope, get_member
from gateway.orgs.models import Organization
from gateway.params import row_id
from gateway.sessions import services as sessions
from gateway.sessions.devices import describe
from gateway.sessions.models import UserSession

_METHODS = {"password": "Password", "passkey": "Passkey", "sso": "Single sign-on"}


@dataclass(frozen=True)
class LiveSession:
    id: int
    device: str  # from the User-Agent, in words
    user_agent: str | None
    ip: str | None
    org_slug: str | None
    org_name: str | None
    started_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    method: str  # "password", "passkey" or "sso": how it was signed in
    second_factor: bool  # a second factor was used too (RFC 8176 `mfa`)
    current: bool  # the session asking

    @property
    def signed_in_with(self) -> str:
        words = _METHODS[self.method]
        return f"{words} and a second factor" if self.second_factor and self.method == "password" else words


class UnknownSession(NotFound):
    code, message = "unknown_session", "There is no such live session."


class CurrentSession(Conflict):
    code, message = "current_session", "That is the session you are using: sign out instead."


def method_of(row: UserSession) -> str:
    """How a session was signed in: through an organization's IdP, with a passkey, or a password."""
    amr = amr_of(row.amr)
    if row.sso_org_id is not None:
        return "sso"
    return "passkey" if HWK in amr and PWD not in amr else "password"


def _live(user_id: int, now: datetime):
    return (select(UserSession, Organization.slug, Organization.name)
            .outerjoin(Organization, Organization.id == UserSession.org_id)
            .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None),
                   UserSession.expires_at > now, UserSession.idle_expires_at > now))


def _shown(row: UserSession, slug, name, current_id: int | None) -> LiveSession:
    return LiveSession(id=row.id, device=describe(row.user_agent), user_agent=row.user_agent, ip=row.ip,
                       org_slug=slug, org_name=name, started_at=row.created_at, last_seen_at=row.last_seen_at,
                       expires_at=row.expires_at, method=method_of(row), second_factor=MFA in amr_of(row.amr),
                       current=row.id == current_id)


def of_user(db: Session, user_id: int, *, current_id: int | None, now: datetime,
            org_id: int | None = None) -> list[LiveSession]:
    """The user's live sessions (in one organization if given), the most recently seen first."""
    query = _live(user_id, now).order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    if org_id is not None:
        query = query.where(UserSession.org_id == org_id)
    return [_shown(row, slug, name, current_id) for row, slug, name in db.execute(query)]


def _find(db: Session, user_id: int, session_id, *, now: datetime, org_id: int | None = None) -> UserSession:
    """:raise UnknownSession: not a live session of this user (in this organization, if given)."""
    session_id = row_id(session_id)
    if session_id is None:
        raise UnknownSession()
    query = _live(user_id, now).where(UserSession.id == session_id)
    if org_id is not None:
        query = query.where(UserSession.org_id == org_id)
    found = db.execute(query).first()
    if found is None:
        raise UnknownSession()
    return found[0]


def _ensure_not_current(session: UserSession, current_id: int | None) -> None:
    if session.id == current_id:
        raise CurrentSession()


def end_own(db: Session, user_id: int, session_id, *, current_id: int, actor: Actor, now: datetime) -> None:
    """Sign one of your other sessions out.

    :raise UnknownSession: not one of yours, or already over.
    :raise CurrentSession: the one you are using (sign out instead).
    """
    session = _find(db, user_id, session_id, now=now)
    _ensure_not_current(session, current_id)
    sessions.revoke(db, session.id, now=now)
    record(db, actor, AuditAction.SESSION_END, now=now, target_id=user_id, target_email=actor.email,
           session_id=session.id, by="self")


def end_others(db: Session, user_id: int, *, current_id: int, actor: Actor, now: datetime) -> int:
    """Sign out everywhere but here; returns how many sessions ended."""
    ended = sessions.revoke_all_for(db, user_id, now=now, keep=current_id)
    record(db, actor, AuditAction.SESSION_END_OTHERS, now=now, target_id=user_id, target_email=actor.email,
           sessions_ended=ended)
    return ended


def of_member(db: Session, scope: AdminScope, user_id, *, current_id: int | None, now: datetime) -> list[LiveSession]:
    """A member's live sessions in the scope's organization (an auditor may read them).

    :raise NotFound: not a member here.
    """
    membership = get_member(db, scope, user_id)
    return of_user(db, membership.user_id, current_id=current_id, now=now, org_id=scope.org_id)


def end_members(db: Session, scope: AdminScope, user_id, session_id, *, current_id: int | None,
                now: datetime) -> None:
    """An admin signs one of a member's sessions in this organization out, at once.

    :raise NotFound: not a member here (`unknown_member`), or no such live session of theirs here
        (`unknown_session`).
    :raise CurrentSession: the admin's own session making the request.
    """
    membership = get_member(db, scope, user_id)
    session = _find(db, membership.user_id, session_id, now=now, org_id=scope.org_id)
    _ensure_not_current(session, current_id)
    sessions.revoke(db, session.id, now=now)
    record(db, scope.actor, AuditAction.SESSION_END, now=now, org_id=scope.org_id, target_id=membership.user_id,
           target_email=membership.user.email, session_id=session.id, by="admin")
