"""What the provider gives and takes back: grants, their codes and tokens, stored as verifiers.

Every check that a replayed or stolen credential must fail is one UPDATE … WHERE used_at IS NULL:
of two requests using one code (or one refresh token) at once, the database lets exactly one
through, and the other finds it used and revokes the whole grant (RFC 6749 §4.1.2, RFC 9700 §4.14).
A token is active while its grant is, its session is (gateway.sessions.services.resolve_by_id:
not revoked, not expired, the membership active) and it has not expired itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.actor import Actor
from gateway.audit.actions import AuditAction
from gateway.audit.service import record
from gateway.config import Settings
from gateway.oidc.models import OidcClient, OidcCode, OidcGrant, OidcToken, TokenKind
from gateway.sessions import services as sessions
from gateway.sessions.services import SessionContext

CODE_LIFETIME = timedelta(seconds=60)
ACCESS_TOKEN_LIFETIME = timedelta(minutes=10)
MAX_TOKEN_LENGTH = 128


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Redeemed:
    """A code just used: its grant and what the session it came from says now."""

    grant: OidcGrant
    code: OidcCode
    ctx: SessionContext


def issue_code(db: Session, code: str, *, client_pk: int, ctx: SessionContext, auth_time: datetime, scope: str,
               nonce: str | None, redirect_uri: str, code_challenge: str, now: datetime) -> None:
    """A grant for this sign-in and its code (only the code's verifier is kept)."""
    grant = OidcGrant(client_pk=client_pk, session_id=ctx.session_id, user_id=ctx.user_id, scope=scope,
                      nonce=nonce, auth_time=auth_time, amr=" ".join(ctx.amr), created_at=now)
    db.add(grant)
    db.flush()  # the grant's id, for its code
    db.add(OidcCode(code_hash=digest(code), grant_id=grant.id, redirect_uri=redirect_uri,
                    code_challenge=code_challenge, expires_at=now + CODE_LIFETIME))


def redeem_code(db: Session, code, *, client_pk: int, settings: Settings, now: datetime) -> Redeemed | None:
    """The code's grant, the first time it is used within its minute, by the client it was given to,
    from a session still live; None otherwise. A second use revokes what the first one issued."""
    if not isinstance(code, str) or not 1 <= len(code) <= MAX_TOKEN_LENGTH:
        return None
    verifier = digest(code)
    found = db.execute(select(OidcCode, OidcGrant).join(OidcGrant, OidcGrant.id == OidcCode.grant_id)
                       .where(OidcCode.code_hash == verifier)).first()
    if found is None or found[1].client_pk != client_pk:
        return None
    stored, grant = found
    won = db.execute(update(OidcCode).where(OidcCode.code_hash == verifier, OidcCode.used_at.is_(None))
                     .values(used_at=now)).rowcount == 1
    if not won:
        _revoke_replayed(db, grant, "code", now=now)
        return None
    if now >= stored.expires_at or grant.revoked_at is not None:
        return None
    ctx = sessions.resolve_by_id(db, grant.session_id, settings=settings, now=now)
    if ctx is None or ctx.restricted:
        return None
    return Redeemed(grant, stored, ctx)


def save_tokens(db: Session, grant_id: int, *, access_token: str, refresh_token: str | None,
                refresh_expires_at: datetime, now: datetime) -> None:
    db.add(OidcToken(token_hash=digest(access_token), grant_id=grant_id, kind=TokenKind.ACCESS,
                     expires_at=now + ACCESS_TOKEN_LIFETIME))
    if refresh_token is not None:
        db.add(OidcToken(token_hash=digest(refresh_token), grant_id=grant_id, kind=TokenKind.REFRESH,
                         expires_at=refresh_expires_at))


@dataclass(frozen=True)
class Active:
    """An active token: its grant and the session's context now."""

    grant: OidcGrant
    ctx: SessionContext
    expires_at: datetime


def use_refresh_token(db: Session, token, *, client_pk: int, settings: Settings, now: datetime) -> Active | None:
    """Spend a refresh token (once: the response carries its successor); a token already spent
    revokes its whole family, since one of its two users is not the client."""
    if not isinstance(token, str) or not 1 <= len(token) <= MAX_TOKEN_LENGTH:
        return None
    verifier = digest(token)
    found = _token(db, verifier, TokenKind.REFRESH)
    if found is None or found[1].client_pk != client_pk:
        return None
    stored, grant = found
    won = db.execute(update(OidcToken).where(OidcToken.token_hash == verifier, OidcToken.used_at.is_(None))
                     .values(used_at=now)).rowcount == 1
    if not won:
        _revoke_replayed(db, grant, "refresh_token", now=now)
        return None
    return _active(db, stored, grant, settings=settings, now=now)


def active_access_token(db: Session, token, *, settings: Settings, now: datetime) -> Active | None:
    """What an access token (at /userinfo, at introspection) stands for, if it is active."""
    if not isinstance(token, str) or not 1 <= len(token) <= MAX_TOKEN_LENGTH:
        return None
    found = _token(db, digest(token), TokenKind.ACCESS)
    return None if found is None else _active(db, *found, settings=settings, now=now)


def revoke_grant(db: Session, grant_id: int, *, now: datetime) -> None:
    db.execute(update(OidcGrant).where(OidcGrant.id == grant_id, OidcGrant.revoked_at.is_(None))
               .values(revoked_at=now))


def _token(db: Session, verifier: str, kind: TokenKind):
    return db.execute(select(OidcToken, OidcGrant).join(OidcGrant, OidcGrant.id == OidcToken.grant_id)
                      .where(OidcToken.token_hash == verifier, OidcToken.kind == kind)).first()


def _active(db: Session, stored: OidcToken, grant: OidcGrant, *, settings: Settings, now: datetime) -> Active | None:
    if now >= stored.expires_at or grant.revoked_at is not None:
        return None
    ctx = sessions.resolve_by_id(db, grant.session_id, settings=settings, now=now)
    if ctx is None or ctx.restricted:
        return None
    return Active(grant, ctx, stored.expires_at)


def _revoke_replayed(db: Session, grant: OidcGrant, what: str, *, now: datetime) -> None:
    revoke_grant(db, grant.id, now=now)
    client = db.get(OidcClient, grant.client_pk)
    record(db, Actor(), AuditAction.OIDC_REPLAY, now=now, org_id=client.org_id, target_id=grant.user_id,
           used_twice=what, client_id=client.client_id)
