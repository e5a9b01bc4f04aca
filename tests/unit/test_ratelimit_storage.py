"""Rate-limit counters in PostgreSQL: fixed windows, counted by the database."""

from __future__ import annotations

import time

import pytest

from gateway import ratelimit_storage
from gateway.ratelimit_storage import SqlStorage


@pytest.fixture
def storage(app, is_postgres):
    if not is_postgres:
        pytest.skip("the SQL counters are for PostgreSQL (SQLite counts in memory)")
    return SqlStorage(ratelimit_storage.register("unit", app.extensions["idgate.sessionmaker"]))


def test_counts_within_a_window_and_restarts_after_it(storage):
    assert storage.incr("k", expiry=1) == 1
    assert storage.incr("k", expiry=1, amount=2) == 3
    assert storage.get("k") == 3 and storage.get_expiry("k") > time.time()
    time.sleep(1.05)
    assert storage.get("k") == 0
    assert storage.incr("k", expiry=60) == 1


def test_clear_and_reset(storage):
    storage.incr("a", expiry=60)
    storage.incr("b", expiry=60)
    storage.clear("a")
    assert storage.get("a") == 0 and storage.get("b") == 1
    storage.reset()
    assert storage.get("b") == 0 and storage.check()
