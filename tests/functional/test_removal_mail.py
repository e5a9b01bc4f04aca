"""A removed member is told by mail, through the outbox, even when the SMTP server was down."""

from __future__ import annotations

import pytest

from tests.conftest import bearer, csrf_token
from tests.factories import MembershipFactory
from tests.helpers.smtp import SmtpServer

SMTP = SmtpServer()


@pytest.fixture
def smtp():
    SMTP.messages.clear()
    SMTP.start()
    yield SMTP
    SMTP.stop()


@pytest.mark.settings(smtp_url=SMTP.url)
def test_a_removed_member_is_notified(client, db, signed_in_admin, smtp):
    member = MembershipFactory(org=signed_in_admin.org, user__email="leaving@example.com")
    db.flush()
    response = client.delete(f"/api/v1/orgs/{signed_in_admin.org.slug}/users/{member.user_id}",
                             headers=bearer(client))
    assert response.status_code == 200
    response.close()  # delivery runs once the response has gone out, as a WSGI server closes it
    [mail] = smtp.wait_for(1)
    assert mail["To"] == "leaving@example.com"
    assert mail["Subject"] == f"You were removed from {signed_in_admin.org.name}"


@pytest.mark.settings(smtp_url=SMTP.url)
def test_mail_queued_while_smtp_is_down_goes_out_with_outbox_send(client, db, runner, signed_in_admin):
    member = MembershipFactory(org=signed_in_admin.org, user__email="leaving@example.com")
    db.flush()
    SMTP.messages.clear()
    client.delete(f"/api/v1/orgs/{signed_in_admin.org.slug}/users/{member.user_id}",
                  headers=bearer(client)).close()
    assert SMTP.messages == []  # the server was down: the message waits in the outbox
    SMTP.start()
    try:
        result = runner.invoke(args=["outbox", "send"])
        assert result.exit_code == 0 and "Sent 1" in result.output
        assert len(SMTP.wait_for(1)) == 1
    finally:
        SMTP.stop()


@pytest.mark.settings(smtp_url=SMTP.url)
def test_an_invitation_can_also_go_out_by_mail(client, db, signed_in_admin, smtp):
    response = client.post("/admin/invitations", data={
        "csrf_token": csrf_token(client, "/admin/invitations"), "email": "new@example.com", "role": "user",
        "send_mail": "y"})
    assert response.status_code == 201
    response.close()
    [mail] = smtp.wait_for(1)
    assert mail["To"] == "new@example.com" and "/invite/" in mail.get_payload()
