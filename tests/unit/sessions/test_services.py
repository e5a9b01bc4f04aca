"""Server-side sessions: hashed tokens, limits, throttled touches, revocation."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from gateway.actor import Actor
from gateway.orgs.models import MemberStatus
from gateway.sessions import services
from gateway.sessions.models import UserSession
from tests.factories import MembershipFactory


def _start(db, app, clock, membership):
    return services.start(db, membership.user, org_id=membership.org_id, restricted=False, actor=Actor(),
                          settings=app.extensions["idgate.settings"], now=clock.now())


def _resolve(db, app, clock, token):
    return services.resolve(db, token, settings=app.extensions["idgate.settings"], now=clock.now())


def test_only_the_tokens_hash_is_stored(db, app, clock):
    token, row = _start(db, app, clock, MembershipFactory())
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert db.scalar(select(UserSession).where(UserSession.token_hash == token)) is None


def test_resolve_describes_the_holder(db, app, clock):
    membership = MembershipFactory(admin=True)
    token, _ = _start(db, app, clock, membership)
    ctx = _resolve(db, app, clock, token)
    assert (ctx.user_id, ctx.org_slug, ctx.role, ctx.restricted) == (
        membership.user_id, membership.org.slug, "admin", False)


def test_touches_are_written_at_most_once_a_minute(db, app, clock):
    token, row = _start(db, app, clock, MembershipFactory())
    started = row.last_seen_at
    clock.advance(seconds=30)
    _resolve(db, app, clock, token)
    assert row.last_seen_at == started
    clock.advance(seconds=31)
    _resolve(db, app, clock, token)
    assert row.last_seen_at == clock.now()


def test_revoked_expired_idle_and_deactivated_sessions_resolve_to_nothing(db, app, clock):
    membership = MembershipFactory()
    token, row = _start(db, app, clock, membership)
    services.revoke(db, row.id, now=clock.now())
    assert _resolve(db, app, clock, token) is None

    token, _ = _start(db, app, clock, membership)
    clock.advance(hours=1, seconds=1)
    assert _resolve(db, app, clock, token) is None

    token, _ = _start(db, app, clock, membership)
    membership.status = MemberStatus.INACTIVE
    db.flush()
    assert _resolve(db, app, clock, token) is None


def test_revoke_all_can_keep_one_and_counts_live_sessions(db, app, clock):
    membership = MembershipFactory()
    _start(db, app, clock, membership)
    _, keep = _start(db, app, clock, membership)
    assert services.count_active_for(db, membership.user_id, now=clock.now()) == 2
    assert services.revoke_all_for(db, membership.user_id, now=clock.now(), keep=keep.id) == 1
    assert services.count_active_for(db, membership.user_id, now=clock.now()) == 1


def test_garbage_tokens_resolve_to_nothing(db, app, clock):
    for token in (None, "", "x" * 500, "not-a-token"):
        assert _resolve(db, app, clock, token) is None
