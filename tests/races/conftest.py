"""Races run on PostgreSQL only, on a database of their own where every transaction commits."""

from __future__ import annotations

import os
import threading

import pytest
from sqlalchemy.orm import sessionmaker

from gateway import create_app
from gateway.accounts.passwords import Passwords
from gateway.db import make_engine
from gateway.migrate import upgrade
from tests.conftest import FAST_HASH, fresh_postgres_database


# Accounts in the races sign in with this password, hashed cheaply: the race is not in the hash.
PASSWORD = "violet tractor mango 1987 sunrise"
FAST_PASSWORDS = Passwords(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(scope="module")
def race_engine(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("races need PostgreSQL's row locks: run with IDGATE_TEST_DATABASE_URL")
    with fresh_postgres_database(database_url, f"idgate_race_{os.getpid()}") as url:
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "test", **FAST_HASH})
        upgrade(app)
        app.extensions["idgate.engine"].dispose()
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture
def make_session(race_engine):
    return sessionmaker(bind=race_engine, expire_on_commit=False)


def at_once(action, count: int = 2) -> list:
    """Run `action(barrier)` in `count` threads that `barrier.wait()` releases together; what each returned."""
    barrier = threading.Barrier(count)
    outcomes = []
    threads = [threading.Thread(target=lambda: outcomes.append(action(barrier))) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes
