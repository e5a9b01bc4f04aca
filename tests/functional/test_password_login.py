"""Signing in with email and password through the form."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from gateway.audit.models import AuditEvent
from gateway.sessions.cookies import COOKIE_NAME
from gateway.sessions.models import UserSession
from tests.conftest import STRONG_PASSWORD, Auth, csrf_token
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory, member

SAME_MESSAGE = "That email and password do not match an account."
WRONG = "not the password at all"


def audit(db, action: str) -> list[AuditEvent]:
    db.expire_all()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def live_sessions(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(UserSession))


def errors_on_page(response) -> list[str]:
    page = response.get_data(as_text=True)
    return [html.unescape(item) for block in re.findall(r'<ul class="errors"[^>]*>(.*?)</ul>', page, re.S)
            for item in re.findall(r"<li>(.*?)</li>", block, re.S)]


class TestSuccessfulSignIn:
    def test_success_redirects_to_the_account_page(self, auth, client, db):
        response = auth.login(member().email)

        assert response.status_code == 303
        assert response.headers["Location"] == "/account"
        assert client.get("/account").status_code == 200

    @pytest.mark.parametrize("next_url", ["/admin/users", "/account?tab=orgs", "http://127.0.0.1:5000/somewhere"])
    def test_success_follows_a_safe_next(self, auth, db, next_url):
        assert auth.login(member().email, next=next_url).headers["Location"] == next_url

    @pytest.mark.parametrize("next_url", [
        "//evil.com", "//evil.com/account", "https://evil.com/", "/\\evil.com", "javascript:alert(1)",
        "https://127.0.0.1:5000@evil.com/", "%2F%2Fevil.com", " //evil.com",
    ])
    def test_an_unsafe_next_goes_to_the_account_page_instead(self, auth, db, next_url):
        assert auth.login(member().email, next=next_url).headers["Location"] == "/account"

    def test_next_from_the_query_string_is_followed(self, client, db):
        user = member()

        response = client.post("/login?next=/admin/users", data={
            "csrf_token": csrf_token(client), "email": user.email, "password": STRONG_PASSWORD})
        assert response.headers["Location"] == "/admin/users"

    def test_the_email_is_matched_whatever_its_case_and_surrounding_spaces(self, auth, db):
        user = member(user=UserFactory(email="grace@example.com"))

        assert auth.login("  Grace@EXAMPLE.com ").status_code == 303
        assert audit(db, "login:success")[0].target_id == user.id

    def test_success_writes_a_login_success_audit_row(self, auth, db):
        user = member()

        auth.login(user.email)

        [event] = audit(db, "login:success")
        assert (event.target_id, event.target_email, event.actor_id) == (user.id, user.email, user.id)
        assert event.details["method"] == "password"
        assert audit(db, "login:failure") == []

    def test_every_sign_in_gets_a_new_token(self, auth, client, db):
        user = member()

        auth.login(user.email)
        first = client.get_cookie(COOKIE_NAME).value
        auth.login(user.email)
        second = client.get_cookie(COOKIE_NAME).value

        assert first != second
        assert live_sessions(db) == 2

    def test_two_browsers_signing_in_get_different_tokens(self, app, db):
        user = member()
        one, two = app.test_client(), app.test_client()

        Auth(one).login(user.email)
        Auth(two).login(user.email)

        assert one.get_cookie(COOKIE_NAME).value != two.get_cookie(COOKIE_NAME).value


class TestRefusedSignIn:
    def test_wrong_password_and_unknown_email_show_the_same_message_and_status(self, app, db):
        user = member()

        wrong = Auth(app.test_client()).login(user.email, WRONG)
        unknown = Auth(app.test_client()).login("nobody@example.com", WRONG)

        assert wrong.status_code == unknown.status_code == 401
        assert errors_on_page(wrong) == errors_on_page(unknown) == [SAME_MESSAGE]

    @pytest.mark.parametrize("email", ["nobody@example.com", "not an email at all"])
    def test_a_refused_sign_in_sets_no_cookie_and_starts_no_session(self, auth, client, db, email):
        member()

        assert auth.login(email, WRONG).status_code == 401
        assert client.get_cookie(COOKIE_NAME) is None
        assert live_sessions(db) == 0

    def test_a_wrong_password_writes_a_login_failure_audit_row(self, auth, db):
        user = member()

        auth.login(user.email, WRONG)

        [event] = audit(db, "login:failure")
        assert (event.target_id, event.target_email) == (user.id, user.email)
        assert event.details["reason"] == "wrong_password"
        assert audit(db, "login:success") == []

    def test_an_unknown_email_writes_a_login_failure_audit_row(self, auth, db):
        auth.login("Nobody@Example.com", WRONG)

        [event] = audit(db, "login:failure")
        assert (event.target_id, event.target_email) == (None, "nobody@example.com")
        assert event.details["reason"] == "unknown_email"

    def test_an_sso_only_user_is_told_to_use_sso(self, auth, client, db):
        user = member(user=UserFactory(sso=True))

        response = auth.login(user.email, "anything they might type")

        assert response.status_code == 400
        assert errors_on_page(response) == ["This account signs in through single sign-on. Use “Continue with SSO”."]
        assert client.get_cookie(COOKIE_NAME) is None
        assert live_sessions(db) == 0

    def test_a_user_whose_only_membership_is_inactive_cannot_sign_in(self, auth, client, db):
        user = MembershipFactory(inactive=True).user

        response = auth.login(user.email)

        assert response.status_code == 403
        assert errors_on_page(response) == ["Your account has no active organization. Ask an admin."]
        assert client.get_cookie(COOKIE_NAME) is None
        assert live_sessions(db) == 0
        [event] = audit(db, "login:failure")
        assert event.details["reason"] == "no_active_membership"

    def test_an_inactive_membership_is_skipped_for_an_active_one(self, auth, client, db):
        user = MembershipFactory(inactive=True).user
        active_org = OrganizationFactory(slug="still-here")
        MembershipFactory(user=user, org=active_org)

        assert auth.login(user.email).status_code == 303
        assert client.get("/auth/verify").headers["X-Auth-Org"] == "still-here"

    def test_a_user_without_a_password_cannot_sign_in_with_an_empty_guess(self, auth, db):
        user = member(user=UserFactory(password=None))

        assert auth.login(user.email, " ").status_code in (400, 401)
        assert auth.login(user.email, STRONG_PASSWORD).status_code == 401
        assert live_sessions(db) == 0
