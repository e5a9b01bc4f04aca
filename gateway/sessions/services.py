"""Starting, resolving and revoking server-side sessions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from gateway.accounts.models import User
from gateway.actor import Actor
from gateway.config import Settings
from gateway.db import core_execute
from gateway.orgs.models import Membership, MemberStatus, Organization
from gateway.sessions.cookies import MAX_TOKEN_LENGTH
from gateway.sessions.models import UserSession

# last_seen is written at most this often, so that the forward-auth hot path
# stays read-only for nearly every request.
TOUCH_INTERVAL = timedelta(seconds=60)


@dataclass(frozen=True)
class SessionContext:
    """What a valid session says about its holder, read on every request."""

    session_id: int
    user_id: int
    email: str
    name: str
    org_id: int | None
    org_slug: str | None
    org_name: str | None
    role: str | None
    restricted: bool
    expires_at: datetime
    owes: str | None = None  # gateway.mfa.policy.Owed: the step a restricted session must take
    amr: tuple[str, ...] = ()  # RFC 8176: how the holder authenticated


# The columns _resolve() reads a SessionContext from, per table. A commit that updates one of them,
# or deletes rows of these tables, may change who passes /auth/verify or what they carry: the verify
# caches of every worker drop what they hold (gateway.sessions.cache). What a later rule reads
# (groups, second factors, application policies) is added here beside it.
CONTEXT_COLUMNS = {
    "sessions": frozenset({"token_hash", "user_id", "org_id", "restricted", "owes", "amr", "revoked_at",
                           "expires_at"}),
    "users": frozenset({"email", "name"}),
    "memberships": frozenset({"user_id", "org_id", "status", "role"}),
    "organizations": frozenset({"slug", "name"}),
}


def hash_token(token: str) -> str:
    """The session table stores this, never the token: a leaked table opens no session."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class StartedSession:
    """A session just opened: what the edge needs for the cookie, and its id."""

    id: int
    user_id: int
    org_id: int | None
    restricted: bool
    expires_at: datetime
    owes: str | None = None


_sessions = UserSession.__table__
# Built once, bound per call: a plain INSERT, not the ORM's unit of work, on every sign-in.
_OPEN = insert(_sessions).returning(_sessions.c.id)


def start(
    db: Session, user_id: int, *, org_id: int | None, amr: str, owes: str | None = None, actor: Actor,
    settings: Settings, now: datetime, **attributes,
) -> tuple[str, StartedSession]:
    """Open a session with a fresh random token; returns the token (shown once, in the cookie).

    `amr` says how the holder authenticated; a session that `owes` a step (gateway.mfa.policy.Owed)
    is restricted until it is taken. `attributes` are further columns (the SSO ones, for single logout).
    """
    restricted = owes is not None
    token = secrets.token_urlsafe(32)
    expires_at = now + settings.session_lifetime
    session_id = core_execute(db, _OPEN, {
        "token_hash": hash_token(token),
        "user_id": user_id,
        "org_id": org_id,
        "restricted": restricted,
        "owes": owes,
        "amr": amr,
        "created_at": now,
        "last_seen_at": now,
        "expires_at": expires_at,
        "idle_expires_at": now + settings.session_idle,
        "ip": actor.ip,
        "user_agent": actor.user_agent,
        **attributes,
    }).scalar_one()
    return token, StartedSession(session_id, user_id, org_id, restricted, expires_at, owes)


def resolve(db: Session, token: str | None, *, settings: Settings, now: datetime) -> SessionContext | None:
    """The context of a live session, or None if unknown, revoked, expired or cut off.

    A session is cut off when its membership is no longer active, so that
    deactivation takes effect on the very next request.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return _resolve(db, UserSession.token_hash == hash_token(token), settings=settings, now=now, touch=True)


def resolve_by_id(db: Session, session_id, *, settings: Settings, now: datetime) -> SessionContext | None:
    """The same checks for a session named by id (the `sid` of a downstream token); no touch."""
    try:
        session_id = int(session_id)
    except (TypeError, ValueError):
        return None
    return _resolve(db, UserSession.id == session_id, settings=settings, now=now, touch=False)


def _resolve(db: Session, condition, *, settings: Settings, now: datetime, touch: bool) -> SessionContext | None:
    row = db.execute(
        select(UserSession, User, Membership, Organization)
        .join(User, User.id == UserSession.user_id)
        .outerjoin(
            Membership,
            (Membership.user_id == UserSession.user_id) & (Membership.org_id == UserSession.org_id),
        )
        .outerjoin(Organization, Organization.id == UserSession.org_id)
        .where(condition)
    ).first()
    if row is None:
        return None
    session, user, membership, org = row
    if session.revoked_at is not None or now >= session.expires_at or now >= session.idle_expires_at:
        return None
    if session.org_id is not None and (membership is None or membership.status != MemberStatus.ACTIVE):
        return None
    if touch and now - session.last_seen_at >= TOUCH_INTERVAL:
        _touch(session, user, settings=settings, now=now)
    return SessionContext(
        session_id=session.id,
        user_id=user.id,
        email=user.email,
        name=user.name,
        org_id=org.id if org else None,
        org_slug=org.slug if org else None,
        org_name=org.name if org else None,
        role=str(membership.role) if membership else None,
        restricted=session.restricted,
        expires_at=session.expires_at,
        owes=session.owes,
        amr=tuple(session.amr.split()),
    )


def _touch(session: UserSession, user: User, *, settings: Settings, now: datetime) -> None:
    session.last_seen_at = now
    session.idle_expires_at = min(now + settings.session_idle, session.expires_at)
    user.last_seen_at = now


def switch_org(db: Session, session_id: int, org_id: int) -> bool:
    """Point a session at another organization; resolve() checks the membership on every request.

    A session started through an organization's IdP stays in that organization (False): the IdP
    vouches for its own organization only. Whoever controls an IdP must not reach, through an
    account it is linked to, any other organization that account belongs to.
    """
    return db.execute(update(UserSession).where(
        UserSession.id == session_id, or_(UserSession.sso_org_id.is_(None), UserSession.sso_org_id == org_id),
    ).values(org_id=org_id)).rowcount == 1


def set_owed(db: Session, session_id: int, owes: str | None) -> None:
    """Make a session owe a step (restricted until it is taken), or nothing."""
    db.execute(update(UserSession).where(UserSession.id == session_id)
               .values(owes=owes, restricted=owes is not None))


def replace(db: Session, session_id: int, *, amr: str, owes: str | None, actor: Actor, settings: Settings,
            now: datetime) -> tuple[str, StartedSession]:
    """A new token for a session that just proved more (a second factor): the old token ends, so
    one that leaked before the step is worth nothing after it."""
    old = db.get(UserSession, session_id)
    revoke(db, session_id, now=now)
    return start(db, old.user_id, org_id=old.org_id, amr=amr, owes=owes, actor=actor, settings=settings, now=now)


def revoke(db: Session, session_id: int, *, now: datetime) -> None:
    db.execute(
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def revoke_all_for(db: Session, user_id: int, *, now: datetime, org_id: int | None = None,
                   keep: int | None = None) -> int:
    """Revoke a user's live sessions (in one organization if given); returns how many. (Ended ones
    stay as they are: they open nothing, and are not counted as ended now.)"""
    query = update(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None),
                                      UserSession.expires_at > now, UserSession.idle_expires_at > now)
    if org_id is not None:
        query = query.where(UserSession.org_id == org_id)
    if keep is not None:
        query = query.where(UserSession.id != keep)
    return db.execute(query.values(revoked_at=now)).rowcount


def count_active_for(db: Session, user_id: int, *, now: datetime, org_id: int | None = None) -> int:
    """Live sessions of a user (in one organization if given)."""
    query = select(func.count()).select_from(UserSession).where(
        UserSession.user_id == user_id,
        UserSession.revoked_at.is_(None),
        UserSession.expires_at > now,
        UserSession.idle_expires_at > now,
    )
    if org_id is not None:
        query = query.where(UserSession.org_id == org_id)
    return db.scalar(query)


def delete_ended(db: Session, *, before: datetime) -> int:
    """Delete sessions that ended (revoked, or past either limit) before `before`; returns how many.

    An ended session refuses every request, so its row serves nobody: a deleted one refuses the same.
    """
    return db.execute(delete(UserSession).where(or_(
        UserSession.revoked_at < before, UserSession.expires_at < before, UserSession.idle_expires_at < before,
    ))).rowcount
