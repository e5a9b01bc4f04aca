"""Server-side sessions: hashed tokens, limits, throttled touches, revocation."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from gateway.accounts.models import User
from gateway.actor import Actor
from gateway.orgs.models import MemberStatus, Membership
from gateway.sessions import services
from gateway.sessions.models import UserSession
from tests.factories import OrganizationFactory, member


@pytest.fixture
def settings(app):
    return app.extensions["idgate.settings"]


@pytest.fixture
def start(db, settings, clock):
    """Open a session for a user in their (only) organization; returns (token, row)."""
    def start(user, org_id=None):
        org_id = org_id or _membership(db, user).org_id
        return services.start(db, user.id, org_id=org_id, amr="pwd",
                              actor=Actor(ip="203.0.113.7", user_agent="pytest"),
                              settings=settings, now=clock.now())
    return start


@pytest.fixture
def resolve(db, settings, clock):
    def resolve(token):
        return services.resolve(db, token, settings=settings, now=clock.now())
    return resolve


def _membership(db, user) -> Membership:
    return db.scalar(select(Membership).where(Membership.user_id == user.id).order_by(Membership.id))


def _stored(db, session_id) -> UserSession:
    """The row as the database has it now, not as this Session remembers it."""
    db.flush()
    db.expire_all()
    return db.get(UserSession, session_id)


class TestStart:
    def test_stores_the_tokens_sha256_and_not_the_token(self, db, start):
        token, row = start(member())
        stored = _stored(db, row.id)
        assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert db.scalar(select(UserSession).where(UserSession.token_hash == token)) is None

    def test_tokens_are_long_and_unique(self, start):
        user = member()
        tokens = {start(user)[0] for _ in range(5)}
        assert len(tokens) == 5
        assert all(len(token) >= 43 for token in tokens)  # 32 random bytes

    def test_sets_both_deadlines_from_the_settings(self, db, start, settings, clock):
        _, row = start(member())
        stored = _stored(db, row.id)
        assert stored.expires_at == clock.now() + settings.session_lifetime
        assert stored.idle_expires_at == clock.now() + settings.session_idle
        assert (stored.ip, stored.user_agent) == ("203.0.113.7", "pytest")


class TestResolve:
    def test_describes_the_holder(self, db, start, resolve):
        user = member(admin=True)
        token, row = start(user)
        org = _membership(db, user).org
        ctx = resolve(token)
        assert (ctx.session_id, ctx.user_id, ctx.email, ctx.name) == (row.id, user.id, user.email, user.name)
        assert (ctx.org_id, ctx.org_slug, ctx.org_name, ctx.role) == (org.id, org.slug, org.name, "admin")
        assert ctx.restricted is False

    @pytest.mark.parametrize("token", [None, "", "x" * 500, "not-a-token"])
    def test_garbage_tokens_resolve_to_nothing(self, resolve, token):
        assert resolve(token) is None

    def test_the_stored_hash_is_not_a_token(self, db, start, resolve):
        _, row = start(member())
        assert resolve(_stored(db, row.id).token_hash) is None

    def test_nothing_after_revoke(self, db, start, resolve, clock):
        token, row = start(member())
        services.revoke(db, row.id, now=clock.now())
        assert resolve(token) is None
        assert _stored(db, row.id).revoked_at == clock.now()

    def test_nothing_after_the_absolute_lifetime_however_active(self, start, resolve, clock, settings):
        token, _ = start(member())
        ends = clock.now() + settings.session_lifetime
        # Used every half hour, so the idle timeout never strikes; the lifetime still does.
        assert settings.session_idle > timedelta(minutes=30)
        while clock.now() + timedelta(minutes=30) < ends:
            clock.advance(minutes=30)
            assert resolve(token) is not None
        clock.advance(minutes=29, seconds=59)
        assert resolve(token) is not None
        clock.advance(seconds=1)
        assert resolve(token) is None

    def test_nothing_after_the_idle_timeout(self, start, resolve, clock, settings):
        token, _ = start(member())
        clock.advance(seconds=(settings.session_idle - timedelta(seconds=1)).total_seconds())
        assert resolve(token) is not None  # and this use restarts the idle clock
        clock.advance(seconds=(settings.session_idle - timedelta(seconds=1)).total_seconds())
        assert resolve(token) is not None
        clock.advance(seconds=settings.session_idle.total_seconds())
        assert resolve(token) is None

    def test_nothing_once_the_membership_is_inactive(self, db, start, resolve):
        user = member()
        token, _ = start(user)
        _membership(db, user).status = MemberStatus.INACTIVE
        db.flush()
        assert resolve(token) is None

    def test_nothing_once_the_membership_is_gone(self, db, start, resolve):
        user = member()
        token, _ = start(user)
        db.delete(_membership(db, user))
        db.flush()
        assert resolve(token) is None

    def test_a_session_in_another_org_is_judged_by_that_membership(self, db, start, resolve):
        user = member()
        other = OrganizationFactory()
        member(org=other, user=user, inactive=True)
        token_home, _ = start(user)
        token_elsewhere, _ = start(user, org_id=other.id)
        assert resolve(token_home) is not None
        assert resolve(token_elsewhere) is None


class TestTouch:
    def test_last_seen_is_written_at_most_once_a_minute(self, db, start, resolve, clock):
        user = member()
        token, row = start(user)
        started = clock.now()

        clock.advance(seconds=30)
        resolve(token)
        assert _stored(db, row.id).last_seen_at == started

        clock.advance(seconds=31)
        resolve(token)
        stored = _stored(db, row.id)
        assert stored.last_seen_at == clock.now()
        assert db.get(User, user.id).last_seen_at == clock.now()

    def test_a_touch_moves_the_idle_deadline_but_never_past_the_lifetime(self, db, start, resolve, clock,
                                                                          settings):
        token, row = start(member())
        clock.advance(minutes=2)
        resolve(token)
        assert _stored(db, row.id).idle_expires_at == clock.now() + settings.session_idle

        lifetime_end = _stored(db, row.id).expires_at
        while clock.now() + settings.session_idle < lifetime_end:
            clock.advance(minutes=30)
            resolve(token)
        assert _stored(db, row.id).idle_expires_at == lifetime_end

    def test_resolving_by_id_does_not_touch(self, db, start, clock, settings):
        token, row = start(member())
        clock.advance(minutes=5)
        assert services.resolve_by_id(db, row.id, settings=settings, now=clock.now()) is not None
        assert _stored(db, row.id).last_seen_at == clock.now() - timedelta(minutes=5)


class TestRevokeAll:
    def test_revokes_every_live_session_of_the_user(self, db, start, resolve, clock):
        user, bystander = member(), member()
        tokens = [start(user)[0] for _ in range(3)]
        bystander_token, _ = start(bystander)
        assert services.revoke_all_for(db, user.id, now=clock.now()) == 3
        assert [resolve(token) for token in tokens] == [None, None, None]
        assert resolve(bystander_token) is not None

    def test_can_keep_one(self, db, start, resolve, clock):
        user = member()
        token_a, _ = start(user)
        token_kept, kept = start(user)
        assert services.revoke_all_for(db, user.id, now=clock.now(), keep=kept.id) == 1
        assert resolve(token_a) is None
        assert resolve(token_kept).session_id == kept.id

    def test_can_be_limited_to_one_org(self, db, start, resolve, clock):
        user = member()
        other = OrganizationFactory()
        member(org=other, user=user)
        token_home, _ = start(user)
        token_other, _ = start(user, org_id=other.id)
        assert services.revoke_all_for(db, user.id, now=clock.now(), org_id=other.id) == 1
        assert resolve(token_home) is not None
        assert resolve(token_other) is None

    def test_does_not_count_already_revoked_sessions(self, db, start, clock):
        user = member()
        _, row = start(user)
        services.revoke(db, row.id, now=clock.now())
        assert services.revoke_all_for(db, user.id, now=clock.now()) == 0


class TestReplace:
    def test_the_old_token_ends_and_the_new_one_says_what_was_proved(self, db, start, resolve, settings, clock):
        user = member()
        old_token, old = start(user)

        token, new = services.replace(db, old.id, amr="pwd otp mfa", owes=None, actor=Actor(), settings=settings,
                                      now=clock.now())

        assert resolve(old_token) is None
        assert (new.user_id, new.org_id) == (user.id, old.org_id)
        assert resolve(token).amr == ("pwd", "otp", "mfa")

    def test_a_session_that_ended_meanwhile_is_not_replaced(self, db, start, settings, clock):
        # Signed out (or ended by an admin, or by the other of two second steps at once) between the
        # request's start and its step: the UPDATE that ends it finds no live row, and nothing starts.
        user = member()
        _, row = start(user)
        services.revoke(db, row.id, now=clock.now())

        with pytest.raises(services.SessionEnded):
            services.replace(db, row.id, amr="pwd otp mfa", owes=None, actor=Actor(), settings=settings,
                             now=clock.now())
        assert services.count_active_for(db, user.id, now=clock.now()) == 0


class TestCountActive:
    def test_counts_only_live_sessions(self, db, start, clock, settings):
        user = member()
        start(user)
        _, revoked = start(user)
        services.revoke(db, revoked.id, now=clock.now())
        assert services.count_active_for(db, user.id, now=clock.now()) == 1

        clock.advance(seconds=settings.session_idle.total_seconds())
        assert services.count_active_for(db, user.id, now=clock.now()) == 0

    def test_can_be_limited_to_one_org(self, db, start, clock):
        user = member()
        other = OrganizationFactory()
        member(org=other, user=user)
        start(user)
        start(user, org_id=other.id)
        start(user, org_id=other.id)
        assert services.count_active_for(db, user.id, now=clock.now()) == 3
        assert services.count_active_for(db, user.id, now=clock.now(), org_id=other.id) == 2
