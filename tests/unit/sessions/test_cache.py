"""The verify cache forgets, everywhere, once a commit changed what a cached session resolved to,
and only then: sign-ins, touches and audit rows leave it alone."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import delete, insert, update

from gateway.audit.models import AuditEvent
from gateway.db import core_execute
from gateway.invalidation import LocalChannel
from gateway.orgs.models import Membership
from gateway.sessions.cache import VerifyCache, cache_of, changes_access
from gateway.sessions.models import UserSession
from gateway.sessions.services import SessionContext

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
CTX = SessionContext(session_id=1, user_id=1, email="ada@example.com", name="Ada", org_id=None, org_slug=None,
                     org_name=None, role=None, restricted=False, expires_at=NOW)


@pytest.fixture
def cached(app):
    """A context in the app's cache, as /auth/verify leaves it."""
    cache = cache_of(app)
    cache.forget()
    cache.put("token-hash", CTX, cache.generation())
    yield cache
    cache.forget()


def _audit_row() -> dict:
    return {"occurred_at": NOW, "action": "test:write", "details": {}}


class TestWhatCountsAsAChange:
    @pytest.mark.parametrize("sql", [
        "UPDATE sessions SET revoked_at=? WHERE sessions.id = ?",
        "UPDATE sessions SET org_id=%(org_id)s WHERE sessions.id = %(id_1)s::INTEGER",
        "UPDATE memberships SET role=?, version=(memberships.version + ?) WHERE memberships.id = ?",
        "UPDATE memberships SET status=?, deactivated_at=? WHERE memberships.id = ?",
        "UPDATE users SET name=?, last_login_at=? WHERE users.id = ?",
        "UPDATE organizations SET slug=? WHERE organizations.id = ?",
        "DELETE FROM memberships WHERE memberships.id = ?",
        "DELETE FROM users WHERE users.id = ?",
    ])
    def test_writes_to_what_a_session_resolves_from_count(self, sql):
        assert changes_access(sql)

    @pytest.mark.parametrize("sql", [
        "UPDATE sessions SET last_seen_at=?, idle_expires_at=? WHERE sessions.id = ?",  # the touch
        "UPDATE users SET last_seen_at=? WHERE users.id = ?",
        "UPDATE users SET last_login_at=?, last_org_id=? WHERE users.id = ?",  # a sign-in
        "INSERT INTO sessions (token_hash, user_id) VALUES (?, ?) RETURNING id",
        "INSERT INTO memberships (user_id, org_id, role) VALUES (?, ?, ?)",
        "UPDATE outbox SET attempts=? WHERE outbox.id = ?",
        "DELETE FROM audit_events WHERE 1 = 0",
        "SELECT sessions.id FROM sessions",
    ])
    def test_other_writes_do_not(self, sql):
        assert not changes_access(sql)

    def test_a_set_clause_that_cannot_be_read_counts(self):
        assert changes_access("UPDATE users SET last_seen_at=(SELECT max(x) FROM t WHERE y = ?) WHERE users.id = ?")


class TestAtCommit:
    def test_a_revocation_drops_the_cache_at_commit(self, db, cached):
        db.execute(update(UserSession).where(UserSession.id == -1).values(revoked_at=NOW))
        assert cached.get("token-hash") == CTX  # not before the commit: others still read the old rows

        db.commit()

        assert cached.get("token-hash") is None

    def test_a_flushed_orm_change_drops_the_cache_at_commit(self, db, cached):
        from tests.factories import MembershipFactory

        membership = MembershipFactory()
        db.commit()
        cached.put("token-hash", CTX, cached.generation())
        membership.role = "admin"  # flushed by the commit itself
        db.commit()

        assert cached.get("token-hash") is None

    def test_a_delete_drops_the_cache_at_commit(self, db, cached):
        db.execute(delete(Membership).where(Membership.id == -1))
        db.commit()

        assert cached.get("token-hash") is None

    def test_an_audit_row_keeps_the_cache(self, db, cached):
        core_execute(db, insert(AuditEvent.__table__), _audit_row())
        db.add(AuditEvent(**_audit_row()))
        db.commit()

        assert cached.get("token-hash") == CTX

    def test_a_touch_keeps_the_cache(self, db, cached):
        db.execute(update(UserSession).where(UserSession.id == -1).values(last_seen_at=NOW, idle_expires_at=NOW))
        db.commit()

        assert cached.get("token-hash") == CTX

    def test_a_rolled_back_change_keeps_the_cache(self, db, cached):
        db.execute(update(UserSession).where(UserSession.id == -1).values(revoked_at=NOW))
        db.rollback()
        db.commit()

        assert cached.get("token-hash") == CTX


class TestGenerations:
    def test_a_session_read_before_a_change_was_announced_is_never_served(self):
        # /auth/verify read the session; a deactivation committed before the answer was remembered.
        cache = VerifyCache(LocalChannel())
        read_in = cache.generation()
        cache.changed()  # the deactivation's commit
        cache.put("token-hash", CTX, read_in)

        assert cache.get("token-hash") is None

    def test_nothing_is_served_or_remembered_while_the_channel_is_out_of_step(self):
        class OutOfStep(LocalChannel):
            def generation(self):
                return None

        cache = VerifyCache(OutOfStep())
        cache.put("token-hash", CTX, cache.generation())

        assert cache.get("token-hash") is None
        assert cache._entries == {}

    def test_an_entry_lives_one_ttl_at_most(self, monkeypatch):
        from gateway.sessions import cache as module

        cache = VerifyCache(LocalChannel())
        cache.put("token-hash", CTX, cache.generation())
        later = module.time.monotonic() + module.TTL_SECONDS + 0.01
        monkeypatch.setattr(module.time, "monotonic", lambda: later)

        assert cache.get("token-hash") is None


def test_only_the_apps_own_engine_and_sessions_are_watched(app):
    # Not every engine and Session of the process: a library's or a script's beside us stays untouched.
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from gateway.sessions import cache

    assert event.contains(app.extensions["idgate.engine"], "after_cursor_execute", cache._note_statement)
    assert not event.contains(Engine, "after_cursor_execute", cache._note_statement)
    assert event.contains(app.extensions["idgate.sessionmaker"], "after_commit", cache._drop_after_changes)
    assert not event.contains(Session, "after_commit", cache._drop_after_changes)
