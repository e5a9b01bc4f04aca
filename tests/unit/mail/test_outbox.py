"""The outbox: back-off, the log transport, and delivery to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from gateway.mail import outbox
from gateway.mail.models import OutboxMessage
from tests.helpers.smtp import SmtpServer


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def down_smtp():
    """A server that is not running: nothing listens on its port until the test starts it."""
    server = SmtpServer()
    yield server
    server.stop()


def _queue(db, clock, recipient="someone@example.com", subject="Hello"):
    message = outbox.enqueue(db, recipient=recipient, subject=subject, body="Body text", now=clock.now())
    db.flush()
    return message


def _send(app, smtp_url=None, **kw):
    return outbox.send_pending(app.extensions["idgate.sessionmaker"],
                               outbox.Transport(smtp_url, "idgate@example.com"),
                               app.extensions["idgate.clock"].now, **kw)


def _reload(db, message) -> OutboxMessage | None:
    """The message as the table has it now; None once it was delivered."""
    message_id = message.id  # read before expiring: a delivered message's row is gone
    db.expire_all()  # send_pending wrote through its own sessions
    return db.get(OutboxMessage, message_id)


class TestBackoff:
    def test_backoff_doubles_from_30_seconds(self):
        assert [outbox.backoff(n) for n in (1, 2, 3, 4, 5, 6, 7)] == [
            timedelta(seconds=s) for s in (30, 60, 120, 240, 480, 960, 1920)]

    def test_backoff_is_capped_at_an_hour(self):
        assert outbox.backoff(8) == timedelta(hours=1)  # 3,840 s uncapped
        assert outbox.backoff(20) == timedelta(hours=1)

    def test_backoff_stays_an_hour_after_days_of_failures(self):
        # 30 s · 2**42 no longer fits in a timedelta: this used to raise OverflowError.
        assert outbox.backoff(43) == outbox.backoff(1000) == timedelta(hours=1)


class TestEnqueue:
    def test_enqueue_makes_the_message_due_at_once(self, db, clock):
        message = _queue(db, clock)
        assert (message.attempts, message.next_attempt_at, message.last_error) == (0, clock.now(), None)
        assert outbox.deliver_after_commit in db.info["after_commit"]

    def test_the_backlog_counts_unsent_mail(self, app, db, clock):
        _queue(db, clock)
        _queue(db, clock, "other@example.com")
        assert outbox.backlog(db) == 2
        _send(app)
        assert outbox.backlog(db) == 0


class TestLogTransport:
    def test_without_smtp_mail_is_written_to_the_log_and_leaves_the_outbox(self, app, db, clock, caplog):
        message = _queue(db, clock)
        with caplog.at_level(logging.INFO, logger="idgate.mail"):
            assert _send(app) == (1, 0)
        logged, delivered = [r.getMessage() for r in caplog.records if r.name == "idgate.mail"]
        assert "someone@example.com" in logged and "Body text" in logged
        assert "delivered" in delivered and "Body text" not in delivered
        assert _reload(db, message) is None


class TestSmtpDelivery:
    def test_mail_reaches_a_real_smtp_server(self, app, db, clock, smtp):
        message = _queue(db, clock)
        assert _send(app, smtp.url) == (1, 0)
        [received] = smtp.wait_for(1)
        assert received["To"] == "someone@example.com" and received["Subject"] == "Hello"
        assert received["From"] == "idgate@example.com"
        assert smtp.envelopes == [("idgate@example.com", ["someone@example.com"])]
        assert received.get_payload().strip() == "Body text"
        assert _reload(db, message) is None

    def test_a_delivered_message_leaves_no_copy_of_its_body_behind(self, app, db, clock, smtp, caplog):
        # Invitation mail carries a magic link: once it is on its way, only the hash of its code remains.
        message = outbox.enqueue(db, recipient="new@example.com", subject="You are invited",
                                 body="https://idgate.example/invite/the-secret-code", now=clock.now())
        db.commit()
        with caplog.at_level(logging.DEBUG, logger="idgate"):
            assert _send(app, smtp.url) == (1, 0)
        smtp.wait_for(1)
        assert _reload(db, message) is None and outbox.backlog(db) == 0
        ours = [r.getMessage() for r in caplog.records if r.name.startswith("idgate")]
        assert ours and not any("the-secret-code" in line for line in ours)

    def test_a_sent_message_is_never_sent_twice(self, app, db, clock, smtp):
        _queue(db, clock)
        assert _send(app, smtp.url) == (1, 0)
        assert _send(app, smtp.url) == (0, 0)
        assert _send(app, smtp.url, due_only=False) == (0, 0)
        assert len(smtp.wait_for(2, timeout=0.3)) == 1

    def test_messages_go_out_in_the_order_they_were_queued(self, app, db, clock, smtp):
        for n in range(3):
            _queue(db, clock, subject=f"Message {n}")
        assert _send(app, smtp.url) == (3, 0)
        assert [m["Subject"] for m in smtp.wait_for(3)] == ["Message 0", "Message 1", "Message 2"]


class TestServerDown:
    def test_a_down_server_loses_nothing(self, app, db, clock, down_smtp, caplog):
        message = _queue(db, clock)
        with caplog.at_level(logging.WARNING, logger="idgate.mail"):
            assert _send(app, down_smtp.url) == (0, 1)
        waiting = _reload(db, message)
        assert waiting.attempts == 1
        assert "ConnectionRefusedError" in waiting.last_error
        assert waiting.next_attempt_at == clock.now() + timedelta(seconds=30)
        assert outbox.backlog(db) == 1
        assert "not delivered (attempt 1)" in caplog.text

    def test_each_failure_pushes_the_next_attempt_further(self, app, db, clock, down_smtp):
        message = _queue(db, clock)
        waits = []
        for _ in range(4):
            assert _send(app, down_smtp.url, due_only=False) == (0, 1)
            waits.append(_reload(db, message).next_attempt_at - clock.now())
        assert waits == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
        assert _reload(db, message).attempts == 4

    def test_a_message_that_failed_for_days_still_gets_an_hourly_retry(self, app, db, clock, down_smtp):
        message = _queue(db, clock)
        message.attempts = 60
        db.flush()
        assert _send(app, down_smtp.url) == (0, 1)
        waiting = _reload(db, message)
        assert waiting.attempts == 61 and waiting.next_attempt_at == clock.now() + timedelta(hours=1)

    def test_when_the_server_is_back_the_next_due_attempt_delivers(self, app, db, clock, down_smtp):
        message = _queue(db, clock)
        assert _send(app, down_smtp.url) == (0, 1)

        down_smtp.start()  # same port as before
        assert _send(app, down_smtp.url) == (0, 0)  # not due for another 30 s
        clock.advance(seconds=29)
        assert _send(app, down_smtp.url) == (0, 0)
        clock.advance(seconds=1)
        assert _send(app, down_smtp.url) == (1, 0)
        assert _send(app, down_smtp.url) == (0, 0)
        [received] = down_smtp.wait_for(1)
        assert received["To"] == "someone@example.com"
        assert _reload(db, message) is None


class TestDueOnly:
    def test_due_only_skips_messages_waiting_for_their_next_attempt(self, app, db, clock, smtp):
        later = _queue(db, clock, subject="Later")
        later.attempts, later.next_attempt_at = 3, clock.now() + timedelta(minutes=2)
        _queue(db, clock, subject="Now")
        db.flush()
        assert _send(app, smtp.url) == (1, 0)
        assert [m["Subject"] for m in smtp.wait_for(1)] == ["Now"]
        assert _reload(db, later).attempts == 3

        clock.advance(minutes=2)
        assert _send(app, smtp.url) == (1, 0)
        assert [m["Subject"] for m in smtp.wait_for(2)] == ["Now", "Later"]

    def test_sending_everything_now_ignores_the_back_off(self, app, db, clock, smtp):
        message = _queue(db, clock)
        message.attempts, message.next_attempt_at = 3, clock.now() + timedelta(hours=1)
        db.flush()
        assert _send(app, smtp.url) == (0, 0)
        assert _send(app, smtp.url, due_only=False) == (1, 0)
        assert len(smtp.wait_for(1)) == 1


def test_every_queued_message_is_in_the_table(db, clock):
    _queue(db, clock, "a@example.com")
    _queue(db, clock, "b@example.com")
    assert sorted(db.scalars(select(OutboxMessage.recipient))) == ["a@example.com", "b@example.com"]
