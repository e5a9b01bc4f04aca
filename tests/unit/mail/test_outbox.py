"""The outbox: back-off, the log transport, and delivery to a real SMTP server."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from gateway.mail import outbox
from gateway.mail.models import OutboxMessage
from tests.helpers.smtp import SmtpServer


def test_backoff_doubles_from_30_seconds_up_to_an_hour():
    assert [outbox.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert outbox.backoff(20) == timedelta(hours=1)


def _queue(db, clock, recipient="someone@example.com"):
    message = outbox.enqueue(db, recipient=recipient, subject="Hello", body="Body text", now=clock.now())
    db.flush()
    return message


def _send(app, smtp_url=None, **kw):
    return outbox.send_pending(app.extensions["idgate.sessionmaker"],
                               outbox.Transport(smtp_url, "idgate@example.com"),
                               app.extensions["idgate.clock"].now, **kw)


def test_without_smtp_mail_is_written_to_the_log(app, db, clock, caplog):
    _queue(db, clock)
    with caplog.at_level(logging.INFO, logger="idgate.mail"):
        assert _send(app) == (1, 0)
    assert "someone@example.com" in caplog.text and "Body text" in caplog.text


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


def test_mail_reaches_a_real_smtp_server(app, db, clock, smtp):
    message = _queue(db, clock)
    assert _send(app, smtp.url) == (1, 0)
    [received] = smtp.wait_for(1)
    assert received["To"] == "someone@example.com" and received["Subject"] == "Hello"
    db.expire_all()
    assert db.get(OutboxMessage, message.id).sent_at == clock.now()


def test_a_down_server_loses_nothing_and_the_next_attempt_delivers(app, db, clock):
    server = SmtpServer()  # not started: nothing listens on its port
    message = _queue(db, clock)
    assert _send(app, server.url) == (0, 1)
    db.expire_all()
    waiting = db.get(OutboxMessage, message.id)
    assert waiting.sent_at is None and waiting.attempts == 1 and waiting.last_error
    assert waiting.next_attempt_at == clock.now() + timedelta(seconds=30)

    server.start()
    try:
        assert _send(app, server.url) == (0, 0)  # not due yet
        clock.advance(seconds=31)
        assert _send(app, server.url) == (1, 0)
        assert _send(app, server.url) == (0, 0)  # never twice
        assert len(server.wait_for(1)) == 1
    finally:
        server.stop()


def test_sending_everything_now_ignores_the_back_off(app, db, clock, smtp):
    message = _queue(db, clock)
    message.attempts, message.next_attempt_at = 3, clock.now() + timedelta(hours=1)
    db.flush()
    assert _send(app, smtp.url) == (0, 0)
    assert _send(app, smtp.url, due_only=False) == (1, 0)


def test_the_backlog_counts_unsent_mail(app, db, clock):
    _queue(db, clock)
    _queue(db, clock, "other@example.com")
    assert outbox.backlog(db) == 2
    assert db.scalars(select(OutboxMessage)).all()
