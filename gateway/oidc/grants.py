"""What the provider gives and takes back: grants, their codes and tokens, stored as verifiers.

Every check that a replayed or stolen credential must fail is one UPDATE … WHERE used_at IS NULL:
of two requests using one code (or one refresh token) at once, the database lets exactly one
through, and the other finds it used and revokes the whole grant (RFC 6749 §4.1.2, RFC 9700 §4.14).
A token is active while its grant is, its session is (gateway.sessions.services.live_context:
not revoked, not expired, the membership active, no step of its sign-in owed) and it has not
expired itself (`_active`).

Each round trip of the code flow runs these, so they are prebuilt Core statements
(gateway.db.core_execute), not the ORM's unit of work.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from gateway.actor import Actor
from gateway.audit.actions import AuditAction
from gateway.audit.service import record
from gateway.config import Settings
from gateway.db import core_execute
from gateway.oidc.models import OidcClient, OidcCode, OidcGrant, OidcToken, TokenKind
from gateway.sessions import services as sessions
from gateway.sessions.models import UserSession
from gateway.sessions.services import SessionContext

CODE_LIFETIME = timedelta(seconds=60)
ACCESS_TOKEN_LIFETIME = timedelta(minutes=10)
MAX_TOKEN_LENGTH = 128


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


class Grant(NamedTuple):
    id: int
    client_pk: int
    session_id: int
    user_id: int
    scope: str
    nonce: str | None
    auth_time: datetime
    revoked_at: datetime | None


class Redeemed(NamedTuple):
    """A code just used: its grant, where it was sent, its PKCE challenge, and what the session
    it came from says now."""

    grant: Grant
    redirect_uri: str
    code_challenge: str
    ctx: SessionContext


class Active(NamedTuple):
    """An active token: its grant and the session's context now."""

    grant: Grant
    ctx: SessionContext
    expires_at: datetime


_grants, _codes, _tokens = OidcGrant.__table__, OidcCode.__table__, OidcToken.__table__
_sessions = UserSession.__table__
_GRANT = (_grants.c.id, _grants.c.client_pk, _grants.c.session_id, _grants.c.user_id, _grants.c.scope,
          _grants.c.nonce, _grants.c.auth_time, _grants.c.revoked_at)
# Built once, bound per call.
_OPEN_GRANT = insert(_grants).returning(_grants.c.id)
_ADD_CODE = insert(_codes)
_ADD_TOKEN = insert(_tokens)
_CODE = (select(_codes.c.expires_at, _codes.c.redirect_uri, _codes.c.code_challenge, *_GRANT)
         .join(_grants, _grants.c.id == _codes.c.grant_id).where(_codes.c.code_hash == bindparam("verifier")))
# The code is spent and read in one statement, where it is unused and the client's: of two requests
# redeeming it at once, the database lets one through. (Its grant's client as a subquery of the row:
# one primary-key lookup, where a join of the UPDATE could not return the grant's columns on SQLite.)
_SPEND_CODE = (update(_codes).where(
    _codes.c.code_hash == bindparam("verifier"), _codes.c.used_at.is_(None),
    select(_grants.c.client_pk).where(_grants.c.id == _codes.c.grant_id).scalar_subquery() == bindparam("client_pk"),
).values(used_at=bindparam("now")).returning(_codes.c.grant_id, _codes.c.expires_at, _codes.c.redirect_uri,
                                               _codes.c.code_challenge))
# A grant and its session's context in one read (gateway.sessions.services.CONTEXT, the grant last).
_SESSION_GRANT = sessions.CONTEXT.add_columns(*_GRANT).join(_grants, _grants.c.session_id == _sessions.c.id)
_LIVE_GRANT = _SESSION_GRANT.where(_grants.c.id == bindparam("grant_id"))
_LIVE_ACCESS_TOKEN = (_SESSION_GRANT.add_columns(_tokens.c.expires_at).join(_tokens, _tokens.c.grant_id == _grants.c.id)
                      .where(_tokens.c.token_hash == bindparam("verifier"), _tokens.c.kind == bindparam("kind")))
_TOKEN = (select(_tokens.c.expires_at, *_GRANT).join(_grants, _grants.c.id == _tokens.c.grant_id)
          .where(_tokens.c.token_hash == bindparam("verifier"), _tokens.c.kind == bindparam("kind")))
_SPEND_TOKEN = (update(_tokens).where(_tokens.c.token_hash == bindparam("verifier"), _tokens.c.used_at.is_(None))
                .values(used_at=bindparam("now")).returning(_tokens.c.token_hash))
_REVOKE = (update(_grants).where(_grants.c.id == bindparam("grant_id"), _grants.c.revoked_at.is_(None))
           .values(revoked_at=bindparam("now")))
# On PostgreSQL the grant and its code are written by one statement (a data-modifying WITH: one
# round trip less a sign-in); SQLite has no such WITH, and runs _OPEN_GRANT then _ADD_CODE.
_GRANT_KEYS = ("client_pk", "session_id", "user_id", "scope", "nonce", "auth_time", "amr", "created_at", "logout_sent")
_CODE_KEYS = ("code_hash", "redirect_uri", "code_challenge", "expires_at")
_NEW_GRANT = (insert(_grants).values({key: bindparam(key, type_=_grants.c[key].type) for key in _GRANT_KEYS})
              .returning(_grants.c.id).cte("new_grant"))
_ISSUE = insert(_codes).from_select(["grant_id", *_CODE_KEYS], select(
    _NEW_GRANT.c.id, *(bindparam(key, type_=_codes.c[key].type) for key in _CODE_KEYS)))
_NONCE_USED = (select(_grants.c.id).where(_grants.c.client_pk == bindparam("client_pk"),
                                          _grants.c.nonce == bindparam("nonce")).limit(1))


def issue_code(db: Session, code: str, *, client_pk: int, ctx: SessionContext, auth_time: datetime, scope: str,
               nonce: str | None, redirect_uri: str, code_challenge: str, now: datetime) -> None:
    """A grant for this sign-in and its code (only the code's verifier is kept)."""
    grant = {"client_pk": client_pk, "session_id": ctx.session_id, "user_id": ctx.user_id, "scope": scope,
             "nonce": nonce, "auth_time": auth_time, "amr": " ".join(ctx.amr), "created_at": now, "logout_sent": False}
    code = {"code_hash": digest(code), "redirect_uri": redirect_uri, "code_challenge": code_challenge,
            "expires_at": now + CODE_LIFETIME}
    if db.get_bind().dialect.name == "postgresql":
        core_execute(db, _ISSUE, {**grant, **code})
        return
    grant_id = core_execute(db, _OPEN_GRANT, grant).scalar_one()
    core_execute(db, _ADD_CODE, {**code, "grant_id": grant_id})


def nonce_used(db: Session, client_pk: int, nonce: str) -> bool:
    return core_execute(db, _NONCE_USED, {"client_pk": client_pk, "nonce": nonce}).first() is not None


def redeem_code(db: Session, code, *, client_pk: int, settings: Settings, now: datetime) -> Redeemed | None:
    """The code's grant, the first time it is used within its minute, by the client it was given to,
    from a session still live; None otherwise. A second use revokes what the first one issued."""
    if not isinstance(code, str) or not 1 <= len(code) <= MAX_TOKEN_LENGTH:
        return None
    verifier = digest(code)
    spent = core_execute(db, _SPEND_CODE, {"verifier": verifier, "client_pk": client_pk, "now": now}).first()
    if spent is None:
        found = core_execute(db, _CODE, {"verifier": verifier}).first()
        if found is not None and found[4] == client_pk:  # the client's own code, used before: replayed
            _revoke_replayed(db, Grant(*found[3:]), "code", now=now)
        return None
    grant_id, expires_at, redirect_uri, code_challenge = spent
    if now >= expires_at:
        return None
    read = _grant_in_session(db, _LIVE_GRANT, {"grant_id": grant_id}, now=now)
    if read is None or read[0].revoked_at is not None:
        return None
    grant, ctx, _ = read
    return None if ctx is None else Redeemed(grant, redirect_uri, code_challenge, ctx)


def save_tokens(db: Session, grant_id: int, *, access_token: str, refresh_token: str | None,
                refresh_expires_at: datetime, now: datetime) -> None:
    core_execute(db, _ADD_TOKEN, {"token_hash": digest(access_token), "grant_id": grant_id, "kind": TokenKind.ACCESS,
                                  "expires_at": now + ACCESS_TOKEN_LIFETIME})
    if refresh_token is not None:
        core_execute(db, _ADD_TOKEN, {"token_hash": digest(refresh_token), "grant_id": grant_id,
                                      "kind": TokenKind.REFRESH, "expires_at": refresh_expires_at})


def use_refresh_token(db: Session, token, *, client_pk: int, settings: Settings, now: datetime) -> Active | None:
    """Spend a refresh token (once: the response carries its successor); a token already spent
    revokes its whole family, since one of its two users is not the client."""
    if not isinstance(token, str) or not 1 <= len(token) <= MAX_TOKEN_LENGTH:
        return None
    verifier = digest(token)
    found = core_execute(db, _TOKEN, {"verifier": verifier, "kind": TokenKind.REFRESH}).first()
    if found is None or found[2] != client_pk:
        return None
    expires_at, *columns = found
    grant = Grant(*columns)
    if core_execute(db, _SPEND_TOKEN, {"verifier": verifier, "now": now}).first() is None:
        _revoke_replayed(db, grant, "refresh_token", now=now)
        return None
    read = _grant_in_session(db, _LIVE_GRANT, {"grant_id": grant.id}, now=now)
    return None if read is None else _active(read[0], read[1], expires_at, now)


def active_access_token(db: Session, token, *, settings: Settings, now: datetime) -> Active | None:
    """What an access token (at /userinfo, at introspection) stands for, if it is active."""
    if not isinstance(token, str) or not 1 <= len(token) <= MAX_TOKEN_LENGTH:
        return None
    read = _grant_in_session(db, _LIVE_ACCESS_TOKEN, {"verifier": digest(token), "kind": TokenKind.ACCESS}, now=now)
    if read is None:
        return None
    grant, ctx, (expires_at,) = read
    return _active(grant, ctx, expires_at, now)


def revoke_grant(db: Session, grant_id: int, *, now: datetime) -> None:
    core_execute(db, _REVOKE, {"grant_id": grant_id, "now": now})


def _active(grant: Grant, ctx: SessionContext | None, expires_at: datetime, now: datetime) -> Active | None:
    """A token of `grant` that runs out at `expires_at`, read with its session's context (_grant_in_session)."""
    if now >= expires_at or grant.revoked_at is not None or ctx is None:
        return None
    return Active(grant, ctx, expires_at)


def _full(ctx: SessionContext | None) -> SessionContext | None:
    """A session that owes a step (a second factor, a password change) gives clients nothing yet."""
    return None if ctx is None or ctx.restricted else ctx


def _grant_in_session(db: Session, statement, params: dict, *,
                      now: datetime) -> tuple[Grant, SessionContext | None, tuple] | None:
    """(the grant, its session's context if live and full, the row's further columns) of a
    statement built on _SESSION_GRANT; None without a row."""
    db.flush()  # (as sessions.resolve: a change this transaction made to the session is what it reads)
    row = core_execute(db, statement, params).first()
    if row is None:
        return None
    width = sessions.CONTEXT_WIDTH
    return Grant(*row[width:width + len(_GRANT)]), _full(sessions.live_context(row, now=now)), row[width + len(_GRANT):]


def _revoke_replayed(db: Session, grant: Grant, what: str, *, now: datetime) -> None:
    revoke_grant(db, grant.id, now=now)
    client = db.get(OidcClient, grant.client_pk)
    record(db, Actor(), AuditAction.OIDC_REPLAY, now=now, org_id=client.org_id, target_id=grant.user_id,
           used_twice=what, client_id=client.client_id)
