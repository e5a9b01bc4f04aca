"""A short memory of resolved sessions for /auth/verify, the hot path, dropped everywhere at once.

Each entry keeps the generation of the invalidation channel (gateway.invalidation) it was read in,
and is served only while that generation is current and for at most TTL_SECONDS. A commit that
wrote anything a SessionContext is read from (`services.CONTEXT_COLUMNS`: a revocation, a role,
a membership's status, a name, an organization switch…) moves the generation of every worker of
every instance before its response goes out. Sign-ins, touches and audit rows write nothing a
cached context was read from, so they leave the caches alone.

The TTL still bounds what a silently broken channel could cost: never more than one TTL of
staleness, and none at all once the channel knows it is out of step (then nothing is served from
memory).
"""

from __future__ import annotations

import re
import threading
import time
from functools import lru_cache

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from gateway import prepared
from gateway.sessions.services import ACCESS_TABLES, CONTEXT_COLUMNS, SessionContext

TTL_SECONDS = 1.0
MAX_ENTRIES = 100_000


class VerifyCache:
    """token hash → (SessionContext, generation read in, when stored)."""

    def __init__(self, channel):
        self.channel = channel
        self._entries: dict = {}
        self._lock = threading.Lock()

    def get(self, token_hash: str) -> SessionContext | None:
        generation = self.channel.generation()
        if generation is None:
            return None
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        ctx, read_in, stored = entry
        if read_in != generation or time.monotonic() - stored > TTL_SECONDS:
            self._entries.pop(token_hash, None)
            return None
        return ctx

    def generation(self) -> int | None:
        """Take it before reading a session from the database, and hand it to put()."""
        return self.channel.generation()

    def put(self, token_hash: str, ctx: SessionContext, read_in: int | None) -> None:
        """Remember a session read while `read_in` was current: if a change was announced since
        (a deactivation, say), the entry is born stale and never served. Nothing is remembered
        while the channel is out of step (None)."""
        if read_in is None:
            return
        with self._lock:
            self._entries.pop(token_hash, None)  # re-inserted last: the dict's order is the eviction order
            self._entries[token_hash] = (ctx, read_in, time.monotonic())
            while len(self._entries) > MAX_ENTRIES:
                self._entries.pop(next(iter(self._entries)), None)

    def forget(self) -> None:
        """Drop what this process holds (tests that move a frozen clock past the real TTL)."""
        with self._lock:
            self._entries.clear()

    def changed(self) -> None:
        """Access changed (committed): every worker of every instance forgets, this one first."""
        with self._lock:
            self._entries.clear()
        self.channel.publish()


def cache_of(app: Flask) -> VerifyCache:
    return app.extensions["idgate.verify_cache"]


# What changes a cached context is noticed where every write passes, the connection: ORM flushes,
# Core statements and the prepared statements of the hot paths alike. The statement's own SQL says
# which table and columns it writes, whichever of those built it.
_INSERT = re.compile(r"^\s*INSERT\s+INTO\s+\"?(\w+)\"?", re.IGNORECASE)
_DML = re.compile(r"^\s*(UPDATE|DELETE\s+FROM)\s+\"?(\w+)\"?(?:\s+SET\s+(.*?))?(?:\s+WHERE\s|\s+RETURNING\s|$)",
                  re.IGNORECASE | re.DOTALL)
_SET_COLUMN = re.compile(r"(?:^|,)\s*\"?(\w+)\"?\s*=")


@lru_cache(maxsize=2048)
def changes_access(sql: str) -> bool:
    """True for an UPDATE of a column, or a DELETE of rows, that a SessionContext is read from; and
    for any write to a table of ACCESS_TABLES (group members, applications and their rules).

    Other inserts never make a cached context stale: only sessions that resolved are cached, and a
    new row cannot change what an existing session resolved to.
    """
    if insert := _INSERT.match(sql):
        return insert.group(1) in ACCESS_TABLES
    match = _DML.match(sql)
    if match is None:
        return False
    verb, table, assignments = match.groups()
    if table in ACCESS_TABLES:
        return True
    if table not in CONTEXT_COLUMNS:
        return False
    if verb.upper().startswith("DELETE") or assignments is None:
        return True
    if assignments.count("(") != assignments.count(")"):
        return True  # a SET clause we cannot read with certainty counts as a change
    return not CONTEXT_COLUMNS[table].isdisjoint(_SET_COLUMN.findall(assignments))


_CHANGED = "idgate.changed_access"
_CACHE = "idgate.verify_cache"


def _note_statement(conn, _cursor, statement, _parameters, context, _executemany):
    if context is not None and (context.isupdate or context.isdelete or context.isinsert) and changes_access(statement):
        conn.info[_CHANGED] = True


def _note_prepared_statement(connection, statement, _values) -> None:
    if statement.writes and changes_access(statement.sql):
        connection.info[_CHANGED] = True


def _watch(session, _transaction, connection):
    if _CACHE in session.info:
        connection.info.pop(_CHANGED, None)
        session.info.setdefault("idgate.connections", []).append(connection)


def _changed(session) -> bool:
    return any(connection.info.get(_CHANGED) for connection in session.info.get("idgate.connections", ()))


def _notify_with_the_commit(session):
    """A channel that can send its notice inside the transaction (PostgreSQL) does so now, so that
    the notice commits with the change or not at all."""
    cache = session.info.get(_CACHE)
    if cache is None or session.info.get("idgate.notified"):
        return
    session.flush()  # the commit's own flush comes after this event: its writes must be seen
    if _changed(session):
        for connection in session.info.get("idgate.connections", ()):
            if connection.info.get(_CHANGED) and cache.channel.notify_in_transaction(
                    connection.connection.dbapi_connection):
                session.info["idgate.notified"] = True
                break


def _drop_after_changes(session):
    # After the commit, so that nothing read before it can be cached as current.
    cache = session.info.get(_CACHE)
    changed = cache is not None and _changed(session)
    _forget(session)
    if changed:
        cache.changed()


def _forget(session):
    for connection in session.info.pop("idgate.connections", ()):
        connection.info.pop(_CHANGED, None)
    session.info.pop("idgate.notified", None)


def init_app(app: Flask, channel) -> VerifyCache:
    """The app's cache; every Session of its sessionmaker reports the access changes it commits."""
    cache = app.extensions["idgate.verify_cache"] = VerifyCache(channel)
    sessions = app.extensions["idgate.sessionmaker"]
    sessions.configure(info={_CACHE: cache})
    watch(app.extensions["idgate.engine"])
    for name, listener in (("after_begin", _watch), ("before_commit", _notify_with_the_commit),
                           ("after_commit", _drop_after_changes), ("after_rollback", _forget)):
        event.listen(sessions, name, listener)
    return cache


def watch(engine: Engine) -> None:
    """Note the writes run on this engine (the app's own; tests add the one their sessions run on)."""
    if not event.contains(engine, "after_cursor_execute", _note_statement):
        event.listen(engine, "after_cursor_execute", _note_statement)


# Our own prebuilt statements report to one registry (gateway.prepared); a flag on the connection
# that wrote is all this does, and only an app's Sessions (which carry its cache) act on it.
prepared.on_execute(_note_prepared_statement)
