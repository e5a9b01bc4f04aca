"""Forgot password, through the real forms and a real SMTP server (aiosmtpd) on loopback: the link
arrives, works once, expires, dies when a newer one is asked for or an admin resets the password, and
ends the account's sessions; every address typed gets the same page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gateway.accounts.models import PasswordReset, User
from gateway.audit.models import AuditEvent
from gateway.logs import redact_path
from gateway.mail.models import OutboxMessage
from tests.conftest import STRONG_PASSWORD, Auth, bearer, csrf_token
from tests.factories import MembershipFactory, OrganizationFactory
from tests.helpers.smtp import SmtpServer

NEW_PASSWORD = "harbor quilt meadow 5521 lantern"
_LINK = re.compile(r"http://127\.0\.0\.1:5000(/password/reset/[A-Za-z0-9_-]+)")


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def settings_overrides(settings_overrides, smtp):
    return {"SMTP_URL": smtp.url, "MAIL_FROM": "idgate@example.com", **settings_overrides}


@pytest.fixture
def member(db):
    membership = MembershipFactory(user__email="forgetful@example.com", user__name="Forgetful Person")
    db.flush()
    return membership


def ask(browser, email: str):
    """Ask for a link on the forgot-password page, as a browser would; mail goes out as the response closes."""
    response = browser.post("/password/forgot", data={"csrf_token": csrf_token(browser, "/password/forgot"),
                                                      "email": email})
    response.close()  # gateway.db.run_after_commit: queued mail is delivered once the response is sent
    return response


def text_of(mail) -> str:
    return mail.get_payload(decode=True).decode()  # (long lines travel quoted-printable)


def link_in(mail) -> str:
    return _LINK.search(text_of(mail)).group(1)


def set_password(browser, link: str, password: str = NEW_PASSWORD):
    """Open the link, then post the new password on the page it leads to."""
    opened = browser.get(link)
    if opened.status_code != 303:
        return opened
    page = browser.get(opened.headers["Location"])
    if page.status_code != 200:
        return page
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True)).group(1)
    response = browser.post("/password/reset", data={"csrf_token": token, "new_password": password})
    response.close()
    return response


def test_the_sign_in_page_leads_to_the_forgot_password_page(client):
    assert 'href="/password/forgot"' in client.get("/login").get_data(as_text=True)
    assert client.get("/password/forgot").status_code == 200


def test_the_link_arrives_and_sets_a_new_password_once(app, client, db, member, smtp):
    assert ask(client, "Forgetful@Example.com").status_code == 200
    [mail] = smtp.wait_for(1)
    assert mail["To"] == "forgetful@example.com" and mail["Subject"] == "Reset your idgate password"
    link = link_in(mail)
    stored = db.scalar(select(PasswordReset))
    assert link.rsplit("/", 1)[1] not in stored.code_hash  # only the hash is kept
    assert stored.expires_at - stored.created_at == timedelta(hours=1)

    browser = app.test_client()
    opened = browser.get(link)
    assert opened.status_code == 303 and opened.headers["Location"] == "/password/reset"  # the code leaves the URL
    assert opened.headers["Referrer-Policy"] == "no-referrer"
    page = browser.get("/password/reset")
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    done = browser.post("/password/reset", data={"csrf_token": csrf_token(browser, "/password/reset"),
                                                 "new_password": NEW_PASSWORD})
    done.close()
    assert done.status_code == 303 and done.headers["Location"] == "/login?reset=1"
    assert browser.get_cookie("idgate_session") is None  # no session starts: they sign in next
    assert "Sign in with your new password" in browser.get("/login?reset=1").get_data(as_text=True)
    assert Auth(app.test_client()).login("forgetful@example.com", NEW_PASSWORD).status_code == 303
    assert Auth(app.test_client()).login("forgetful@example.com", STRONG_PASSWORD).status_code == 401
    changed = smtp.wait_for(2)[1]
    assert changed["Subject"] == "Your idgate password was changed"
    assert [e.action for e in db.scalars(select(AuditEvent).where(AuditEvent.action.like("password:reset%"))
                                         .order_by(AuditEvent.id))] == ["password:reset_request", "password:reset"]

    again = set_password(app.test_client(), link, "another sturdy passphrase 8812")
    assert again.status_code == 404  # works once
    assert "not valid" in again.get_data(as_text=True)


def test_the_link_ends_every_session_of_the_account(app, db, member, smtp):
    signed_in = app.test_client()
    assert Auth(signed_in).login("forgetful@example.com").status_code == 303
    assert signed_in.get("/account").status_code == 200
    ask(app.test_client(), "forgetful@example.com")
    assert set_password(app.test_client(), link_in(smtp.wait_for(1)[0])).status_code == 303
    assert signed_in.get("/auth/verify").status_code == 401
    assert signed_in.get("/account").headers["Location"].startswith("/login")
    [row] = db.scalars(select(AuditEvent).where(AuditEvent.action == "password:reset"))
    assert row.details["sessions_ended"] == 1


def test_the_link_expires_after_an_hour(app, client, clock, member, smtp):
    ask(client, "forgetful@example.com")
    link = link_in(smtp.wait_for(1)[0])
    clock.advance(hours=1)
    assert app.test_client().get(link).status_code == 404


def test_a_newer_link_ends_the_older_one(app, client, member, smtp):
    ask(client, "forgetful@example.com")
    ask(client, "forgetful@example.com")
    first, second = (link_in(m) for m in smtp.wait_for(2))
    assert app.test_client().get(first).status_code == 404
    assert set_password(app.test_client(), second).status_code == 303


def test_an_admins_temporary_password_ends_the_link(app, client, db, smtp):
    admin = MembershipFactory(admin=True)
    member = MembershipFactory(org=admin.org, user__email="forgetful@example.com")
    db.flush()
    ask(client, "forgetful@example.com")
    link = link_in(smtp.wait_for(1)[0])
    console = app.test_client()
    assert Auth(console).login(admin.user.email).status_code == 303
    reset = console.post(f"/api/v1/orgs/{admin.org.slug}/users/{member.user_id}/reset-password",
                         headers=bearer(console))
    assert reset.status_code == 200
    assert app.test_client().get(link).status_code == 404
    assert Auth(app.test_client()).login("forgetful@example.com", reset.json["temporary_password"]).status_code == 303


def test_signing_in_with_a_temporary_password_ends_the_link(app, client, db, smtp):
    member = MembershipFactory(user__email="forgetful@example.com", user__temporary=True)
    db.flush()
    ask(client, "forgetful@example.com")
    link = link_in(smtp.wait_for(1)[0])
    assert Auth(app.test_client()).login("forgetful@example.com").status_code == 303
    assert app.test_client().get(link).status_code == 404
    assert member.user.must_change_password


def test_the_link_ends_a_temporary_password(app, client, db, smtp):
    MembershipFactory(user__email="forgetful@example.com", user__temporary=True)
    db.flush()
    ask(client, "forgetful@example.com")
    assert set_password(app.test_client(), link_in(smtp.wait_for(1)[0])).status_code == 303
    assert Auth(app.test_client()).login("forgetful@example.com").status_code == 401  # the temporary one
    db.expire_all()
    assert not db.scalar(select(User).where(User.email == "forgetful@example.com")).must_change_password


def test_a_second_factor_is_still_asked_at_the_next_sign_in(app, client, db, smtp):
    org = OrganizationFactory(mfa_required=True)
    MembershipFactory(org=org, user__email="forgetful@example.com")
    db.flush()
    ask(client, "forgetful@example.com")
    assert set_password(app.test_client(), link_in(smtp.wait_for(1)[0])).status_code == 303
    browser = app.test_client()
    signed_in = Auth(browser).login("forgetful@example.com", NEW_PASSWORD)
    assert signed_in.status_code == 303 and signed_in.headers["Location"].startswith("/account/security")
    assert browser.get("/auth/verify").status_code == 401  # restricted until a factor is added


def test_the_new_password_follows_the_policy(app, client, member, smtp):
    ask(client, "forgetful@example.com")
    link = link_in(smtp.wait_for(1)[0])
    refused = set_password(app.test_client(), link, "short")
    assert refused.status_code == 400 and "at least 15 characters" in refused.get_data(as_text=True)
    assert set_password(app.test_client(), link).status_code == 303  # a refusal did not use the link up


class TestNoEnumeration:
    def test_every_address_gets_the_same_page(self, app, db, smtp):
        MembershipFactory(user__email="known@example.com")
        MembershipFactory(user__email="sso@example.com", user__sso=True)
        MembershipFactory(user__email="gone@example.com", inactive=True)
        db.flush()
        browser = app.test_client()
        pages = {email: ask(browser, email) for email in
                 ("known@example.com", "nobody@example.com", "sso@example.com", "gone@example.com")}
        assert {response.status_code for response in pages.values()} == {200}
        assert len({response.get_data() for response in pages.values()}) == 1
        mails = {mail["To"]: mail for mail in smtp.wait_for(2)}
        assert set(mails) == {"known@example.com", "sso@example.com"}
        assert "Continue with SSO" in text_of(mails["sso@example.com"])
        assert "/password/reset/" not in text_of(mails["sso@example.com"])
        assert db.scalar(select(func.count()).select_from(PasswordReset)) == 1
        outcomes = {e.target_email: e.details["outcome"] for e in
                    db.scalars(select(AuditEvent).where(AuditEvent.action == "password:reset_request"))}
        assert outcomes == {"known@example.com": "link_sent", "nobody@example.com": "no_account",
                            "sso@example.com": "sso_only", "gone@example.com": "inactive"}

    def test_a_member_deactivated_in_one_organization_but_active_in_another_gets_a_link(self, app, db, smtp):
        membership = MembershipFactory(user__email="half@example.com", inactive=True)
        MembershipFactory(user=membership.user)
        db.flush()
        ask(app.test_client(), "half@example.com")
        assert "/password/reset/" in text_of(smtp.wait_for(1)[0])

    def test_a_link_sent_before_a_deactivation_no_longer_works(self, app, client, db, member, smtp):
        ask(client, "forgetful@example.com")
        link = link_in(smtp.wait_for(1)[0])
        member.status = "inactive"
        db.flush()
        assert set_password(app.test_client(), link).status_code == 404


class TestRefusals:
    def test_not_an_address_is_a_400_with_a_message(self, client):
        response = ask(client, "not an address")
        assert response.status_code == 400 and "valid email address" in response.get_data(as_text=True)

    @pytest.mark.parametrize("link", ["/password/reset/x", "/password/reset/" + "a" * 500,
                                      "/password/reset/%00", "/password/reset/%E2%80%AE"])
    def test_a_bad_link_is_a_404(self, client, link):
        assert client.get(link).status_code == 404

    def test_the_reset_page_without_a_link_is_a_404(self, client):
        assert client.get("/password/reset").status_code == 404
        assert client.post("/password/reset", data={"new_password": NEW_PASSWORD}).status_code in (400, 404)

    def test_a_post_without_csrf_is_refused(self, client, member):
        response = client.post("/password/forgot", data={"email": "forgetful@example.com"})
        assert response.status_code == 400


@pytest.mark.settings(reset_limit_account="2 per hour")
def test_requests_are_throttled_per_address_typed(app, member, smtp):
    browser = app.test_client()
    assert ask(browser, "forgetful@example.com").status_code == 200
    assert ask(browser, "forgetful@example.com").status_code == 200
    throttled = ask(browser, "forgetful@example.com")
    assert throttled.status_code == 429 and "Too many requests" in throttled.get_data(as_text=True)
    assert ask(browser, "nobody@example.com").status_code == 200  # another address has its own budget


@pytest.mark.settings(reset_limit_address="2 per hour")
def test_requests_are_throttled_per_client_address(app, smtp):
    browser = app.test_client()
    ask(browser, "one@example.com")
    ask(browser, "two@example.com")
    assert ask(browser, "three@example.com").status_code == 429


def test_the_link_is_redacted_in_logs():
    assert redact_path("/password/reset/abcDEF123_-") == "/password/reset/[redacted]"
    assert redact_path("/password/reset") == "/password/reset"


@pytest.mark.settings(smtp_url=None)
def test_without_mail_the_page_sends_people_to_their_admins(client, db, member):
    page = client.get("/password/forgot").get_data(as_text=True)
    assert "ask an admin" in page and 'name="email"' not in page
    # Nothing is sent nor kept: the link could only have gone to the log.
    client.post("/password/forgot", data={"csrf_token": csrf_token(client), "email": "forgetful@example.com"})
    assert db.scalar(select(func.count()).select_from(PasswordReset)) == 0
    assert db.scalar(select(func.count()).select_from(OutboxMessage)) == 0
