"""Prebuilt Core statements compiled once by SQLAlchemy and run on the driver's own cursor.

The hot paths (the ACS, sign-ins) run the same few statements every time.
SQLAlchemy's execution of one such statement, cached compilation and all,
costs a few times what the driver spends on it: cache key, execution
context, result object. Here SQLAlchemy still writes every
statement (SQL in the dialect's paramstyle, from the tables' definitions) and
still converts every value (each type's own bind and result processors, the
columns' Python-side defaults), once worked out per statement, dialect and set
of parameter names; only the execution goes straight to the DB-API cursor of
the connection the Session's transaction already holds.

What SQLAlchemy's execution would add on the way is kept: driver errors
surface as SQLAlchemy's exceptions (`IntegrityError`, `OperationalError`…),
with the connection invalidated on a disconnect, and `on_execute` hooks (the
verify cache's note that something was written, the NUL check) see every
statement.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Callable

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound

# Called as hook(connection, statement, values) before each statement runs.
_hooks: list[Callable] = []
# Per (statement, dialect, parameter names): a handful of call sites make a few dozen entries.
_MAX_PREPARED = 512
_prepared: dict = {}


def on_execute(hook: Callable) -> Callable:
    """Register hook(connection, statement, values), run before every prepared statement."""
    _hooks.append(hook)
    return hook


class Rows:
    """The rows a statement returned, with the few of SQLAlchemy's Result methods the callers use."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list):
        self._rows = rows

    def first(self):
        return self._rows[0] if self._rows else None

    def all(self) -> list:
        return list(self._rows)

    def scalar(self):
        return self._rows[0][0] if self._rows else None

    def scalar_one(self):
        if not self._rows:
            raise NoResultFound("No row was found when one was required")
        if len(self._rows) > 1:
            raise MultipleResultsFound("Multiple rows were found when exactly one was required")
        return self._rows[0][0]


class _Prepared:
    """One statement as the driver takes it: SQL text, how to build its values, how to read its rows."""

    def __init__(self, statement, dialect: Dialect, keys: tuple[str, ...]):
        compiled = statement.compile(dialect=dialect, column_keys=list(keys) if statement.is_dml else None)
        self.statement, self.dialect = statement, dialect  # held, so that their ids stay theirs while cached
        self.sql, self.writes = compiled.string, statement.is_dml
        defaults = {column.key: column.default for column in compiled.insert_prefetch + compiled.update_prefetch}
        template = compiled.construct_params({key: None for key in keys})
        # (parameter name, key in the caller's dict or None, constant, a default made per row or None,
        # bind processor)
        self.values = []
        for name, constant in template.items():
            bind = compiled.binds[name]
            if bind.expanding or (bind.callable is not None and name not in keys):
                raise TypeError(f"{name}: expanding and callable parameters are not prepared")
            made = None
            if name in defaults and name not in keys:
                default = defaults[name]
                if default.is_scalar:
                    constant = default.arg
                elif default.is_callable:  # a fresh value per row (a random id); SQLAlchemy's wrapper takes a context
                    made = default.arg
                else:
                    raise TypeError(f"{name}: only scalar and callable Python-side defaults are prepared")
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            self.values.append((name, name if name in keys else None, constant, made, processor))
        self.positions = list(compiled.positiontup) if compiled.positional else None
        columns = list(statement.exported_columns) if statement.is_select or statement.is_dml else []
        self.columns = [column.type.dialect_impl(dialect) for column in columns]
        self.row_type = namedtuple("Row", [column.key for column in columns] or ["_0"], rename=True)
        self.readers = None  # result processors, once the driver has described a result

    def bind(self, params: dict):
        named = {}
        for name, key, constant, made, processor in self.values:
            value = params[key] if key is not None else made(None) if made is not None else constant
            named[name] = processor(value) if processor is not None else value
        if self.positions is None:
            return named
        return tuple(named[name] for name in self.positions)

    def read(self, dialect: Dialect, description, rows: list) -> list:
        if self.readers is None:
            readers = [impl.result_processor(dialect, column[1]) for impl, column in zip(self.columns, description)]
            self.readers = readers if any(readers) else []
        make = self.row_type._make
        if not self.readers:
            return [make(row) for row in rows]
        readers = self.readers
        return [make([reader(value) if reader else value for reader, value in zip(readers, row)]) for row in rows]


def prepared(statement, dialect: Dialect, keys: tuple[str, ...]) -> _Prepared:
    key = (id(statement), id(dialect), keys)
    found = _prepared.get(key)
    if found is None or found.statement is not statement or found.dialect is not dialect:
        if len(_prepared) >= _MAX_PREPARED:
            _prepared.clear()
        found = _prepared[key] = _Prepared(statement, dialect, keys)
    return found


def execute(connection: Connection, statement, params: dict | None = None) -> Rows:
    """Run `statement` with `params` on the connection's DB-API cursor, in its current transaction.

    :raise sqlalchemy.exc.DBAPIError: (its subclasses) for whatever the driver refuses.
    """
    params = params or {}
    dialect = connection.dialect
    statement_ = prepared(statement, dialect, tuple(params))
    values = statement_.bind(params)
    for hook in _hooks:
        hook(connection, statement_, values)
    dbapi_connection = connection.connection.dbapi_connection
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(statement_.sql, values)
        # Read to the end even when nobody asks: SQLite must finish a RETURNING statement before COMMIT.
        rows = cursor.fetchall() if cursor.description else []
        description = cursor.description
    except dialect.loaded_dbapi.Error as exc:
        disconnected = dialect.is_disconnect(exc, dbapi_connection, cursor)
        if disconnected:
            connection.invalidate(exc)
        raise DBAPIError.instance(statement_.sql, values, exc, dialect.loaded_dbapi.Error, hide_parameters=True,
                                  connection_invalidated=disconnected, dialect=dialect) from exc
    finally:
        cursor.close()
    return Rows(statement_.read(dialect, description, rows) if rows else [])
