"""Starting, resolving and revoking server-side sessions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from gateway.accounts.models import User
from gateway.actor import Actor
from gateway.config import Settings
from gateway.db import comma_joined, core_execute
from gateway.errors import Unauthorized
from gateway.groups.models import Group, GroupMember
from gateway.orgs.models import CustomRole, Membership, MemberStatus, Organization
from gateway.sessions.cookies import MAX_TOKEN_LENGTH
from gateway.sessions.models import OIDC_SUBJECT, UserSession

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
    groups: tuple[str, ...] = ()  # the member's groups in org_id, by name, sorted
    email_verified: bool = False  # the address was proven (an invitation's link reached it)
    started_at: datetime | None = None  # when its holder signed in (OpenID Connect's auth_time)

    @cached_property
    def group_set(self) -> frozenset[str]:
        """The groups as a set, built once per context: a rule's few groups are looked up in it."""
        return frozenset(self.groups)

    @cached_property
    def identity_headers(self) -> tuple[tuple[str, str], ...]:
        """The X-Auth-* headers /auth/verify sends for this session, but the token: built once per
        context, since the verify cache answers many requests with one."""
        from gateway.sessions.forward_auth import identity_headers  # the headers are forward-auth's
        return identity_headers(self)


# The columns _resolve() reads a SessionContext from, per table. A commit that updates one of them,
# or deletes rows of these tables, may change who passes /auth/verify or what they carry: the verify
# caches of every worker drop what they hold (gateway.sessions.cache).
CONTEXT_COLUMNS = {
    "sessions": frozenset({"token_hash", "user_id", "org_id", "restricted", "owes", "amr", "revoked_at",
                           "expires_at"}),
    "users": frozenset({"email", "name", "email_verified_at"}),
    "memberships": frozenset({"user_id", "org_id", "status", "role", "custom_role_id"}),
    "organizations": frozenset({"slug", "name"}),
    "custom_roles": frozenset({"name"}),
    "groups": frozenset({"name"}),
}
# Tables where any write, an insert too, changes what /auth/verify decides: who is in which group,
# and the registered applications (gateway.apps.directory), their routes and rules.
ACCESS_TABLES = frozenset({"group_members", "apps", "app_hosts", "app_routes", "app_rule_roles", "app_rule_groups",
                           "oidc_clients", "oidc_client_uris"})  # (the last two: gateway.oidc.registry)


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
    return _resolve(db, _BY_TOKEN, {"token_hash": hash_token(token)}, settings=settings, now=now, touch=True)


def resolve_by_id(db: Session, session_id, *, settings: Settings, now: datetime) -> SessionContext | None:
    """The same checks for a session named by id (the `sid` of a downstream token); no touch."""
    try:
        session_id = int(session_id)
    except (TypeError, ValueError):
        return None
    return _resolve(db, _BY_ID, {"session_id": session_id}, settings=settings, now=now, touch=False)


_users, _memberships, _orgs, _custom = User.__table__, Membership.__table__, Organization.__table__, CustomRole.__table__
_groups, _group_members = Group.__table__, GroupMember.__table__
# The member's groups in the same query, as one text: group names never hold a comma (groups.parse_name).
_GROUP_NAMES = (select(comma_joined(_groups.c.name))
                .select_from(_group_members.join(_groups, _groups.c.id == _group_members.c.group_id))
                .where(_group_members.c.membership_id == _memberships.c.id).scalar_subquery())
# Built once, bound per call: every signed-in page and every uncached /auth/verify starts here.
_CONTEXT = (
    select(_sessions.c.id, _sessions.c.user_id, _users.c.email, _users.c.name, _orgs.c.id, _orgs.c.slug,
           _orgs.c.name, _memberships.c.role, _sessions.c.restricted, _sessions.c.expires_at, _sessions.c.owes,
           _sessions.c.amr, _sessions.c.org_id, _memberships.c.status, _sessions.c.revoked_at,
           _sessions.c.idle_expires_at, _sessions.c.last_seen_at, _custom.c.name,
           _users.c.email_verified_at, _sessions.c.created_at, _GROUP_NAMES)
    .join(_users, _users.c.id == _sessions.c.user_id)
    .outerjoin(_memberships, (_memberships.c.user_id == _sessions.c.user_id)
               & (_memberships.c.org_id == _sessions.c.org_id))
    .outerjoin(_orgs, _orgs.c.id == _sessions.c.org_id)
    .outerjoin(_custom, _custom.c.id == _memberships.c.custom_role_id)
)
_BY_TOKEN = _CONTEXT.where(_sessions.c.token_hash == bindparam("token_hash"))
_BY_ID = _CONTEXT.where(_sessions.c.id == bindparam("session_id"))
_TOUCH_SESSION = (update(_sessions).where(_sessions.c.id == bindparam("session_id"))
                  .values(last_seen_at=bindparam("now"), idle_expires_at=bindparam("idle")))
_TOUCH_USER = update(_users).where(_users.c.id == bindparam("user_id")).values(last_seen_at=bindparam("now"))


# The columns of CONTEXT, first in every row it starts: a statement built on it (the OpenID Connect
# provider reads a grant and its session in one) hands live_context its row's first CONTEXT_WIDTH.
CONTEXT = _CONTEXT
CONTEXT_WIDTH = len(_CONTEXT.selected_columns)
_LAST_SEEN = next(i for i, column in enumerate(_CONTEXT.selected_columns) if column is _sessions.c.last_seen_at)


def _resolve(db: Session, statement, params: dict, *, settings: Settings, now: datetime,
             touch: bool) -> SessionContext | None:
    db.flush()  # a change this transaction made to a session is what it reads
    row = core_execute(db, statement, params).first()
    if row is None:
        return None
    ctx = live_context(row, now=now)
    if ctx is not None and touch and now - row[_LAST_SEEN] >= TOUCH_INTERVAL:
        core_execute(db, _TOUCH_SESSION, {"session_id": ctx.session_id, "now": now,
                                          "idle": min(now + settings.session_idle, ctx.expires_at)})
        core_execute(db, _TOUCH_USER, {"user_id": ctx.user_id, "now": now})
    return ctx


def live_context(row, *, now: datetime) -> SessionContext | None:
    """The context a row of CONTEXT describes, or None when its session is revoked or expired, or
    its membership no longer active: the one judgement of every way a session is read."""
    (session_id, user_id, email, name, org_id, org_slug, org_name, role, restricted, expires_at, owes, amr,
     session_org_id, status, revoked_at, idle_expires_at, _last_seen_at, custom_role,
     email_verified_at, started_at, group_names) = row[:CONTEXT_WIDTH]
    if revoked_at is not None or now >= expires_at or now >= idle_expires_at:
        return None
    if session_org_id is not None and status != MemberStatus.ACTIVE:
        return None
    groups = tuple(sorted(group_names.split(","))) if group_names else ()
    return SessionContext(
        session_id=session_id, user_id=user_id, email=email, name=name, org_id=org_id, org_slug=org_slug,
        org_name=org_name, role=custom_role or (str(role) if role is not None else None), restricted=restricted,
        expires_at=expires_at, owes=owes, amr=tuple(amr.split()), groups=groups,
        email_verified=email_verified_at is not None, started_at=started_at,
    )


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


class SessionEnded(Unauthorized):
    code = "session_ended"
    message = "This sign-in ended meanwhile (signed out, or ended by an admin). Sign in again."


# Built once, bound per call: every second step (and every factor added) replaces its session's token here.
_END = (update(_sessions).where(_sessions.c.id == bindparam("session_id"), _sessions.c.revoked_at.is_(None))
        .values(revoked_at=bindparam("now")).returning(_sessions.c.user_id, _sessions.c.org_id))


def replace(db: Session, session_id: int, *, amr: str, owes: str | None, actor: Actor, settings: Settings,
            now: datetime) -> tuple[str, StartedSession]:
    """A new token for a session that just proved more (a second factor): the old token ends, so
    one that leaked before the step is worth nothing after it.

    :raise SessionEnded: the session ended meanwhile (a sign-out, an admin, the other of two second
        steps at once): the database decides, as the UPDATE that ends it matches a live row only once.
    """
    ended = _end(db, session_id, now=now)
    if ended is None:
        raise SessionEnded()
    return start(db, ended.user_id, org_id=ended.org_id, amr=amr, owes=owes, actor=actor, settings=settings, now=now)


def revoke(db: Session, session_id: int, *, now: datetime) -> None:
    _end(db, session_id, now=now)


def _end(db: Session, session_id: int, *, now: datetime):
    """End one live session, and what it gave OIDC clients; its (user_id, org_id), or None when it
    had ended already (whoever's UPDATE matched the live row ended it)."""
    db.flush()  # (a prebuilt statement: a change this transaction made to the session is what it sees)
    ended = core_execute(db, _END, {"session_id": session_id, "now": now}).first()
    if ended is not None:
        _ended(db, [session_id], now=now)
    return ended


def _ended(db: Session, session_ids: list[int], *, now: datetime) -> None:
    """What ended sessions gave OpenID Connect clients ends with them; the clients are told."""
    from gateway.oidc import logout  # the provider builds on sessions, not the other way round

    logout.sessions_ended(db, session_ids, now=now)


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
    ended = list(db.scalars(query.values(revoked_at=now).returning(UserSession.id)))
    _ended(db, ended, now=now)
    return len(ended)


def end_idp_sessions(db: Session, sso_org_id: int, *, oidc: bool, name_id: str | None = None,
                     idp_sessions: list[str] | None = None, now: datetime) -> int:
    """End the live sessions an organization's IdP logs out (single or back-channel logout): those of
    its name for the person (SAML NameID, OIDC `sub`), of its own sessions (SessionIndex, `sid`), or
    both; returns how many. SAML's and OIDC's stay apart: a NameID is no `sub`, even if spelled alike.
    """
    if name_id is None and not idp_sessions:
        return 0
    kind = UserSession.sso_name_id_format
    query = update(UserSession).where(
        UserSession.sso_org_id == sso_org_id, UserSession.revoked_at.is_(None),
        kind == OIDC_SUBJECT if oidc else or_(kind.is_(None), kind != OIDC_SUBJECT))
    if name_id is not None:
        query = query.where(UserSession.sso_name_id == name_id)
    if idp_sessions:
        query = query.where(UserSession.sso_session_index.in_(idp_sessions))
    ended = list(db.scalars(query.values(revoked_at=now).returning(UserSession.id)))
    _ended(db, ended, now=now)
    return len(ended)


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
