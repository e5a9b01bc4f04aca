"""The outbox: mail is written in the business transaction and delivered after it commits.

If the SMTP server is down nothing is lost: a message waits with a growing
back-off until a later attempt (the next request that queues mail, or
`idgate outbox send`) delivers it. Once delivered, it is deleted.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Callable
from urllib.parse import unquote, urlsplit

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.db import core_execute
from gateway.mail.models import OutboxMessage

log = logging.getLogger("idgate.mail")

MAX_BACKOFF = timedelta(hours=1)
BATCH = 50


def enqueue(db: Session, *, recipient: str, subject: str, body: str, now: datetime) -> OutboxMessage:
    """Queue a message in the caller's transaction; delivery is attempted once it commits."""
    message = OutboxMessage(recipient=recipient, subject=subject, body=body, created_at=now,
                            attempts=0, next_attempt_at=now)
    db.add(message)
    # gateway.db runs these after a successful commit (see run_after_commit).
    db.info.setdefault("after_commit", []).append(deliver_after_commit)
    return message


# Built once, bound per call: queue_quietly's plain INSERT, none of the ORM's unit of work.
_QUEUE = insert(OutboxMessage.__table__)


def queue_quietly(db: Session, *, recipient: str, subject: str, body: str, now: datetime) -> None:
    """Queue a message for an answer whose time must not tell whether it queued one ("forgot
    password": the same time for every address typed). The row is one prebuilt INSERT, and it is
    delivered off the request's thread (deliver_in_background), which an answer that queues nothing
    starts all the same."""
    core_execute(db, _QUEUE, {"recipient": recipient, "subject": subject, "body": body, "created_at": now,
                              "attempts": 0, "next_attempt_at": now, "last_error": None})
    deliver_in_background(db)


def deliver_in_background(db: Session) -> None:
    """Once the caller's transaction commits, deliver what is due on a thread of its own: a server
    may hold the response until its after-commit work is done, and an SMTP conversation would then
    be in the answer's time."""
    callbacks = db.info.setdefault("after_commit", [])
    if _deliver_after_commit_in_background not in callbacks:
        callbacks.append(_deliver_after_commit_in_background)


def _deliver_after_commit_in_background(app) -> None:
    if app.testing:
        # Tests run every Session of the app on one connection, which a second thread must not use.
        deliver_after_commit(app)
        return
    threading.Thread(target=deliver_after_commit, args=(app,), name="idgate-outbox", daemon=True).start()


# Mail not delivered by then is dropped: an invitation in it is long dead (and its link need not
# wait in the database any longer), and a notice that late has lost its point.
GIVE_UP_AFTER = timedelta(days=3)


def drop_undeliverable(db: Session, *, now: datetime) -> int:
    """Delete mail queued more than GIVE_UP_AFTER ago and still not delivered; each is logged."""
    stale = list(db.scalars(select(OutboxMessage).where(OutboxMessage.created_at < now - GIVE_UP_AFTER)))
    for message in stale:
        log.warning("mail to %s given up after %d attempts: %r (%s)", message.recipient, message.attempts,
                    message.subject, message.last_error)
        db.delete(message)
    return len(stale)


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, … capped at an hour."""
    # Cap before building the timedelta: 30 s · 2**42 is beyond what a timedelta holds, and an
    # OverflowError there would stop the outbox at that message for good (about 36 hours into an outage).
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), MAX_BACKOFF.total_seconds()))


def backlog(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(OutboxMessage))


class Transport:
    """SMTP from IDGATE_SMTP_URL (smtp:// or smtps://), or the log when unset."""

    def __init__(self, smtp_url: str | None, sender: str):
        self.url = urlsplit(smtp_url) if smtp_url else None
        self.sender = sender

    def send(self, message: OutboxMessage) -> None:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.sender, message.recipient, message.subject
        mail.set_content(message.body)
        if self.url is None:
            log.info("mail (no IDGATE_SMTP_URL set) to=%s subject=%r\n%s",
                     message.recipient, message.subject, message.body)
            return
        host, port = self.url.hostname or "localhost", self.url.port
        if self.url.scheme == "smtps":
            client = smtplib.SMTP_SSL(host, port or 465, timeout=10, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(host, port or 25, timeout=10)
        with client:
            if self.url.username:
                client.login(unquote(self.url.username), unquote(self.url.password or ""))
            client.send_message(mail)


def send_pending(make_session: sessionmaker, transport: Transport, now: Callable[[], datetime], *,
                 due_only: bool = True) -> tuple[int, int]:
    """Try every message that is due (or, with due_only=False, every unsent one).

    Returns (sent, failed). Each message is its own transaction.
    """
    sent = failed = 0
    with make_session() as db:
        query = select(OutboxMessage.id)
        if due_only:
            query = query.where(OutboxMessage.next_attempt_at <= now())
        due = list(db.scalars(query.order_by(OutboxMessage.id).limit(BATCH)))
    for message_id in due:
        with make_session() as db, db.begin():
            # SKIP LOCKED: two instances delivering at once never send one message twice.
            message = db.scalar(
                select(OutboxMessage).where(OutboxMessage.id == message_id)
                .with_for_update(skip_locked=True)
            )
            if message is None:
                continue
            message.attempts += 1
            try:
                transport.send(message)
            # Any failure backs the message off: one message must never block the ones after it.
            except Exception as exc:  # noqa: BLE001
                message.next_attempt_at = now() + backoff(message.attempts)
                message.last_error = f"{type(exc).__name__}: {exc}"[:500]
                failed += 1
                log.warning("mail to %s not delivered (attempt %d): %s", message.recipient,
                            message.attempts, message.last_error)
            else:
                # Delivered mail leaves the outbox: its body may hold a magic link, a secret
                # the database must not keep once the mail is on its way.
                db.delete(message)
                log.info("mail to %s delivered: %r", message.recipient, message.subject)
                sent += 1
    return sent, failed


def deliver_after_commit(app) -> None:
    """Deliver what is due, after the response has gone out."""
    settings = app.extensions["idgate.settings"]
    try:
        send_pending(app.extensions["idgate.sessionmaker"], Transport(settings.smtp_url, settings.mail_from),
                     app.extensions["idgate.clock"].now)
    except Exception:  # never let delivery break the request that queued it
        log.exception("outbox delivery failed; `idgate outbox send` retries")
