"""Logout for the provider's clients: RP-initiated (OIDC RP-Initiated Logout 1.0) and back-channel
(OIDC Back-Channel Logout 1.0).

When a session ends for any reason (sign-out, a sign-out everywhere, deactivation, removal; one
that ran out is found by housekeeping within its ten minutes), every
grant it gave is revoked and each client with a back-channel logout URI that it signed into gets a
signed logout token. The tokens wait in a table like mail in the outbox, written in the same
transaction as the ending, delivered after it commits and retried with the outbox's backoff: a
client that is down gets its logout when it is back.
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import datetime, timedelta
from typing import NamedTuple
from urllib.parse import urlencode

import requests
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from gateway.config import Settings
from gateway.db import core_execute
from gateway.mail.outbox import backoff
from gateway.oidc import clients
from gateway.oidc.models import BackchannelLogout, OidcClient, OidcGrant, UriKind
from gateway.sessions.models import UserSession
from gateway.tokens import keys

log = logging.getLogger("idgate.oidc.logout")
EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_LIFETIME = 120
GIVE_UP_AFTER = timedelta(days=2)
BATCH = 50
TIMEOUT = 5


class Asked(NamedTuple):
    session_id: int | None  # the session the id_token_hint names, if it is a valid one of ours
    then: str | None  # the registered post_logout_redirect_uri (with state), if one was asked for


def read_request(db: Session, values, *, settings: Settings) -> Asked:
    """What an end-session request asks; an address not registered for the client is ignored."""
    hint = _verified_hint(values.get("id_token_hint"), settings)
    client_id = values.get("client_id")
    audience = None
    if hint is not None:
        aud = hint.get("aud")
        audience = aud[0] if isinstance(aud, list) and len(aud) == 1 else aud
    if client_id and audience and client_id != audience:
        return Asked(None, None)  # the hint is another client's: trust neither
    client = clients.by_client_id(db, client_id or audience)
    then = None
    uri = values.get("post_logout_redirect_uri")
    if client is not None and uri and uri in clients.uris_of(db, client.id, UriKind.LOGOUT):
        state = values.get("state")
        then = uri + (("&" if "?" in uri else "?") + urlencode({"state": state}) if state else "")
    sid = hint.get("sid") if hint else None
    return Asked(int(sid) if isinstance(sid, str) and sid.isdigit() and len(sid) < 19 else None, then)


def _verified_hint(token, settings: Settings) -> dict | None:
    """The claims of an ID token we signed (expired or not: RP-initiated logout allows that)."""
    if not isinstance(token, str) or len(token) > 8192 or token.count(".") != 2:
        return None
    published = KeySet([key for family in keys.FAMILIES for key in keys.signing_keys(settings.certs_dir, family)[1]])
    try:
        claims = jwt.decode(token, published, algorithms=[family.alg for family in keys.FAMILIES]).claims
    except (JoseError, ValueError, TypeError):
        return None
    return claims if claims.get("iss") == settings.base_url else None


_grants, _clients = OidcGrant.__table__, OidcClient.__table__
_GIVEN = (select(_grants.c.id, _grants.c.session_id, _grants.c.user_id, _clients.c.id, _clients.c.client_id,
                 _clients.c.backchannel_logout_uri)
          .join(_clients, _clients.c.id == _grants.c.client_pk).where(_grants.c.logout_sent.is_(False)))
# Built once, bound per call: a sign-out, or a token replaced after a second step, asks this of one
# session, and nearly always finds nothing.
_GIVEN_BY_ONE = _GIVEN.where(_grants.c.session_id == bindparam("session_id"))


def sessions_ended(db: Session, session_ids, *, now: datetime) -> int:
    """Revoke what these sessions gave and queue a logout token for every client that asked for
    them; returns how many were queued. Called by gateway.sessions.services wherever sessions end."""
    session_ids = list(session_ids)
    if not session_ids:
        return 0
    if len(session_ids) == 1:
        db.flush()  # (a prebuilt statement: a grant this transaction gave is what it reads)
        found = core_execute(db, _GIVEN_BY_ONE, {"session_id": session_ids[0]}).all()
    else:
        found = db.execute(_GIVEN.where(_grants.c.session_id.in_(session_ids))).all()
    if not found:
        return 0
    db.execute(update(OidcGrant).where(OidcGrant.id.in_([row[0] for row in found]))
               .values(logout_sent=True, revoked_at=now))
    queued = set()
    for _, session_id, user_id, client_pk, _client_id, uri in found:
        if uri and (client_pk, session_id) not in queued:
            queued.add((client_pk, session_id))
            db.add(BackchannelLogout(client_pk=client_pk, uri=uri, user_id=user_id, session_id=session_id,
                                     created_at=now, attempts=0, next_attempt_at=now))
    if queued:
        db.info.setdefault("after_commit", []).append(deliver_after_commit)
    return len(queued)


def sessions_expired(db: Session, *, now: datetime) -> int:
    """sessions_ended for the sessions that ran out (absolute or idle limit) with grants whose
    clients were not told yet: housekeeping asks before it deletes them (their grants go with them)."""
    ran_out = select(UserSession.id).where(or_(UserSession.expires_at <= now, UserSession.idle_expires_at <= now))
    session_ids = db.scalars(select(OidcGrant.session_id).distinct()
                             .where(OidcGrant.logout_sent.is_(False), OidcGrant.session_id.in_(ran_out))).all()
    return sessions_ended(db, session_ids, now=now)


def logout_token(client_id: str, user_id: int, session_id: int, settings: Settings) -> str:
    moment = int(time.time())
    key = keys.signing_keys(settings.certs_dir, keys.RSA)[0]
    claims = {"iss": settings.base_url, "aud": client_id, "iat": moment, "exp": moment + LOGOUT_TOKEN_LIFETIME,
              "jti": secrets.token_urlsafe(16), "sub": str(user_id), "sid": str(session_id), "events": {EVENT: {}}}
    return jwt.encode({"alg": keys.RSA.alg, "kid": key.kid, "typ": "logout+jwt"}, claims, key,
                      algorithms=[keys.RSA.alg])


def deliver_pending(make_session: sessionmaker, settings: Settings, now, post=None, *,
                    due_only: bool = True) -> tuple[int, int]:
    """POST every due logout token (or, with due_only=False, every waiting one) to its client;
    (delivered, failed). Each its own transaction."""
    post = post or (lambda uri, token: requests.post(uri, data={"logout_token": token}, timeout=TIMEOUT,
                                                     allow_redirects=False))
    delivered = failed = 0
    with make_session() as db:
        query = select(BackchannelLogout.id)
        if due_only:
            query = query.where(BackchannelLogout.next_attempt_at <= now())
        due = list(db.scalars(query.order_by(BackchannelLogout.id).limit(BATCH)))
    for row_id in due:
        with make_session() as db, db.begin():
            # SKIP LOCKED: two instances delivering at once never send one twice.
            row = db.scalar(select(BackchannelLogout).where(BackchannelLogout.id == row_id)
                            .with_for_update(skip_locked=True))
            if row is None:
                continue
            row.attempts += 1
            try:
                client_id = db.scalar(select(OidcClient.client_id).where(OidcClient.id == row.client_pk))
                answer = post(row.uri, logout_token(client_id, row.user_id, row.session_id, settings))
                if not 200 <= answer.status_code < 300:
                    raise RuntimeError(f"answered {answer.status_code}")
            except Exception as exc:  # noqa: BLE001 (any failure backs off; none blocks the others)
                row.last_error = f"{type(exc).__name__}: {exc}"[:500]
                if now() - row.created_at > GIVE_UP_AFTER:
                    log.warning("back-channel logout to %s given up after %d attempts", row.uri, row.attempts)
                    db.delete(row)
                else:
                    row.next_attempt_at = now() + backoff(row.attempts)
                failed += 1
            else:
                db.delete(row)
                delivered += 1
    return delivered, failed


def backlog(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(BackchannelLogout))


def deliver_after_commit(app) -> None:
    try:
        deliver_pending(app.extensions["idgate.sessionmaker"], app.extensions["idgate.settings"],
                        app.extensions["idgate.clock"].now)
    except Exception:  # never let delivery break the request that ended the session
        log.exception("back-channel logout delivery failed; it is retried")
