"""core_execute: prebuilt Core statements in the Session's own transaction, whichever it is."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, insert, select

from gateway.audit.models import AuditEvent
from gateway.db import core_execute

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
_APPEND = insert(AuditEvent.__table__)


def _append(db, action: str) -> None:
    core_execute(db, _APPEND, {"occurred_at": NOW, "action": action, "details": {}})


def _count(db, action: str) -> int:
    return db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def test_statements_run_on_the_sessions_connection_asked_for_once_per_transaction(db, monkeypatch):
    asked = []
    connection = db.connection
    monkeypatch.setattr(db, "connection", lambda *a, **k: asked.append(1) or connection(*a, **k))
    _append(db, "test:one")
    _append(db, "test:two")

    assert len(asked) == 1
    assert _count(db, "test:one") == _count(db, "test:two") == 1  # the ORM's reads see them: one transaction


def test_after_a_rollback_statements_join_the_next_transaction(db):
    _append(db, "test:undone")
    db.rollback()
    _append(db, "test:kept")
    db.commit()

    assert _count(db, "test:undone") == 0
    assert _count(db, "test:kept") == 1


def test_after_a_commit_or_close_statements_run_in_a_new_transaction(db):
    _append(db, "test:first")
    db.commit()
    _append(db, "test:second")
    db.close()  # ends the transaction without committing it

    assert _count(db, "test:first") == 1
    assert _count(db, "test:second") == 0
