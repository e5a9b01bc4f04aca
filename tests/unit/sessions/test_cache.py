"""The one-second verify cache forgets everything once a write is committed in this process."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import insert, update

from gateway.audit.models import AuditEvent
from gateway.db import core_execute
from gateway.sessions import cache
from gateway.sessions.models import UserSession
from gateway.sessions.services import SessionContext

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def cached():
    """A context in the cache, as /auth/verify leaves it."""
    cache.invalidate()
    ctx = SessionContext(session_id=1, user_id=1, email="ada@example.com", name="Ada", org_id=None, org_slug=None,
                         org_name=None, role=None, restricted=False, expires_at=NOW)
    cache.put("token-hash", ctx, cache.generation())
    yield ctx
    cache.invalidate()


def _audit_row() -> dict:
    return {"occurred_at": NOW, "action": "test:write", "details": {}}


def test_a_plain_core_write_drops_the_cache_at_commit(db, cached):
    core_execute(db, insert(AuditEvent.__table__), _audit_row())
    assert cache.get("token-hash") == cached  # not before the commit: others still read the old rows

    db.commit()

    assert cache.get("token-hash") is None


def test_an_orm_bulk_update_drops_the_cache_at_commit(db, cached):
    db.execute(update(UserSession).where(UserSession.id == -1).values(revoked_at=NOW))
    db.commit()

    assert cache.get("token-hash") is None


def test_a_flushed_orm_object_drops_the_cache_at_commit(db, cached):
    db.add(AuditEvent(**_audit_row()))
    db.commit()

    assert cache.get("token-hash") is None


def test_a_read_only_commit_keeps_the_cache(db, cached):
    db.execute(UserSession.__table__.select().where(UserSession.id == -1)).first()
    db.commit()

    assert cache.get("token-hash") == cached


def test_a_rolled_back_write_keeps_the_cache(db, cached):
    core_execute(db, insert(AuditEvent.__table__), _audit_row())
    db.rollback()
    db.commit()

    assert cache.get("token-hash") == cached


def test_a_session_read_before_a_write_committed_is_never_served():
    # /auth/verify read the session; a deactivation committed before the answer was remembered.
    cache.invalidate()
    ctx = SessionContext(session_id=1, user_id=1, email="a@example.com", name="A", org_id=1, org_slug="acme",
                         org_name="Acme", role="user", restricted=False,
                         expires_at=datetime(2030, 1, 1, tzinfo=timezone.utc))
    read_in = cache.generation()
    cache.invalidate()  # the deactivation's commit
    cache.put("token-hash", ctx, read_in)
    assert cache.get("token-hash") is None
