"""Housekeeping: what has expired leaves the database; what may still be needed stays."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from gateway import housekeeping
from gateway.actor import Actor
from gateway.ratelimit_storage import RateLimitCounter
from gateway.sessions import services as sessions
from gateway.sessions.models import UserSession
from gateway.sso.models import SamlConnection, SamlLoginRequest, SeenAssertion
from tests.factories import OrganizationFactory, member

MARGIN = housekeeping.MARGIN


@pytest.fixture
def open_session(db, app, clock):
    def open_session(user=None):
        user = user or member()
        _token, started = sessions.start(db, user.id, org_id=None, amr="pwd", actor=Actor(),
                                 settings=app.extensions["idgate.settings"], now=clock.now())
        db.flush()
        return started.id
    return open_session


@pytest.fixture
def purge(db, clock):
    def purge(epoch_now=None):
        return housekeeping.purge_expired(db, now=clock.now(), epoch_now=epoch_now or time.time())
    return purge


def _ids(db, model) -> set[int]:
    db.flush()
    return set(db.scalars(select(model.id)))


class TestSessions:
    def test_a_live_session_stays(self, db, open_session, purge):
        live = open_session()
        purge()
        assert live in _ids(db, UserSession)

    def test_sessions_that_ended_go_once_the_margin_has_passed(self, db, open_session, purge, clock, app):
        settings = app.extensions["idgate.settings"]
        revoked, idle, live = open_session(), open_session(), open_session()
        clock.advance(seconds=settings.session_idle.total_seconds())  # `idle` ends now
        sessions.revoke(db, revoked, now=clock.now())
        db.execute(UserSession.__table__.update().where(UserSession.id.in_([revoked, live]))
                   .values(idle_expires_at=clock.now() + settings.session_idle))  # used meanwhile

        assert purge().sessions == 0  # ended, but within the margin
        clock.advance(seconds=MARGIN.total_seconds() + 1)
        assert purge().sessions == 2
        left = _ids(db, UserSession)
        assert live in left and revoked not in left and idle not in left

    def test_a_session_past_its_absolute_limit_goes(self, db, open_session, purge, clock, app):
        old = open_session()
        lifetime = app.extensions["idgate.settings"].session_lifetime
        db.execute(UserSession.__table__.update().where(UserSession.id == old)
                   .values(idle_expires_at=clock.now() + lifetime * 2))
        clock.advance(seconds=(lifetime + MARGIN).total_seconds() + 1)
        purge()
        assert old not in _ids(db, UserSession)


class TestSaml:
    @pytest.fixture
    def connection_id(self, db, clock):
        org = OrganizationFactory()
        connection = SamlConnection(org_id=org.id, idp_entity_id="https://idp.example", sso_url="https://idp.example/sso",
                                    signing_certs=[], metadata_xml="<md/>", created_at=clock.now(),
                                    updated_at=clock.now())
        db.add(connection)
        db.flush()
        return connection.id

    def test_expired_pending_sign_ins_and_assertion_ids_go(self, db, clock, purge, connection_id):
        def pending(relay_state, expires_in):
            db.add(SamlLoginRequest(relay_state=relay_state, request_id=f"id-{relay_state}",
                                    connection_id=connection_id, expires_at=clock.now() + expires_in))

        def seen(assertion_id, expires_in):
            db.add(SeenAssertion(issuer="https://idp.example", assertion_id=assertion_id,
                                 expires_at=clock.now() + expires_in))

        pending("old", -MARGIN - timedelta(seconds=1))
        pending("recent", -MARGIN + timedelta(seconds=1))
        pending("open", timedelta(minutes=5))
        seen("old", -MARGIN - timedelta(seconds=1))
        seen("open", timedelta(minutes=5))
        db.flush()

        purged = purge()
        assert (purged.saml_requests, purged.saml_assertions) == (1, 1)
        assert set(db.scalars(select(SamlLoginRequest.relay_state))) == {"recent", "open"}
        assert set(db.scalars(select(SeenAssertion.assertion_id))) == {"open"}


def test_closed_rate_limit_windows_go(db, purge):
    now = time.time()
    db.add_all([RateLimitCounter(key="closed", count=3, expires_at=now - MARGIN.total_seconds() - 1),
                RateLimitCounter(key="open", count=1, expires_at=now + 60)])
    db.flush()
    assert purge(epoch_now=now).rate_limit_counters == 1
    assert set(db.scalars(select(RateLimitCounter.key))) == {"open"}


def _deleted_sessions_metric() -> float:
    return REGISTRY.get_sample_value("idgate_housekeeping_deleted_total", {"table": "sessions"}) or 0.0


def _get(client, path="/healthz"):
    """A request whose response is then closed, as a WSGI server closes it once sent."""
    response = client.get(path)
    response.close()
    return response


class TestSchedule:
    """A round runs after a response has gone out, at most once per INTERVAL on an instance."""

    @pytest.fixture
    def rounds(self, monkeypatch):
        ran = []
        real = housekeeping.run
        monkeypatch.setattr(housekeeping, "run", lambda app: ran.append(real(app)))
        return ran

    def test_the_first_response_runs_a_round_and_the_next_ones_wait(self, client, clock, rounds):
        response = client.get("/healthz")
        assert rounds == []  # not while the response is still going out
        response.close()
        _get(client, "/login")
        assert len(rounds) == 1
        clock.advance(seconds=housekeeping.INTERVAL.total_seconds() - 1)
        _get(client, "/login")
        assert len(rounds) == 1
        clock.advance(seconds=1)
        _get(client, "/login")
        assert len(rounds) == 2

    def test_a_round_deletes_what_expired_and_counts_it(self, client, db, clock, open_session, rounds):
        _get(client)
        ended = open_session()
        sessions.revoke(db, ended, now=clock.now())
        db.commit()
        counted = _deleted_sessions_metric()
        clock.advance(seconds=(housekeeping.INTERVAL + MARGIN).total_seconds())
        _get(client)
        assert rounds[-1].sessions == 1
        assert db.scalar(select(func.count()).select_from(UserSession).where(UserSession.id == ended)) == 0
        assert _deleted_sessions_metric() == counted + 1

    def test_a_failed_round_is_logged_and_the_response_stands(self, client, monkeypatch, caplog):
        def broken(db, **_):
            raise RuntimeError("database went away")
        monkeypatch.setattr(housekeeping, "purge_expired", broken)
        with caplog.at_level(logging.ERROR, logger="idgate.housekeeping"):
            response = _get(client)
        assert response.status_code == 200
        assert "housekeeping failed" in caplog.text


def test_mail_still_undelivered_after_three_days_is_given_up_and_logged(db, clock, purge, caplog):
    from gateway.mail import outbox
    from gateway.mail.models import OutboxMessage

    stale = outbox.enqueue(db, recipient="gone@example.com", subject="You are invited", body="…/invite/code",
                           now=clock.now())
    clock.advance(days=2)
    recent = outbox.enqueue(db, recipient="b@example.com", subject="Removed", body="Bye", now=clock.now())
    clock.advance(days=1, seconds=1)
    db.flush()
    with caplog.at_level(logging.WARNING, logger="idgate.mail"):
        assert purge().undeliverable_mail == 1
    assert _ids(db, OutboxMessage) == {recent.id} and stale.id not in _ids(db, OutboxMessage)
    assert "gone@example.com" in caplog.text and "given up" in caplog.text
