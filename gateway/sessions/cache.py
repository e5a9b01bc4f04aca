"""A one-second memory of resolved sessions for /auth/verify, the hot path.

Revocation must be visible on every instance within one second, so an entry
lives at most that long. Within this process it is dropped at once: every
commit that wrote anything bumps a generation counter, and entries from an
older generation are ignored. (Writes are rare next to verifies.)
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from gateway import prepared
from gateway.sessions.services import SessionContext

TTL_SECONDS = 1.0
MAX_ENTRIES = 100_000

_entries: OrderedDict = OrderedDict()
_lock = threading.Lock()
_generation = 0


def get(token_hash: str) -> SessionContext | None:
    with _lock:
        entry = _entries.get(token_hash)
        if entry is None:
            return None
        ctx, generation, stored = entry
        if generation != _generation or time.monotonic() - stored > TTL_SECONDS:
            del _entries[token_hash]
            return None
        return ctx


def generation() -> int:
    """Take it before reading a session from the database, and hand it to put()."""
    return _generation


def put(token_hash: str, ctx: SessionContext, read_in_generation: int) -> None:
    """Remember a session read while `read_in_generation` was current: if a commit wrote since
    (a deactivation, say), the entry is born stale and never served."""
    with _lock:
        _entries[token_hash] = (ctx, read_in_generation, time.monotonic())
        _entries.move_to_end(token_hash)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)


def invalidate() -> None:
    global _generation
    with _lock:
        _generation += 1
        _entries.clear()


# Writes are noticed where every one of them passes, the connection: ORM flushes and the prepared
# statements of the hot paths alike. The Session's own events say when its transaction ends.
_WROTE = "idgate.wrote"


@event.listens_for(Engine, "after_cursor_execute")
def _note_write(conn, _cursor, _statement, _parameters, context, _executemany):
    if context is not None and (context.isinsert or context.isupdate or context.isdelete):
        conn.info[_WROTE] = True


@prepared.on_execute
def _note_prepared_write(connection, statement, _values) -> None:
    if statement.writes:
        connection.info[_WROTE] = True


@event.listens_for(Session, "after_begin")
def _watch(session, _transaction, connection):
    connection.info.pop(_WROTE, None)
    session.info.setdefault("idgate.connections", []).append(connection.info)


@event.listens_for(Session, "after_commit")
def _drop_after_writes(session):
    # After the commit, so that nothing read before it can be cached as current.
    if any([info.pop(_WROTE, False) for info in session.info.pop("idgate.connections", [])]):
        invalidate()


@event.listens_for(Session, "after_rollback")
def _forget_writes(session):
    for info in session.info.pop("idgate.connections", []):
        info.pop(_WROTE, None)
