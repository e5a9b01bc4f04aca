"""Password sign-in end to end: sign-up, sign-in, refusals, throttling, the temporary-password
flow, sessions, CSRF, cookies and bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gateway.accounts.models import User
from gateway.audit.models import AuditEvent
from gateway.orgs.models import Organization
from gateway.sessions.cookies import COOKIE_NAME
from tests.conftest import STRONG_PASSWORD, Auth, csrf_token
from tests.factories import MembershipFactory, UserFactory, member

NEW_PASSWORD = "quartz meadow falcon 5821 ember"


def _actions(db, action):
    return db.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def _signup(client, **fields):
    data = {"org_name": "Acme", "org_slug": "acme", "name": "Ada Lovelace", "email": "ada@example.com",
            "password": STRONG_PASSWORD, **fields}
    return client.post("/signup", data={"csrf_token": csrf_token(client, "/signup"), **data})


class TestSignup:
    def test_creates_the_organization_and_its_first_admin(self, client, db):
        assert _signup(client).status_code == 303
        verify = client.get("/auth/verify")
        assert verify.headers["X-Auth-Role"] == "admin" and verify.headers["X-Auth-Org"] == "acme"

    def test_first_allows_only_the_first_organization(self, client, app):
        assert _signup(client).status_code == 303
        other = app.test_client()
        assert other.get("/signup").status_code == 403

    @pytest.mark.settings(signup="open")
    def test_open_allows_more(self, client, app):
        assert _signup(client).status_code == 303
        assert _signup(app.test_client(), org_slug="beta", email="b@example.com").status_code == 303

    @pytest.mark.settings(signup="closed")
    def test_closed_allows_none(self, client):
        assert client.get("/signup").status_code == 403

    def test_a_policy_refusal_writes_nothing(self, client, db):
        response = _signup(client, password="password")
        assert response.status_code == 400
        assert "Use at least 15 characters." in response.get_data(as_text=True)
        assert db.scalar(select(func.count()).select_from(Organization)) == 0
        assert db.scalar(select(func.count()).select_from(User)) == 0

    @pytest.mark.parametrize("name", ["Al", "x" * 41])
    def test_names_outside_3_to_40_characters_are_refused(self, client, db, name):
        assert _signup(client, name=name).status_code == 400
        assert db.scalar(select(func.count()).select_from(Organization)) == 0


class TestSignIn:
    def test_success_goes_to_a_safe_next_or_the_account(self, auth, db):
        user = member()
        assert auth.login(user.email, next="/admin/users").headers["Location"] == "/admin/users"
        assert auth.login(user.email, next="//evil.example").headers["Location"] == "/account"

    def test_wrong_password_and_unknown_email_look_the_same(self, app, db):
        user = member()
        wrong = Auth(app.test_client()).login(user.email, "not the password at all")
        unknown = Auth(app.test_client()).login("nobody@example.com", "not the password at all")
        assert wrong.status_code == unknown.status_code == 401
        message = "That email and password do not match an account."
        assert message in wrong.get_data(as_text=True) and message in unknown.get_data(as_text=True)
        reasons = sorted(e.details["reason"] for e in _actions(db, "login:failure"))
        assert reasons == ["unknown_email", "wrong_password"]

    def test_an_sso_only_account_is_told_to_use_sso(self, auth, db):
        MembershipFactory(user=UserFactory(email="sso@example.com", sso=True))
        db.flush()
        response = auth.login("sso@example.com", "whatever it is")
        assert response.status_code == 400 and "single sign-on" in response.get_data(as_text=True)

    @pytest.mark.settings(login_limit_account="3 per 15 minutes", login_limit_address="100 per minute")
    def test_failed_attempts_per_account_are_throttled_and_audited(self, auth, db):
        user = member()
        for _ in range(3):
            assert auth.login(user.email, "wrong wrong wrong").status_code == 401
        throttled = auth.login(user.email, "wrong wrong wrong")
        assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
        assert "Too many sign-in attempts" in throttled.get_data(as_text=True)
        assert len(_actions(db, "login:throttled")) == 1

    @pytest.mark.settings(login_limit_account="100 per minute", login_limit_address="3 per 15 minutes")
    def test_failed_attempts_per_address_are_throttled_across_accounts(self, auth, db):
        for n in range(3):
            auth.login(f"someone{n}@example.com", "wrong wrong wrong")
        assert auth.login("yet-another@example.com", "wrong wrong wrong").status_code == 429

    @pytest.mark.settings(login_limit_account="2 per 15 minutes")
    def test_successful_sign_ins_do_not_count(self, auth, db):
        user = member()
        for _ in range(4):
            assert auth.login(user.email).status_code == 303


class TestTemporaryPassword:
    @pytest.fixture
    def temporary(self, runner):
        output = runner.invoke(args=["org", "create", "acme", "--name", "Acme", "--admin-email", "t@example.com",
                                     "--admin-name", "Tess Temp"]).output
        return output.split("(shown once): ")[1].split()[0]

    def test_the_restricted_session_reaches_only_the_password_change(self, auth, client, temporary):
        response = auth.login("t@example.com", temporary)
        assert response.headers["Location"] == "/password/change"
        for path in ["/account", "/", "/admin/users", "/admin/audit"]:
            assert client.get(path).headers["Location"].startswith("/password/change?next=")
        assert client.get("/auth/verify").status_code == 401
        assert client.get("/password/change").status_code == 200

    def test_the_new_password_must_differ_and_follow_the_policy(self, auth, temporary):
        auth.login("t@example.com", temporary)
        same = auth.change_password(temporary)
        assert same.status_code == 400
        weak = auth.change_password("tesstemp1234567890")  # contains the name
        assert weak.status_code == 400 and "your name" in weak.get_data(as_text=True)

    def test_after_the_change_the_token_is_replaced_and_everything_opens(self, auth, client, db, temporary):
        auth.login("t@example.com", temporary)
        old_token = client.get_cookie(COOKIE_NAME).value
        assert auth.change_password(NEW_PASSWORD).status_code == 303
        assert client.get_cookie(COOKIE_NAME).value != old_token
        assert client.get("/auth/verify").status_code == 200
        assert client.get("/auth/verify", headers={"Authorization": f"Bearer {old_token}"},
                          environ_base={"HTTP_COOKIE": ""}).status_code == 401
        assert not db.scalar(select(User).where(User.email == "t@example.com")).must_change_password
        assert len(_actions(db, "password:temporary_change")) == 1


class TestSessions:
    def test_cookie_flags_on_loopback_http(self, auth, client, db):
        auth.login(member().email)
        cookie = client.get_cookie(COOKIE_NAME)
        assert cookie.http_only and cookie.same_site == "Lax" and not cookie.secure

    @pytest.mark.settings(base_url="https://id.example.com")
    def test_cookies_are_secure_everywhere_else(self, auth, client, db):
        auth.login(member().email)
        assert client.get_cookie(COOKIE_NAME, domain="localhost").secure

    def test_idle_timeout(self, auth, client, clock, db):
        auth.login(member().email)
        clock.advance(minutes=59)
        assert client.get("/auth/verify").status_code == 200
        clock.advance(minutes=60, seconds=1)
        assert client.get("/auth/verify").status_code == 401
        assert client.get("/account").headers["Location"].startswith("/login")

    def test_absolute_lifetime_despite_activity(self, auth, client, clock, db):
        auth.login(member().email)
        started = clock.now()
        while clock.now() - started < timedelta(hours=11, minutes=10):
            clock.advance(minutes=50)  # active: never idle for an hour
            assert client.get("/auth/verify").status_code == 200
        clock.advance(minutes=50)  # now past 12 hours
        assert client.get("/auth/verify").status_code == 401

    def test_logout_revokes_on_the_server(self, auth, client, db):
        auth.login(member().email)
        token = client.get_cookie(COOKIE_NAME).value
        assert auth.logout().status_code == 303
        bearer = {"Authorization": f"Bearer {token}"}
        assert client.get("/auth/verify", headers=bearer).status_code == 401

    def test_bearer_works_without_a_cookie(self, app, auth, client, db):
        auth.login(member().email)
        token = client.get_cookie(COOKIE_NAME).value
        other = app.test_client()
        assert other.get("/auth/verify", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    def test_verify_builds_the_sign_in_redirect_from_proxy_headers(self, client):
        response = client.get("/auth/verify", headers={"X-Original-URL": "http://127.0.0.1:5000/app?x=1"})
        assert response.headers["X-Auth-Redirect"] == \
            "http://127.0.0.1:5000/login?next=http%3A%2F%2F127.0.0.1%3A5000%2Fapp%3Fx%3D1"
        forwarded = client.get("/auth/verify", headers={"X-Forwarded-Proto": "http",
                                                        "X-Forwarded-Host": "127.0.0.1:5000",
                                                        "X-Forwarded-Uri": "/y"})
        assert forwarded.headers["X-Auth-Redirect"].endswith("next=http%3A%2F%2F127.0.0.1%3A5000%2Fy")
        foreign = client.get("/auth/verify", headers={"X-Original-URL": "https://evil.example/x"})
        assert foreign.headers["X-Auth-Redirect"] == "http://127.0.0.1:5000/login"


class TestCsrfAndBadInput:
    @pytest.mark.parametrize("path", ["/login", "/signup", "/logout", "/password/change", "/account/switch"])
    def test_forms_without_a_valid_csrf_token_are_refused(self, client, path):
        for token in (None, "forged-token"):
            data = {"email": "a@example.com", "password": "x"}
            if token:
                data["csrf_token"] = token
            response = client.post(path, data=data)
            assert response.status_code == 400
            assert "CSRF" in response.get_data(as_text=True)

    def test_missing_fields_say_what_is_missing(self, client):
        response = client.post("/login", data={"csrf_token": csrf_token(client)})
        assert response.status_code == 400
        assert "Enter your email address." in response.get_data(as_text=True)

    def test_a_field_over_10_kb_is_refused(self, client):
        response = client.post("/login", data={"csrf_token": csrf_token(client), "email": "a" * 11000,
                                               "password": "x"})
        assert response.status_code in (400, 413)

    def test_invalid_utf8_is_refused(self, client):
        token = csrf_token(client)
        response = client.post("/login", data=f"csrf_token={token}&email=%FF%FE&password=x",
                               content_type="application/x-www-form-urlencoded")
        assert response.status_code == 400 and "UTF-8" in response.get_data(as_text=True)

    @pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/xml"])
    def test_unknown_content_types_are_refused(self, client, content_type):
        response = client.post("/login", data='{"email": "a"}', content_type=content_type)
        assert 400 <= response.status_code < 500

    def test_a_huge_body_is_refused_before_parsing(self, client):
        response = client.post("/login", data={"email": "a" * (200 * 1024)})
        assert response.status_code == 413

    @pytest.mark.parametrize("header", ["Bearer", "Bearer " + "x" * 5000, "Basic abc", "Bearer \u00e9"])
    def test_garbage_authorization_is_simply_not_signed_in(self, client, header):
        assert client.get("/auth/verify", headers={"Authorization": header.encode().decode("latin-1")}
                          ).status_code == 401
