"""A publish returns once every worker subscribed has read the notice: a server's "sent" is not a
worker's "read" (Redis may answer the publisher before it writes a subscriber's copy, and a
subscriber's process may not have run since). Two channels in one process stand for two workers;
the servers are the real Redis and PostgreSQL."""

from __future__ import annotations

import os
import time

import psycopg
import pytest
import redis

from gateway.invalidation import ACK_TIMEOUTS, PostgresChannel, RedisChannel


def _in_step(*channels, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while any(channel.generation() is None for channel in channels):
        assert time.monotonic() < deadline, "a channel did not come into step"
        time.sleep(0.01)


def _read_without_asking(channel) -> int:
    """What a worker has read so far, without looking at its socket first (as generation() would)."""
    return channel._generation


@pytest.fixture
def redis_url():
    url = os.environ.get("IDGATE_TEST_REDIS_URL")
    if not url:
        pytest.skip("set IDGATE_TEST_REDIS_URL to run on a real Redis")
    return url


@pytest.fixture
def two_redis_workers(redis_url):
    workers = [RedisChannel(redis_url), RedisChannel(redis_url)]
    _in_step(*workers)
    yield workers
    for worker in workers:
        worker.close()


def _timeouts() -> float:
    return ACK_TIMEOUTS._value.get()


def test_a_redis_publish_returns_after_the_other_worker_has_read_it(two_redis_workers):
    publisher, other = two_redis_workers
    for _ in range(20):
        before, timeouts = _read_without_asking(other), _timeouts()
        publisher.publish()
        assert _read_without_asking(other) == before + 1
        assert _timeouts() == timeouts


def test_a_redis_subscriber_that_never_acknowledges_holds_a_publish_only_so_long(two_redis_workers, redis_url):
    publisher, _ = two_redis_workers
    silent = redis.Redis.from_url(redis_url).pubsub()
    silent.subscribe(publisher._channel)
    silent.get_message(timeout=2)  # its subscription confirmed
    try:
        timeouts = _timeouts()
        publisher.publish()
        assert _timeouts() == timeouts + 1
    finally:
        silent.close()


@pytest.fixture
def postgres_url(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("run with IDGATE_TEST_DATABASE_URL for the PostgreSQL channel")
    return database_url


@pytest.fixture
def two_postgres_workers(postgres_url):
    workers = [PostgresChannel(postgres_url), PostgresChannel(postgres_url)]
    _in_step(*workers)
    yield workers
    for worker in workers:
        worker.close()


def _commit_a_change(channel, url: str) -> None:
    with psycopg.connect(url) as conn:
        assert channel.notify_in_transaction(conn)
        conn.commit()
    channel.publish()


def test_a_postgresql_publish_returns_after_the_other_worker_has_read_it(two_postgres_workers, postgres_url):
    publisher, other = two_postgres_workers
    for _ in range(20):
        before, timeouts = _read_without_asking(other), _timeouts()
        _commit_a_change(publisher, postgres_url)
        assert _read_without_asking(other) == before + 1
        assert _timeouts() == timeouts


def test_a_postgresql_notice_rolled_back_is_neither_sent_nor_waited_for(two_postgres_workers, postgres_url):
    publisher, other = two_postgres_workers
    before, timeouts = _read_without_asking(other), _timeouts()
    with psycopg.connect(postgres_url) as conn:
        assert publisher.notify_in_transaction(conn)
        conn.rollback()
    _commit_a_change(publisher, postgres_url)  # the next change waits for its own notice only

    assert _read_without_asking(other) == before + 1
    assert _timeouts() == timeouts


def test_a_generational_value_is_read_again_only_when_the_generation_moves():
    from gateway.invalidation import Generational, LocalChannel

    channel, loads = LocalChannel(), []
    held = Generational(channel)

    def load():
        loads.append(1)
        return len(loads)

    assert held.get(load) == 1 and held.get(load) == 1
    channel.publish()
    assert held.get(load) == 2 and len(loads) == 2


def test_a_generational_value_is_read_every_time_while_the_channel_is_not_in_step():
    from gateway.invalidation import Generational

    class Lost:
        def generation(self):
            return None

    held, loads = Generational(Lost()), []
    held.get(lambda: loads.append(1))
    held.get(lambda: loads.append(1))
    assert len(loads) == 2
