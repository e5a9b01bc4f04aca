"""Rate-limit counters in PostgreSQL, for several instances without Redis.

A `limits` storage backend (fixed windows, the strategy Flask-Limiter uses by default): one row
per key, bumped by a single INSERT … ON CONFLICT DO UPDATE, so that concurrent instances count
together and the database decides. Used when IDGATE_REDIS_URL is unset on PostgreSQL; Redis,
when configured, is faster. The embedded SQLite default keeps counting in memory: one host.
"""

from __future__ import annotations

import time

from limits.storage import Storage
from sqlalchemy import Float, Integer, String, case, delete, select, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base

# The storage is built by `limits` from a URI; it finds its app's sessionmaker here by name.
_sessionmakers: dict = {}


class RateLimitCounter(Base):
    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float)  # epoch seconds: the window's end


def register(name: str, sessionmaker) -> str:
    _sessionmakers[name] = sessionmaker
    return f"idgate-sql://{name}"


class SqlStorage(Storage):
    STORAGE_SCHEME = ["idgate-sql"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.name = (uri or "").split("://", 1)[-1]

    @property
    def base_exceptions(self):
        from sqlalchemy.exc import SQLAlchemyError

        return SQLAlchemyError

    def _session(self):
        return _sessionmakers[self.name]()

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._session() as db, db.begin():
            from sqlalchemy.dialects.postgresql import insert

            statement = insert(RateLimitCounter).values(key=key[:255], count=amount, expires_at=now + expiry)
            expired = RateLimitCounter.expires_at <= now
            statement = statement.on_conflict_do_update(
                index_elements=[RateLimitCounter.key],
                set_={"count": case((expired, statement.excluded.count),
                                    else_=RateLimitCounter.count + statement.excluded.count),
                      "expires_at": case((expired, statement.excluded.expires_at),
                                         else_=RateLimitCounter.expires_at)},
            ).returning(RateLimitCounter.count)
            return db.execute(statement).scalar_one()

    def get(self, key: str) -> int:
        with self._session() as db:
            row = db.execute(select(RateLimitCounter.count).where(
                RateLimitCounter.key == key[:255], RateLimitCounter.expires_at > time.time())).first()
            return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        with self._session() as db:
            value = db.scalar(select(RateLimitCounter.expires_at).where(RateLimitCounter.key == key[:255]))
            return value if value else time.time()

    def check(self) -> bool:
        with self._session() as db:
            db.execute(text("SELECT 1"))
        return True

    def reset(self) -> int | None:
        with self._session() as db, db.begin():
            return db.execute(delete(RateLimitCounter)).rowcount

    def clear(self, key: str) -> None:
        with self._session() as db, db.begin():
            db.execute(delete(RateLimitCounter).where(RateLimitCounter.key == key[:255]))


def delete_expired(db, *, before: float) -> int:
    """Delete counters whose window ended before `before` (epoch seconds, the limiter's own clock)."""
    return db.execute(delete(RateLimitCounter).where(RateLimitCounter.expires_at < before)).rowcount
