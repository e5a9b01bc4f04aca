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
from sqlalchemy.orm import Session

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


def put(token_hash: str, ctx: SessionContext) -> None:
    with _lock:
        _entries[token_hash] = (ctx, _generation, time.monotonic())
        _entries.move_to_end(token_hash)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)


def invalidate() -> None:
    global _generation
    with _lock:
        _generation += 1
        _entries.clear()


@event.listens_for(Session, "after_flush")
def _note_flush(session, _context):
    session.info["wrote"] = True


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_write(state):
    if state.is_update or state.is_delete or state.is_insert:
        state.session.info["wrote"] = True


@event.listens_for(Session, "after_commit")
def _drop_after_writes(session):
    if session.info.pop("wrote", False):
        invalidate()
