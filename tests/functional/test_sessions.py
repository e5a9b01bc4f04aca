"""Server-side sessions: the cookie, idle and absolute limits, sign-out, bearer tokens, /auth/verify."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from gateway.audit.models import AuditEvent
from gateway.sessions import cache
from gateway.sessions.cookies import COOKIE_NAME
from tests.conftest import Auth, csrf_token
from tests.factories import OrganizationFactory, member


def session_cookie_header(response) -> str:
    [header] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{COOKIE_NAME}=")]
    return header


def cookie_attributes(header: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def token(auth, client, db) -> str:
    """A user signed in through the form; returns their session token."""
    assert auth.login(member().email).status_code == 303
    return client.get_cookie(COOKIE_NAME).value


class TestCookie:
    def test_the_session_cookie_is_httponly_and_samesite_lax_without_secure_on_loopback_http(self, auth, db):
        header = session_cookie_header(auth.login(member().email))

        assert {"httponly", "path", "expires"} <= cookie_attributes(header)
        assert "SameSite=Lax" in header
        assert "secure" not in cookie_attributes(header)

    @pytest.mark.settings(base_url="https://id.example.com")
    def test_the_session_cookie_is_secure_behind_an_https_base_url(self, auth, db):
        header = session_cookie_header(auth.login(member().email))

        assert {"secure", "httponly"} <= cookie_attributes(header)
        assert "SameSite=Lax" in header

    @pytest.mark.settings(base_url="http://id.example.com")
    def test_the_session_cookie_is_secure_on_plain_http_outside_loopback(self, auth, db):
        assert "secure" in cookie_attributes(session_cookie_header(auth.login(member().email)))

    @pytest.mark.settings(cookie_domain=".example.com")
    def test_the_cookie_domain_setting_shares_the_cookie_with_sibling_hosts(self, auth, db):
        assert "Domain=example.com" in session_cookie_header(auth.login(member().email))

    def test_the_cookie_holds_an_opaque_token_not_the_users_details(self, auth, db):
        user = member()
        header = session_cookie_header(auth.login(user.email))

        value = header.split(";")[0].split("=", 1)[1]
        assert len(value) >= 43  # 32 random bytes
        assert user.email not in header and user.name not in header


def wait(client, clock, **delta) -> None:
    """Let time pass: the app's clock moves, and the one-second verify cache forgets, as it
    would in real time (it counts real seconds, which a frozen clock does not move)."""
    clock.advance(**delta)
    cache.cache_of(client.application).forget()


class TestIdleTimeout:
    def test_a_session_idle_for_more_than_an_hour_is_over(self, client, clock, token):
        assert client.get("/auth/verify").status_code == 200

        wait(client, clock, hours=1, seconds=1)

        assert client.get("/auth/verify").status_code == 401
        response = client.get("/account")
        assert response.status_code == 302
        assert response.headers["Location"] == "/login?next=/account"

    def test_a_session_used_within_the_hour_stays_alive(self, client, clock, token):
        wait(client, clock, minutes=59)

        assert client.get("/auth/verify").status_code == 200
        assert client.get("/account").status_code == 200

    def test_activity_pushes_the_idle_limit_back(self, client, clock, token):
        wait(client, clock, minutes=50)
        assert client.get("/auth/verify").status_code == 200

        wait(client, clock, minutes=50)  # 100 minutes after sign-in, 50 after the last use
        assert client.get("/auth/verify").status_code == 200


class TestAbsoluteLifetime:
    def test_a_session_ends_after_12_hours_however_active(self, client, clock, token):
        started = clock.now()
        while clock.now() + timedelta(minutes=50) < started + timedelta(hours=12):
            wait(client, clock, minutes=50)
            assert client.get("/auth/verify").status_code == 200, clock.now() - started

        wait(client, clock, minutes=50)

        assert clock.now() - started >= timedelta(hours=12)
        assert client.get("/auth/verify").status_code == 401
        assert client.get("/account").headers["Location"].startswith("/login")

    @pytest.mark.settings(session_lifetime="2h", session_idle="30m")
    def test_the_limits_follow_the_settings(self, client, clock, token):
        wait(client, clock, minutes=29)
        assert client.get("/auth/verify").status_code == 200
        wait(client, clock, minutes=29)
        assert client.get("/auth/verify").status_code == 200
        wait(client, clock, minutes=31)
        assert client.get("/auth/verify").status_code == 401


class TestLogout:
    def test_logout_revokes_the_session_on_the_server(self, app, auth, client, db, token):
        response = auth.logout()

        assert response.status_code == 303
        assert response.headers["Location"] == "/login"
        assert app.test_client().get("/auth/verify", headers=bearer(token)).status_code == 401
        assert client.get("/auth/verify", headers=bearer(token)).status_code == 401

    def test_logout_clears_the_cookie(self, auth, client, token):
        header = session_cookie_header(auth.logout())

        assert header.startswith(f"{COOKIE_NAME}=;")
        assert client.get_cookie(COOKIE_NAME) is None

    def test_logout_revokes_a_token_already_in_the_verify_cache(self, app, auth, token):
        downstream = app.test_client()
        assert downstream.get("/auth/verify", headers=bearer(token)).status_code == 200
        assert downstream.get("/auth/verify", headers=bearer(token)).status_code == 200

        auth.logout()

        assert downstream.get("/auth/verify", headers=bearer(token)).status_code == 401

    def test_logout_writes_an_audit_row(self, auth, db, token):
        auth.logout()

        db.expire_all()
        assert db.scalars(select(AuditEvent.action).where(AuditEvent.action == "login:logout")).all() == \
            ["login:logout"]

    def test_logout_is_post_only(self, client, token):
        assert client.get("/logout").status_code == 405
        assert client.get("/auth/verify").status_code == 200

    def test_logout_without_a_session_goes_to_the_sign_in_page(self, client):
        response = client.post("/logout", data={"csrf_token": csrf_token(client)})
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")


class TestBearer:
    def test_bearer_works_where_no_cookie_is_sent(self, app, token):
        downstream = app.test_client()

        verify = downstream.get("/auth/verify", headers=bearer(token))

        assert verify.status_code == 200
        assert verify.headers["X-Auth-Role"] == "user"
        assert downstream.get("/account", headers=bearer(token)).status_code == 200

    @pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
    def test_the_bearer_scheme_is_case_insensitive(self, app, token, scheme):
        response = app.test_client().get("/auth/verify", headers={"Authorization": f"{scheme} {token}"})
        assert response.status_code == 200

    def test_an_unknown_bearer_token_is_401(self, app, token):
        assert app.test_client().get("/auth/verify", headers=bearer(token[:-2] + "xx")).status_code == 401


class TestVerify:
    def test_verify_answers_the_full_set_of_headers(self, client, db):
        user = member()

        Auth(client).login(user.email)
        response = client.get("/auth/verify")

        assert response.status_code == 200
        assert response.headers["X-Auth-User-Id"] == str(user.id)
        assert response.headers["X-Auth-Email"] == user.email
        assert response.headers["X-Auth-Name"] == user.name
        assert response.headers["X-Auth-Org"].startswith("org-")
        assert response.headers["X-Auth-Token"].count(".") == 2
        assert response.headers["Cache-Control"] == "no-store"

    def test_without_a_session_verify_points_to_the_sign_in_page(self, client):
        response = client.get("/auth/verify")

        assert response.status_code == 401
        assert response.headers["X-Auth-Redirect"] == "http://127.0.0.1:5000/login"

    def test_the_redirect_is_built_from_x_original_url(self, client):
        response = client.get("/auth/verify", headers={"X-Original-URL": "http://127.0.0.1:5000/app?x=1&y=2"})

        assert response.status_code == 401
        assert response.headers["X-Auth-Redirect"] == \
            "http://127.0.0.1:5000/login?next=http%3A%2F%2F127.0.0.1%3A5000%2Fapp%3Fx%3D1%26y%3D2"

    def test_the_redirect_is_built_from_x_forwarded_headers(self, client):
        response = client.get("/auth/verify", headers={
            "X-Forwarded-Proto": "http", "X-Forwarded-Host": "127.0.0.1:5000", "X-Forwarded-Uri": "/app/page?q=1"})

        assert response.headers["X-Auth-Redirect"] == \
            "http://127.0.0.1:5000/login?next=http%3A%2F%2F127.0.0.1%3A5000%2Fapp%2Fpage%3Fq%3D1"

    @pytest.mark.settings(base_url="https://id.example.com", allowed_redirect_hosts="id.example.com app.example.com")
    def test_the_redirect_uses_the_base_url_and_allowed_sibling_hosts(self, client):
        response = client.get("/auth/verify", headers={"X-Original-URL": "https://app.example.com/reports"})

        assert response.headers["X-Auth-Redirect"] == \
            "https://id.example.com/login?next=https%3A%2F%2Fapp.example.com%2Freports"

    @pytest.mark.parametrize("headers", [
        {"X-Original-URL": "https://evil.example/phish"},
        {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example", "X-Forwarded-Uri": "/"},
    ])
    def test_a_foreign_original_url_is_left_out_of_the_redirect(self, client, headers):
        assert client.get("/auth/verify", headers=headers).headers["X-Auth-Redirect"] == \
            "http://127.0.0.1:5000/login"

    def test_an_original_url_that_is_not_http_is_refused(self, client):
        response = client.get("/auth/verify", headers={"X-Original-URL": "javascript:alert(1)"})
        assert response.status_code == 403 and "X-Auth-Redirect" not in response.headers

    def test_redirect_mode_sends_the_browser_to_sign_in(self, client):
        response = client.get("/auth/verify?redirect=1", headers={"X-Original-URL": "http://127.0.0.1:5000/a"})

        assert response.status_code == 302
        assert response.headers["Location"] == "http://127.0.0.1:5000/login?next=http%3A%2F%2F127.0.0.1%3A5000%2Fa"


class TestVerifyRequirements:
    @pytest.fixture
    def admin_token(self, auth, client, db) -> str:
        auth.login(member(org=OrganizationFactory(slug="acme"), admin=True).email)
        return client.get_cookie(COOKIE_NAME).value

    @pytest.mark.parametrize("query", ["?org=acme", "?role=admin", "?org=acme&role=admin", ""])
    def test_met_requirements_answer_200(self, client, admin_token, query):
        for _ in range(2):  # first through Flask, then from the one-second cache
            assert client.get(f"/auth/verify{query}").status_code == 200

    @pytest.mark.parametrize("query", ["?org=other", "?role=user", "?org=acme&role=owner", "?org=ACME"])
    def test_unmet_org_or_role_answers_403(self, client, admin_token, query):
        for _ in range(2):
            assert client.get(f"/auth/verify{query}").status_code == 403

    @pytest.mark.parametrize("query", ["?org=other&org=acme", "?role=user&role=admin", "?Org=other",
                                       "?org=", "?role=", "?redirect=yes", "?org=%ff"])
    def test_a_query_that_cannot_be_read_with_certainty_is_refused(self, client, admin_token, query):
        # Which of two values counts? Does a misspelt or empty requirement mean none? Neither is guessed.
        for _ in range(2):  # first through Flask, then from the cache
            response = client.get(f"/auth/verify{query}")
            assert response.status_code == 400
            assert response.get_json()["error"]["code"] == "bad_verify_query"

    def test_a_plain_user_does_not_pass_a_role_admin_requirement(self, client, token):
        assert client.get("/auth/verify?role=admin").status_code == 403
        assert client.get("/auth/verify?role=user").status_code == 200

    def test_requirements_without_a_session_still_answer_401(self, client):
        assert client.get("/auth/verify?org=acme&role=admin").status_code == 401
