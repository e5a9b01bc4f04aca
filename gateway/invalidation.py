"""Telling every worker of every instance that access changed: one generation, pushed.

The verify cache (gateway.sessions.cache) keeps each entry with the generation it was read in and
serves it only while that generation is still current. A commit that changes who may pass or what
they carry calls `publish()` before its response goes out; every worker's generation then moves:

- `FileChannel` (SQLite, one host, several workers): the generation is 8 random bytes in a small
  file beside the database, mapped into every worker's memory; a publish writes new ones. Every
  worker reads the same page, so there is nothing to deliver and nothing to miss.
- `RedisChannel` (IDGATE_REDIS_URL): Redis pub/sub. `PostgresChannel` (PostgreSQL without Redis):
  LISTEN/NOTIFY, the NOTIFY sent inside the changing transaction so that both commit together.
  Each worker holds one subscribed connection, read by a listener thread that also pings the
  server and reconnects after a loss. A server's "sent" is not a worker's "read": the server may
  write the publisher's answer before a subscriber's copy, and a subscriber's process may not have
  run since. So every worker's listener acknowledges each notice once it has moved the generation,
  and `publish()` returns once every subscriber the server counted has: when the change's
  response goes out, no worker anywhere answers from before it. A request asks nothing of the
  connection (a poll of its socket a request was a sixth of /auth/verify through nginx).
  A worker that has not acknowledged within ACK_WAIT is counted in a metric and the response goes
  out all the same: that worker may answer from its cache until its listener runs (TTL at most).
- `LocalChannel`: one process (an in-memory SQLite database, the CLI's own checks).

While a channel is not in step (not yet connected, the connection lost, a ping unanswered),
`generation()` is None and the cache neither serves nor stores: every answer is read from the
database, slower and never stale. It comes back in step with a new generation, so nothing
remembered from before the loss is served after it.
"""

from __future__ import annotations

import logging
import mmap
import os
import select
import threading
import time
from pathlib import Path

from prometheus_client import Counter, Gauge

from sqlalchemy.engine import make_url

log = logging.getLogger("gateway.invalidation")

CHANNEL = "idgate_verify"
LISTENER_NAME = "idgate-invalidation"  # the application_name of every worker's LISTEN connection
# A worker that has heard nothing from its server for this long, pings answered included, stops
# trusting its connection (a server gone without closing it, a network that dropped it silently).
PING_EVERY = 1.0
SILENCE_LIMIT = 3.0
_RECONNECT_DELAYS = (0.05, 0.2, 0.5, 1.0, 2.0)
# How long a publish waits for every subscriber's acknowledgement (they take well under 1 ms).
ACK_WAIT = 0.1

MESSAGES = Counter("idgate_invalidation_messages_total", "Access-change notices, by direction", ["direction"])
RECONNECTS = Counter("idgate_invalidation_reconnects_total", "Invalidation channel (re)connections after a loss")
DEGRADED_SECONDS = Counter("idgate_invalidation_degraded_seconds_total",
                           "Time workers spent out of step with the invalidation channel (cache bypassed)")
ACK_TIMEOUTS = Counter("idgate_invalidation_ack_timeouts_total",
                       "Access changes published without every subscriber's acknowledgement in time")
IN_STEP = Gauge("idgate_invalidation_in_step", "1 while this worker's invalidation channel is in step",
                multiprocess_mode="livemin")


class _Channel:
    def notify_in_transaction(self, _dbapi_connection) -> bool:
        """Send the notice inside the changing transaction, if this channel can (PostgreSQL's only)."""
        return False


class LocalChannel(_Channel):
    """One process: a counter."""

    kind = "local"

    def __init__(self):
        self._generation = 0
        IN_STEP.set(1)

    def generation(self) -> int | None:
        return self._generation

    def publish(self) -> None:
        self._generation += 1
        MESSAGES.labels("sent").inc()

    def close(self) -> None:
        pass


class FileChannel(_Channel):
    """Every process on this host that opens the same database maps the same 8 bytes.

    A publish writes random bytes rather than adding one: two writers at once need no lock, as
    either value differs from every generation a reader held before (2**-64 aside).
    """

    kind = "file"

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < mmap.PAGESIZE:
                os.ftruncate(fd, mmap.PAGESIZE)
            self._map = mmap.mmap(fd, mmap.PAGESIZE)
        finally:
            os.close(fd)
        IN_STEP.set(1)

    def generation(self) -> int | None:
        return int.from_bytes(self._map[:8], "little")

    def publish(self) -> None:
        self._map[:8] = os.urandom(8)
        MESSAGES.labels("sent").inc()

    def close(self) -> None:
        self._map.close()


class _Subscribed(_Channel):
    """The shape both pub/sub channels share: a local generation moved by notices, a listener
    thread, a lock over the subscribed connection, acknowledgements, and the out-of-step mode.

    A notice carries a random id; a worker that reads it sends the id back on the acknowledgement
    channel, which every worker also listens to. The publisher's own listener counts the
    acknowledgements of the ids it is waiting for.
    """

    kind = "subscribed"

    def __init__(self):
        self._lock = threading.Lock()
        self._generation = 0
        self._fd: int | None = None  # the subscribed connection's socket, while in step
        self._poll, self._poll_fd = None, None  # the listener thread's, on the current socket
        self._out_since: float | None = time.monotonic()
        self._heard = 0.0
        self._closed = threading.Event()
        self._connections = 0
        self._acked = threading.Condition(threading.Lock())
        self._awaited: dict[str, int] = {}  # notice id → acknowledgements so far
        IN_STEP.set(0)
        self._thread = threading.Thread(target=self._listen, name=f"idgate-{self.kind}-listener", daemon=True)
        self._thread.start()

    # What a subclass provides, each called with the lock held:
    def _connect(self) -> int: ...      # subscribe to both channels; return the socket's fd
    def _read(self) -> tuple[list, list]: ...  # read what has arrived: (notice ids, acknowledged ids)
    def _acknowledge(self, ids: list) -> None: ...
    def _ping(self) -> bool: ...        # True when the answer came back at once (else it arrives to read)
    def _disconnect(self) -> None: ...

    def generation(self) -> int | None:
        """The current generation; None while out of step. Moved by the listener thread, which has
        read every notice whose publish has returned (acknowledgements)."""
        return self._generation if self._fd is not None else None

    def _arrived(self, fd: int, timeout_ms: float) -> bool:
        if self._poll_fd != fd:
            self._poll, self._poll_fd = select.poll(), fd
            self._poll.register(fd, select.POLLIN | select.POLLPRI)
        try:
            return bool(self._poll.poll(timeout_ms))
        except (OSError, ValueError):
            return True  # let the read find out what is wrong

    def _drain(self) -> None:
        if self._fd is None:
            return
        try:
            while True:  # an acknowledgement sent may bring more in (PostgreSQL's, on this connection)
                notices, acknowledged = self._read()
                self._heard = time.monotonic()
                if acknowledged:
                    self._count_acknowledgements(acknowledged)
                if not notices:
                    return
                MESSAGES.labels("received").inc(len(notices))
                self._generation += 1
                self._acknowledge(notices)
        except Exception as exc:  # noqa: BLE001 - any failure of the connection means out of step
            self._fall_out(exc)

    def _count_acknowledgements(self, ids: list) -> None:
        with self._acked:
            for notice in ids:
                if notice in self._awaited:
                    self._awaited[notice] += 1
            self._acked.notify_all()

    def _await(self, notice: str) -> None:
        with self._acked:
            self._awaited[notice] = 0

    def _wait_for_acknowledgements(self, notice: str, subscribers: int) -> None:
        """Until every subscriber the server counted has read the notice, or ACK_WAIT has passed."""
        with self._acked:
            done = self._acked.wait_for(lambda: self._awaited[notice] >= subscribers, ACK_WAIT)
            del self._awaited[notice]
        if not done:
            ACK_TIMEOUTS.inc()
            log.warning("an access change was not acknowledged by every worker within %.0f ms", ACK_WAIT * 1000)

    def _fall_out(self, exc: BaseException) -> None:
        if self._fd is not None:
            log.warning("invalidation channel (%s) lost: %s; answering from the database until it is back",
                        self.kind, type(exc).__name__)
        self._fd = None
        self._generation += 1
        if self._out_since is None:
            self._out_since = time.monotonic()
        IN_STEP.set(0)
        try:
            self._disconnect()
        except Exception:  # noqa: BLE001 - it is gone either way
            pass

    def _step_in(self, fd: int) -> None:
        # A new generation: nothing cached before the loss is served after it.
        self._generation += 1
        self._heard = time.monotonic()
        self._fd = fd
        if self._out_since is not None:
            DEGRADED_SECONDS.inc(time.monotonic() - self._out_since)
            self._out_since = None
        IN_STEP.set(1)

    def _listen(self) -> None:
        failures = 0
        while not self._closed.is_set():
            if self._fd is None:
                with self._lock:
                    try:
                        fd = self._connect()
                    except Exception as exc:  # noqa: BLE001 - retried with back-off
                        self._fall_out(exc)
                        fd = None
                    else:
                        if self._connections:
                            RECONNECTS.inc()
                        self._connections += 1
                        self._step_in(fd)
                if fd is None:
                    self._closed.wait(_RECONNECT_DELAYS[min(failures, len(_RECONNECT_DELAYS) - 1)])
                    failures += 1
                    continue
                failures = 0
            fd = self._fd
            if fd is None:
                continue
            ready = self._arrived(fd, PING_EVERY * 1000)
            with self._lock:
                if ready:
                    self._drain()
                elif self._fd is not None:
                    if time.monotonic() - self._heard > SILENCE_LIMIT:
                        self._fall_out(TimeoutError("no answer to pings"))
                    else:
                        try:
                            if self._ping():
                                self._heard = time.monotonic()
                        except Exception as exc:  # noqa: BLE001
                            self._fall_out(exc)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            self._fd = None
            try:
                self._disconnect()
            except Exception:  # noqa: BLE001
                pass


def _new_notice() -> str:
    return os.urandom(8).hex()


class RedisChannel(_Subscribed):
    """Redis pub/sub on IDGATE_REDIS_URL's server."""

    kind = "redis"

    def __init__(self, url: str):
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # No retries of its own: a connection redis-py quietly re-made would hide the notices lost
        # meanwhile. A loss must reach _fall_out.
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2,
                                            retry=Retry(NoBackoff(), 0))
        # Pub/sub ignores database numbers: deployments sharing a server on other databases stay apart.
        self._channel = f"{CHANNEL}:{self._client.connection_pool.connection_kwargs.get('db', 0)}"
        self._ack_channel = f"{self._channel}:ack"
        self._pubsub = None
        super().__init__()

    def _connect(self) -> int:
        pubsub = self._client.pubsub()
        pubsub.subscribe(self._channel, self._ack_channel)
        # Wait for the server's confirmations: only then is every later notice ours to read.
        deadline, confirmed = time.monotonic() + 2, 0
        while confirmed < 2:
            message = pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
            if message and message["type"] == "subscribe":
                confirmed += 1
            elif time.monotonic() > deadline:
                pubsub.close()
                raise TimeoutError("no subscription confirmation")
        self._pubsub = pubsub
        return pubsub.connection._sock.fileno()

    def _read(self) -> tuple[list, list]:
        notices, acknowledged = [], []
        # Until nothing is left, buffered or on the socket: then a poll of the socket alone is exact.
        while (message := self._pubsub.get_message(timeout=0)) is not None:
            if message["type"] == "message":
                into = acknowledged if message["channel"].decode() == self._ack_channel else notices
                into.append(message["data"].decode())
        return notices, acknowledged

    def _acknowledge(self, ids: list) -> None:
        for notice in ids:
            self._client.publish(self._ack_channel, notice)

    def _ping(self) -> bool:
        self._pubsub.ping()  # the pong arrives as a message, read like a notice
        return False

    def _disconnect(self) -> None:
        if self._pubsub is not None:
            self._pubsub.close()
            self._pubsub = None

    def publish(self) -> None:
        self._generation += 1  # this worker at once, without waiting for its own notice
        notice = _new_notice()
        self._await(notice)
        try:
            subscribers = self._client.publish(self._channel, notice)
        except Exception as exc:  # noqa: BLE001 - the change is committed; the others are out of step too
            log.warning("could not publish an access change to Redis: %s", type(exc).__name__)
            subscribers = 0
        else:
            MESSAGES.labels("sent").inc()
        self._wait_for_acknowledgements(notice, subscribers)


class PostgresChannel(_Subscribed):
    """LISTEN/NOTIFY on the gateway's PostgreSQL database."""

    kind = "postgresql"
    ACK_CHANNEL = f"{CHANNEL}_ack"

    def __init__(self, url: str):
        parsed = make_url(url).set(drivername="postgresql")
        self._conninfo = parsed.render_as_string(hide_password=False)
        self._conn = None
        self._sent = threading.local()  # the notice a thread's transaction carries, and its listeners
        super().__init__()

    def _connect(self) -> int:
        import psycopg

        conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=2,
                               application_name=LISTENER_NAME)
        conn.execute(f"LISTEN {CHANNEL}")
        conn.execute(f"LISTEN {self.ACK_CHANNEL}")
        # Notices that arrive while a statement runs on this connection are handed to this handler.
        conn.add_notify_handler(self._noted)
        self._conn, self._during_statements = conn, []
        return conn.fileno()

    def _noted(self, notify) -> None:
        self._during_statements.append(notify)

    def _read(self) -> tuple[list, list]:
        pgconn = self._conn.pgconn
        pgconn.consume_input()  # raises once the server has closed the connection
        if pgconn.status != 0:  # not CONNECTION_OK
            raise ConnectionError("connection lost")
        arrived = [(n.channel, n.payload) for n in self._during_statements]
        self._during_statements = []
        while (notify := pgconn.notifies()) is not None:
            arrived.append((notify.relname.decode(), notify.extra.decode()))
        return ([extra for channel, extra in arrived if channel == CHANNEL],
                [extra for channel, extra in arrived if channel == self.ACK_CHANNEL])

    def _acknowledge(self, ids: list) -> None:
        for notice in ids:
            self._conn.execute("SELECT pg_notify(%s, %s)", (self.ACK_CHANNEL, notice))

    def _ping(self) -> bool:
        self._conn.execute("SELECT 1")
        self._drain()  # what psycopg took in meanwhile is in _during_statements, no longer on the socket
        return True

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def notify_in_transaction(self, dbapi_connection) -> bool:
        """Send the notice inside the changing transaction: PostgreSQL delivers it on commit, with
        the change, or never. The listeners counted now are the ones publish() waits for."""
        self._forget_pending()  # a transaction that notified and then failed to commit
        notice = _new_notice()
        self._await(notice)
        listeners = dbapi_connection.execute(
            "SELECT pg_notify(%s, %s), (SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database())",
            (CHANNEL, notice, LISTENER_NAME)).fetchone()[1]
        self._sent.pending = (notice, listeners, dbapi_connection)
        MESSAGES.labels("sent").inc()
        return True

    def publish(self) -> None:
        self._generation += 1  # this worker at once; the notice itself went with the commit
        pending = getattr(self._sent, "pending", None)
        if pending is None:
            return
        from psycopg.pq import TransactionStatus

        notice, listeners, connection = pending
        if connection.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
            # Only a savepoint ended (tests hold an outer transaction): nothing has been sent yet.
            self._forget_pending()
            return
        self._sent.pending = None
        self._wait_for_acknowledgements(notice, listeners)

    def _forget_pending(self) -> None:
        pending = getattr(self._sent, "pending", None)
        if pending is not None:
            self._sent.pending = None
            with self._acked:
                self._awaited.pop(pending[0], None)


_channels: dict = {}
_channels_lock = threading.Lock()


class Generational:
    """What a worker holds in memory and reads again whenever the channel's generation moved, or
    on every request while it cannot be trusted (slower, never stale): the app directory, the
    OpenID Connect clients."""

    def __init__(self, channel):
        self.channel = channel
        self._held: tuple = (None, None, False)  # (generation, value, loaded)
        self._lock = threading.Lock()

    def get(self, load):
        """The value, from `load()` when it must be read again."""
        generation = self.channel.generation()
        held_in, value, loaded = self._held
        if loaded and generation is not None and held_in == generation:
            return value
        with self._lock:
            held_in, value, loaded = self._held
            if loaded and generation is not None and held_in == generation:
                return value
            value = load()
            # Read after `generation` was taken: a change announced meanwhile moves it again.
            self._held = (generation, value, True)
            return value


def channel_for(settings) -> LocalChannel | FileChannel | RedisChannel | PostgresChannel:
    """The channel every worker of every instance of this deployment shares; one per process and
    store (apps built in one process share it; a forked worker makes its own, with its own thread)."""
    url = make_url(settings.database_url)
    if settings.redis_url:
        key, make = ("redis", settings.redis_url), lambda: RedisChannel(settings.redis_url)
    elif url.get_backend_name() == "postgresql":
        key, make = ("postgresql", settings.database_url), lambda: PostgresChannel(settings.database_url)
    elif url.database and url.database != ":memory:":
        database = Path(url.database).resolve()
        path = database.with_name(database.name + "-verify-generation")
        key, make = ("file", str(path)), lambda: FileChannel(path)
    else:
        return LocalChannel()
    with _channels_lock:
        channel = _channels.get((os.getpid(), *key))
        if channel is None:
            channel = _channels[(os.getpid(), *key)] = make()
        return channel
