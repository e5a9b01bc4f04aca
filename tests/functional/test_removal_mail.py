"""A removed member is told by mail, through the outbox and a real SMTP server (aiosmtpd) on
loopback, even when that server was down when they were removed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from gateway.actor import Actor
from gateway.mail.models import OutboxMessage
from gateway.orgs import lifecycle
from gateway.orgs.access import AdminScope
from gateway.orgs.models import Membership
from tests.conftest import Auth, bearer, csrf_token
from tests.factories import MembershipFactory
from tests.helpers.smtp import SmtpServer


@pytest.fixture
def smtp():
    """The gateway's SMTP server, on a port of this test's own; down until the test starts it."""
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def settings_overrides(settings_overrides, smtp):
    return {**settings_overrides, "SMTP_URL": smtp.url, "MAIL_FROM": "idgate@example.com"}


@pytest.fixture
def leaving(db, signed_in_admin):
    """A member of the admin's organization, about to be removed."""
    membership = MembershipFactory(org=signed_in_admin.org, user__email="leaving@example.com",
                                   user__name="Leaving Person")
    db.flush()
    return membership


def _delete(client, org, user_id):
    response = client.delete(f"/api/v1/orgs/{org.slug}/users/{user_id}", headers=bearer(client))
    # The test client hands the response over unclosed; a WSGI server closes it once the body is
    # sent, and that is when queued mail goes out (gateway.db.run_after_commit).
    response.close()
    return response


def _outbox(db) -> list[OutboxMessage]:
    db.expire_all()  # written through the app's own sessions
    return list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _assert_removal_mail(mail, org):
    assert mail["To"] == "leaving@example.com"
    assert mail["From"] == "idgate@example.com"
    assert mail["Subject"] == f"You were removed from {org.name}"
    assert "Hello Leaving Person" in mail.get_payload()


class TestRemovalMail:
    def test_deleting_a_member_through_the_api_mails_them(self, client, db, signed_in_admin, leaving, smtp):
        smtp.start()
        response = _delete(client, signed_in_admin.org, leaving.user_id)
        assert response.status_code == 200 and response.json == {"deleted": True, "account_deleted": True}
        [mail] = smtp.wait_for(1)
        _assert_removal_mail(mail, signed_in_admin.org)
        assert smtp.envelopes == [("idgate@example.com", ["leaving@example.com"])]
        assert _outbox(db) == []  # delivered mail leaves the outbox

    def test_the_mail_goes_out_only_once_the_response_is_closed(self, client, db, signed_in_admin, leaving,
                                                                 smtp):
        smtp.start()
        response = client.delete(f"/api/v1/orgs/{signed_in_admin.org.slug}/users/{leaving.user_id}",
                                 headers=bearer(client))
        assert response.status_code == 200
        # Committed but not sent yet: the test client does not close the response by itself.
        [message] = _outbox(db)
        assert message.attempts == 0 and smtp.messages == []
        response.close()
        assert len(smtp.wait_for(1)) == 1
        assert _outbox(db) == []

    def test_deleting_in_the_console_mails_them_too(self, client, db, signed_in_admin, leaving, smtp):
        smtp.start()
        response = client.post(f"/admin/users/{leaving.user_id}/delete", data={
            "csrf_token": csrf_token(client, f"/admin/users/{leaving.user_id}/delete"), "version": "1"})
        assert response.status_code == 303
        response.close()
        [mail] = smtp.wait_for(1)
        _assert_removal_mail(mail, signed_in_admin.org)

    def test_the_lifecycle_service_queues_the_mail_in_the_callers_transaction(self, app, db, runner, clock,
                                                                            signed_in_admin, leaving, smtp):
        org = signed_in_admin.org
        scope = AdminScope(org.id, org.slug, org.name, Actor(user_id=signed_in_admin.user_id))
        lifecycle.delete(db, scope, leaving.user_id, now=clock.now())
        db.flush()
        [message] = _outbox(db)
        assert (message.recipient, message.subject) == ("leaving@example.com", f"You were removed from {org.name}")
        assert message.attempts == 0 and message.next_attempt_at == clock.now()

        smtp.start()
        result = runner.invoke(args=["outbox", "send"])
        assert result.exit_code == 0 and "Sent 1, failed 0, waiting 0." in result.output
        _assert_removal_mail(smtp.wait_for(1)[0], org)

    def test_a_refused_deletion_mails_nobody(self, app, client, db, signed_in_admin, leaving, smtp):
        smtp.start()
        assert Auth(app.test_client()).login("leaving@example.com").status_code == 303  # signed in elsewhere
        response = _delete(client, signed_in_admin.org, leaving.user_id)
        assert response.status_code == 409 and response.json["error"]["code"] == "user_has_sessions"
        assert _outbox(db) == [] and smtp.messages == []


class TestSmtpServerDown:
    def test_the_member_is_removed_and_the_mail_waits_in_the_outbox(self, client, db, clock, signed_in_admin,
                                                                   leaving, smtp):
        response = _delete(client, signed_in_admin.org, leaving.user_id)
        assert response.status_code == 200
        assert db.scalar(select(Membership).where(Membership.id == leaving.id)) is None
        [message] = _outbox(db)
        assert message.recipient == "leaving@example.com"
        assert message.attempts == 1 and "Connection refused" in message.last_error
        assert message.next_attempt_at == clock.now() + timedelta(seconds=30) > clock.now()

    def test_outbox_send_delivers_it_once_the_server_is_back(self, client, db, runner, signed_in_admin,
                                                             leaving, smtp):
        _delete(client, signed_in_admin.org, leaving.user_id)
        assert len(_outbox(db)) == 1

        smtp.start()  # on the port the gateway tried before
        result = runner.invoke(args=["outbox", "send"])
        assert result.exit_code == 0, result.output
        assert result.output.splitlines()[0] == "Sent 1, failed 0, waiting 0."
        [mail] = smtp.wait_for(1)
        _assert_removal_mail(mail, signed_in_admin.org)
        assert _outbox(db) == []

        again = runner.invoke(args=["outbox", "send"])
        assert again.exit_code == 0 and again.output.splitlines()[0] == "Sent 0, failed 0, waiting 0."
        assert len(smtp.wait_for(2, timeout=0.3)) == 1

    def test_outbox_send_while_still_down_says_so_and_keeps_the_mail(self, client, db, runner,
                                                                     signed_in_admin, leaving, smtp):
        _delete(client, signed_in_admin.org, leaving.user_id)
        result = runner.invoke(args=["outbox", "send"])  # retries at once, back-off or not
        assert result.exit_code == 1
        assert result.output.splitlines()[0] == "Sent 0, failed 1, waiting 1."
        [message] = _outbox(db)
        assert message.attempts == 2

        smtp.start()
        assert runner.invoke(args=["outbox", "send"]).exit_code == 0
        assert len(smtp.wait_for(1)) == 1

    def test_the_next_request_that_queues_mail_delivers_what_waited(self, client, db, clock, signed_in_admin,
                                                                    leaving, smtp):
        second = MembershipFactory(org=signed_in_admin.org, user__email="second@example.com")
        db.flush()
        _delete(client, signed_in_admin.org, leaving.user_id)
        smtp.start()
        clock.advance(seconds=30)  # the first message is due again
        _delete(client, signed_in_admin.org, second.user_id)
        assert sorted(m["To"] for m in smtp.wait_for(2)) == ["leaving@example.com", "second@example.com"]
        assert _outbox(db) == []


def test_an_invitation_can_also_go_out_by_mail(client, db, signed_in_admin, smtp):
    smtp.start()
    response = client.post("/admin/invitations", data={
        "csrf_token": csrf_token(client, "/admin/invitations"), "email": "new@example.com", "role": "user",
        "send_mail": "y"})
    assert response.status_code == 201
    response.close()
    [mail] = smtp.wait_for(1)
    assert mail["To"] == "new@example.com" and "/invite/" in mail.get_payload()
    # The link's code is a secret kept only as a hash: once mailed, no copy of it stays in the outbox.
    assert _outbox(db) == []
