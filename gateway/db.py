"""Database plumbing: declarative base, engine, the request's Session, transactions."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from flask import Flask, current_app, g
from sqlalchemy import DateTime, MetaData, String, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from gateway import prepared
from gateway.errors import BadRequest

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class comma_joined(FunctionElement):
    """An aggregate of text values joined by commas (string_agg on PostgreSQL, group_concat on
    SQLite), with the comma in the SQL itself: prebuilt statements take no literal parameters."""

    type = String()
    inherit_cache = True


@compiles(comma_joined)
def _group_concat(element, compiler, **kw):
    return f"group_concat({compiler.process(element.clauses, **kw)}, ',')"


@compiles(comma_joined, "postgresql")
def _string_agg(element, compiler, **kw):
    return f"string_agg({compiler.process(element.clauses, **kw)}, ',')"


def refuse_nul_characters(values) -> None:
    """:raise BadRequest: a text value holds a NUL character, which PostgreSQL cannot store."""
    # One check where every value passes, instead of one at each of the many doors text comes in by
    # (paths, query strings, forms, JSON, SAML attributes).
    values = values.values() if isinstance(values, dict) else values or ()
    if any(isinstance(value, str) and "\x00" in value for value in values):
        raise BadRequest("Text may not contain NUL characters.", code="nul_character")


def _refuse_nul_characters_in_statement(_conn, _cursor, _statement, parameters, _context, executemany):
    for row in parameters if executemany else (parameters,):
        refuse_nul_characters(row)


@prepared.on_execute
def _refuse_nul_characters_in_prepared(connection, _statement, values) -> None:
    if connection.dialect.name != "sqlite":
        refuse_nul_characters(values)


def make_engine(url: str, *, writers_first: bool = True) -> Engine:
    """Create the engine; SQLite gets real transactions, WAL, a busy timeout and (`writers_first`)
    transactions that start as writers."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        # No pre-ping: it costs a round trip per request. A connection the server dropped fails
        # one request (503), and SQLAlchemy then invalidates the pool and reconnects.
        engine = create_engine(parsed, pool_size=10, max_overflow=10)
        event.listen(engine, "before_cursor_execute", _refuse_nul_characters_in_statement)
        return engine

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"timeout": 15})

    # pysqlite's own transaction handling breaks SAVEPOINT and FOR UPDATE-free
    # locking; hand BEGIN to SQLAlchemy as its documentation recommends.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        if parsed.database and parsed.database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
            # With WAL, NORMAL never corrupts the database; it skips an fsync per commit.
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # Every transaction starts as a writer. A deferred one that reads and then writes is refused
        # at once ("database is locked", no busy wait) whenever another worker committed meanwhile:
        # a sign-in next to an admin's change would fail. IMMEDIATE waits its turn (busy_timeout)
        # instead; in exchange, transactions on one SQLite file run one at a time.
        # Straight to the driver: a statement through SQLAlchemy's machinery costs more than the BEGIN.
        connection.connection.dbapi_connection.execute("BEGIN IMMEDIATE" if writers_first else "BEGIN")

    return engine


def init_app(app: Flask, url: str) -> None:
    engine = make_engine(url)
    app.extensions["idgate.engine"] = engine
    sessions = app.extensions["idgate.sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)
    event.listen(sessions, "after_transaction_end", _forget_connection)
    app.after_request(_commit_at_the_edge)
    app.teardown_appcontext(_close_session)


def get_session() -> Session:
    """The request's Session, created on first use; committed once, at the edge."""
    if "db" not in g:
        g.db = current_app.extensions["idgate.sessionmaker"]()
    return g.db


def _commit_at_the_edge(response):
    # Commit before the response leaves, so that a failed commit still turns into
    # an error response instead of a success the database never saw.
    run_after_commit(response, end_request_transaction(keep=response.status_code < 500))
    return response


def end_request_transaction(*, keep: bool) -> list:
    """Commit (`keep`) or roll back the request's Session and close it; the work services queued
    for after a commit (to run once the answer is sent). For Flask's edge and the OpenID Connect
    fast path (gateway.oidc.fast) alike."""
    db = g.pop("db", None)
    if db is None:
        return []
    after_commit = db.info.pop("after_commit", [])
    try:
        if keep:
            db.commit()
        else:
            db.rollback()
            after_commit = []
    finally:
        db.close()
    return after_commit


def run_after_commit(response, callbacks) -> None:
    """Run work queued by services (mail delivery) once the response has been sent."""
    app = current_app._get_current_object()
    for callback in dict.fromkeys(callbacks):  # once each, in order
        response.call_on_close(lambda cb=callback: cb(app))


def _close_session(_exc):
    db = g.pop("db", None)
    if db is not None:
        db.rollback()
        db.close()


# The Session's connection for its current transaction, kept in `Session.info` by core_execute.
_CONNECTION = "idgate.connection"


def core_execute(db: Session, statement, params: dict | None = None) -> prepared.Rows:
    """Run a prebuilt Core statement in the Session's transaction, on the driver's cursor.

    For the hot paths (the ACS, sign-ins): SQLAlchemy compiles the statement and
    converts its values, but none of its execution machinery, ORM events or
    autoflush run (gateway/prepared.py). Pending ORM changes are not flushed
    first, so use it only for rows that do not depend on them. Writes still
    reach the verify cache's invalidation, which hooks into prepared statements.
    """
    connection = db.info.get(_CONNECTION)
    if connection is None:
        # Asked of the Session once per transaction: its state machine costs more than a statement's bind.
        connection = db.info[_CONNECTION] = db.connection()
    return prepared.execute(connection, statement, params)


def _forget_connection(session: Session, transaction) -> None:
    if transaction.parent is None:  # the root transaction ended: its connection went back to the pool
        session.info.pop(_CONNECTION, None)


def insert_if_absent(db: Session, model, **values) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True when this call inserted the row.

    One statement, no savepoint: of two requests inserting the same key at once,
    the database lets exactly one through.
    """
    statement = _insert_if_absent(db.get_bind().dialect.name, model.__table__)
    return core_execute(db, statement, values).first() is not None


@lru_cache(maxsize=32)
def _insert_if_absent(dialect: str, table):
    # Built once per table, bound per call. On the table, not the mapped class: plain Core skips
    # the ORM's bulk-insert machinery. RETURNING, as not every driver reports rowcount here.
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).on_conflict_do_nothing().returning(*table.primary_key)


@contextmanager
def transaction(app: Flask | None = None) -> Iterator[Session]:
    """An explicit unit of work for the CLI and background jobs."""
    app = app or current_app
    db = app.extensions["idgate.sessionmaker"]()
    try:
        yield db
        db.commit()
    except BaseException:
        db.rollback()
        raise
    finally:
        db.close()
