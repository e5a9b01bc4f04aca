"""An admin created on the command line signs in with a temporary password and must change it first."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from gateway.accounts.models import User
from gateway.accounts.passwords import TEMPORARY_ALPHABET
from gateway.audit.models import AuditEvent
from gateway.sessions.cookies import COOKIE_NAME
from tests.conftest import Auth, csrf_token

EMAIL = "a@example.com"
NEW_PASSWORD = "quartz meadow falcon 5821 ember"
CREATE = ["org", "create", "acme", "--name", "Acme", "--admin-email", EMAIL, "--admin-name", "Ada Admin"]


def new_password_errors(response) -> list[str]:
    match = re.search(r'<ul class="errors" id="new_password-errors">(.*?)</ul>', response.get_data(as_text=True),
                      re.S)
    return [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", match.group(1), re.S)] if match else []


def the_admin(db) -> User:
    db.expire_all()
    return db.scalar(select(User).where(User.email == EMAIL))


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def created(runner, db):
    """The output of `idgate org create`."""
    result = runner.invoke(args=CREATE)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def temporary(created) -> str:
    return re.search(r"Temporary password \(shown once\): (\S+)", created).group(1)


@pytest.fixture
def restricted(auth, client, temporary) -> str:
    """Signed in with the temporary password; returns that session's token."""
    assert auth.login(EMAIL, temporary).status_code == 303
    return client.get_cookie(COOKIE_NAME).value


class TestOrgCreate:
    def test_org_create_prints_a_16_character_temporary_password_once(self, created, temporary):
        assert len(temporary) == 16
        assert set(temporary) <= set(TEMPORARY_ALPHABET)
        assert created.count(temporary) == 1

    def test_only_a_hash_of_the_temporary_password_is_stored(self, db, temporary):
        admin = the_admin(db)
        assert admin.must_change_password
        assert temporary not in (admin.password_hash or "")

    def test_each_org_create_prints_a_different_temporary_password(self, runner, temporary):
        other = runner.invoke(args=["org", "create", "beta", "--name", "Beta", "--admin-email", "b@example.com",
                                    "--admin-name", "Bea Admin"]).output
        assert re.search(r"\(shown once\): (\S+)", other).group(1) != temporary


class TestRestrictedSession:
    def test_signing_in_with_the_temporary_password_lands_on_the_password_change(self, auth, temporary):
        response = auth.login(EMAIL, temporary)

        assert response.status_code == 303
        assert response.headers["Location"] == "/password/change"

    def test_a_safe_next_does_not_skip_the_password_change_but_is_kept_for_after_it(self, auth, temporary):
        location = auth.login(EMAIL, temporary, next="/admin/users").headers["Location"]

        assert location == "/password/change?next=/admin/users"

    def test_an_unsafe_next_is_not_kept(self, auth, temporary):
        location = auth.login(EMAIL, temporary, next="https://evil.example/").headers["Location"]

        assert location == "/password/change"

    @pytest.mark.parametrize("path", ["/account", "/", "/admin/users", "/admin/invitations", "/admin/audit",
                                      "/admin/sso"])
    def test_every_other_page_redirects_to_the_password_change(self, client, restricted, path):
        response = client.get(path)

        assert response.status_code in (302, 303)
        assert urlsplit(response.headers["Location"]).path == "/password/change"
        assert parse_qs(urlsplit(response.headers["Location"]).query)["next"] == [path]

    def test_an_invitation_link_is_not_copied_into_the_way_back(self, client, restricted):
        response = client.get("/invite/a-secret-invitation-code")

        assert response.headers["Location"] == "/password/change"

    def test_the_sign_in_page_passes_on_where_it_was_going(self, client, restricted):
        response = client.get("/login", query_string={"next": "/admin/audit"})

        assert response.headers["Location"] == "/password/change?next=/admin/audit"

    def test_the_password_change_page_explains_why(self, client, restricted):
        page = client.get("/password/change")

        assert page.status_code == 200
        assert "You signed in with a temporary password." in page.get_data(as_text=True)

    def test_verify_answers_401_for_the_restricted_session(self, client, restricted):
        response = client.get("/auth/verify")

        assert response.status_code == 401
        assert "X-Auth-User-Id" not in response.headers
        assert response.headers["X-Auth-Redirect"].startswith("http://127.0.0.1:5000/login")

    def test_verify_answers_401_for_the_restricted_token_as_bearer_too(self, app, restricted):
        for _ in range(2):  # also once it is in the one-second cache
            assert app.test_client().get("/auth/verify", headers=bearer(restricted)).status_code == 401

    def test_the_admin_api_refuses_the_restricted_session_with_a_json_401(self, app, restricted):
        response = app.test_client().get("/api/v1/orgs/acme/users", headers=bearer(restricted))

        assert response.status_code == 401
        assert response.json["error"]["code"] == "unauthorized"

    def test_the_restricted_session_may_sign_out(self, client, restricted):
        response = client.post("/logout", data={"csrf_token": csrf_token(client, "/password/change")})
        assert response.status_code == 303
        assert client.get("/password/change").headers["Location"].startswith("/login")


class TestTheChange:
    def test_the_new_password_may_not_equal_the_temporary_one(self, auth, client, db, restricted, temporary):
        response = auth.change_password(temporary)

        assert response.status_code == 400
        assert "Choose a password different from the one you have now." in new_password_errors(response)
        assert the_admin(db).must_change_password
        assert client.get("/auth/verify").status_code == 401

    @pytest.mark.parametrize(("password", "reason"), [
        ("too short", "Use at least 15 characters."),
        ("the admin of everything 42", "Do not use your name in your password."),
    ])
    def test_a_policy_breaking_password_is_refused_with_the_reason(self, auth, client, db, restricted, password,
                                                                   reason):
        response = auth.change_password(password)

        assert response.status_code == 400
        assert reason in new_password_errors(response)
        assert the_admin(db).must_change_password
        assert client.get_cookie(COOKIE_NAME).value == restricted
        assert urlsplit(client.get("/account").headers["Location"]).path == "/password/change"

    def test_the_temporary_password_need_not_be_typed_again(self, auth, restricted):
        response = auth.change_password(NEW_PASSWORD)
        assert response.status_code == 303

    def test_after_the_change_the_session_cookie_is_replaced(self, auth, client, restricted):
        response = auth.change_password(NEW_PASSWORD)

        assert response.status_code == 303
        assert response.headers["Location"] == "/account?changed=1"
        assert client.get_cookie(COOKIE_NAME).value != restricted

    def test_after_the_change_the_page_they_were_going_to_opens(self, auth, client, temporary):
        auth.login(EMAIL, temporary, next="/admin/users")
        page = client.get("/password/change?next=/admin/users").get_data(as_text=True)
        assert 'action="/password/change?next=/admin/users"' in page

        response = client.post("/password/change?next=/admin/users", data={
            "new_password": NEW_PASSWORD, "csrf_token": csrf_token(client, "/password/change")})

        assert response.status_code == 303
        assert response.headers["Location"] == "/admin/users"
        assert client.get("/admin/users").status_code == 200

    def test_an_unsafe_next_on_the_change_itself_is_ignored(self, client, restricted):
        response = client.post("/password/change?next=//evil.example/", data={
            "new_password": NEW_PASSWORD, "csrf_token": csrf_token(client, "/password/change")})

        assert response.headers["Location"] == "/account?changed=1"

    def test_after_the_change_the_old_token_no_longer_works(self, app, auth, restricted):
        auth.change_password(NEW_PASSWORD)

        assert app.test_client().get("/auth/verify", headers=bearer(restricted)).status_code == 401

    def test_after_the_change_verify_reports_the_admin_and_every_page_opens(self, auth, client, restricted):
        auth.change_password(NEW_PASSWORD)

        verify = client.get("/auth/verify")
        assert verify.status_code == 200
        assert (verify.headers["X-Auth-Email"], verify.headers["X-Auth-Org"], verify.headers["X-Auth-Role"]) == \
            (EMAIL, "acme", "admin")
        assert client.get("/account").status_code == 200
        assert client.get("/admin/users").status_code == 200

    def test_after_the_change_the_flag_is_cleared_and_audited(self, auth, db, restricted):
        auth.change_password(NEW_PASSWORD)

        admin = the_admin(db)
        assert admin.must_change_password is False
        [event] = db.scalars(select(AuditEvent).where(AuditEvent.action == "password:temporary_change")).all()
        assert event.target_id == admin.id

    def test_afterwards_only_the_new_password_signs_in(self, app, auth, restricted, temporary):
        auth.change_password(NEW_PASSWORD)

        assert Auth(app.test_client()).login(EMAIL, temporary).status_code == 401
        fresh = Auth(app.test_client()).login(EMAIL, NEW_PASSWORD)
        assert fresh.status_code == 303 and fresh.headers["Location"] == "/account"
