"""Every form post needs this browser's CSRF token; without it nothing is written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gateway.accounts.models import User
from gateway.audit.models import AuditEvent
from gateway.orgs.models import Organization
from gateway.sessions.cookies import COOKIE_NAME
from gateway.sessions.models import UserSession
from tests.conftest import STRONG_PASSWORD, Auth, csrf_token
from tests.factories import member

NEW_PASSWORD = "quartz meadow falcon 5821 ember"
# (description, what to send as csrf_token; None leaves the field out)
BAD_TOKENS = [("missing", None), ("empty", ""), ("forged", "forged-token"),
              ("tampered", "IjE2ZWQ0Yzk1OTBkNjQ1ZmQ1In0.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbb")]


def with_token(data: dict, token: str | None) -> dict:
    return data if token is None else {**data, "csrf_token": token}


def row_counts(db) -> dict[str, int]:
    db.expire_all()
    return {model.__name__: db.scalar(select(func.count()).select_from(model))
            for model in (Organization, User, UserSession, AuditEvent)}


def assert_refused_for_csrf(response) -> None:
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "CSRF" in page and "token" in page


@pytest.fixture(params=BAD_TOKENS, ids=[name for name, _ in BAD_TOKENS])
def bad_token(request) -> str | None:
    return request.param[1]


class TestLoginNeedsTheCsrfToken:
    def test_sign_in_without_a_valid_csrf_token_is_refused_and_nothing_is_written(self, client, db, bad_token):
        user = member()
        client.get("/login")  # the browser has a session with a real token; the post just lacks it
        before = row_counts(db)

        response = client.post("/login", data=with_token({"email": user.email, "password": STRONG_PASSWORD},
                                                         bad_token))

        assert_refused_for_csrf(response)
        assert client.get_cookie(COOKIE_NAME) is None
        assert row_counts(db) == before

    def test_a_token_from_another_browser_is_refused(self, app, client, db):
        user = member()
        someone_elses = csrf_token(app.test_client())
        client.get("/login")

        response = client.post("/login", data={"email": user.email, "password": STRONG_PASSWORD,
                                               "csrf_token": someone_elses})

        assert_refused_for_csrf(response)
        assert client.get_cookie(COOKIE_NAME) is None

    def test_the_token_in_the_form_is_accepted(self, auth, db):
        assert auth.login(member().email).status_code == 303


class TestSignupNeedsTheCsrfToken:
    def test_sign_up_without_a_valid_csrf_token_is_refused_and_nothing_is_written(self, client, db, bad_token):
        client.get("/signup")

        response = client.post("/signup", data=with_token({
            "org_name": "Acme", "org_slug": "acme", "name": "Ada Lovelace", "email": "ada@example.com",
            "password": STRONG_PASSWORD}, bad_token))

        assert_refused_for_csrf(response)
        assert row_counts(db) == {"Organization": 0, "User": 0, "UserSession": 0, "AuditEvent": 0}


class TestPasswordChangeNeedsTheCsrfToken:
    def test_password_change_without_a_valid_csrf_token_is_refused_and_nothing_is_written(
        self, auth, client, db, bad_token
    ):
        user = member()
        auth.login(user.email)
        token = client.get_cookie(COOKIE_NAME).value
        before = row_counts(db)

        response = client.post("/password/change", data=with_token(
            {"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD}, bad_token))

        assert_refused_for_csrf(response)
        assert row_counts(db) == before
        assert client.get_cookie(COOKIE_NAME).value == token
        assert client.get("/auth/verify").status_code == 200
        assert Auth(client.application.test_client()).login(user.email, NEW_PASSWORD).status_code == 401


class TestLogoutNeedsTheCsrfToken:
    def test_logout_without_a_valid_csrf_token_is_refused_and_the_session_lives_on(self, auth, client, db,
                                                                                  bad_token):
        auth.login(member().email)
        before = row_counts(db)

        response = client.post("/logout", data=with_token({}, bad_token))

        assert_refused_for_csrf(response)
        assert row_counts(db) == before
        assert client.get_cookie(COOKIE_NAME) is not None
        assert client.get("/auth/verify").status_code == 200


class TestOtherForms:
    def test_switching_organization_without_a_csrf_token_is_refused(self, auth, client, db):
        auth.login(member().email)

        assert_refused_for_csrf(client.post("/account/switch", data={"org": "org-0"}))
