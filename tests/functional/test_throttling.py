"""Failed sign-ins are throttled per account and per client address; successes never count."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.audit.models import AuditEvent
from gateway.sessions.cookies import COOKIE_NAME
from tests.conftest import Auth
from tests.factories import member

WRONG = "wrong wrong wrong wrong"


def audit(db, action: str) -> list[AuditEvent]:
    db.expire_all()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def from_address(app, address: str) -> Auth:
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = address
    return Auth(browser)


@pytest.mark.settings(login_limit_account="3 per 15 minutes", login_limit_address="100 per minute")
class TestPerAccountLimit:
    def test_the_fourth_failed_attempt_for_one_email_gets_429_with_retry_after(self, auth, db):
        user = member()
        for _ in range(3):
            assert auth.login(user.email, WRONG).status_code == 401

        throttled = auth.login(user.email, WRONG)

        assert throttled.status_code == 429
        assert 0 < int(throttled.headers["Retry-After"]) <= 15 * 60
        assert "Too many sign-in attempts" in throttled.get_data(as_text=True)

    def test_a_throttled_attempt_writes_a_login_throttled_audit_row(self, auth, db):
        user = member()
        for _ in range(4):
            auth.login(user.email, WRONG)

        [event] = audit(db, "login:throttled")
        assert event.target_email == user.email
        assert len(audit(db, "login:failure")) == 3  # the throttled attempt never reached the password check

    def test_the_right_password_is_throttled_too_once_the_limit_is_reached(self, auth, client, db):
        user = member()
        for _ in range(3):
            auth.login(user.email, WRONG)

        assert auth.login(user.email).status_code == 429
        assert client.get_cookie(COOKIE_NAME) is None
        assert audit(db, "login:success") == []

    def test_the_account_limit_follows_the_email_across_addresses_and_spellings(self, app, db):
        user = member(user__email="grace@example.com")
        for n in range(3):
            assert from_address(app, f"10.0.0.{n + 1}").login(user.email, WRONG).status_code == 401

        assert from_address(app, "10.0.0.9").login("  GRACE@example.com", WRONG).status_code == 429

    def test_other_accounts_are_not_throttled_by_one_accounts_failures(self, auth, db):
        victim, other = member(), member()
        for _ in range(4):
            auth.login(victim.email, WRONG)

        assert auth.login(other.email, WRONG).status_code == 401
        assert auth.login(other.email).status_code == 303

    def test_successful_sign_ins_do_not_count_toward_the_account_limit(self, auth, db):
        user = member()
        for _ in range(5):
            assert auth.login(user.email).status_code == 303

        for _ in range(3):
            assert auth.login(user.email, WRONG).status_code == 401
        assert auth.login(user.email, WRONG).status_code == 429


@pytest.mark.settings(login_limit_account="100 per minute", login_limit_address="3 per 15 minutes")
class TestPerAddressLimit:
    def test_failed_attempts_from_one_address_are_throttled_across_different_emails(self, app, db):
        browser = from_address(app, "198.51.100.7")
        for n in range(3):
            assert browser.login(f"someone{n}@example.com", WRONG).status_code == 401

        throttled = browser.login("yet-another@example.com", WRONG)

        assert throttled.status_code == 429
        assert int(throttled.headers["Retry-After"]) > 0
        assert len(audit(db, "login:throttled")) == 1

    def test_another_address_is_not_throttled(self, app, db):
        user = member()
        noisy = from_address(app, "198.51.100.7")
        for n in range(4):
            noisy.login(f"someone{n}@example.com", WRONG)

        assert from_address(app, "203.0.113.5").login(user.email).status_code == 303

    def test_successful_sign_ins_do_not_count_toward_the_address_limit(self, app, db):
        users = [member() for _ in range(5)]
        browser = from_address(app, "198.51.100.7")

        assert [browser.login(user.email).status_code for user in users] == [303] * 5


@pytest.mark.settings(login_limit_account="1 per 15 minutes", login_limit_address="100 per minute")
class TestThrottlingOddInput:
    @pytest.mark.parametrize("email", ["a\x00b@example.com", "\u00ff" * 400, "   "])
    def test_throttling_an_odd_email_is_a_429_not_a_500(self, auth, db, email):
        auth.login(email, WRONG)

        assert auth.login(email, WRONG).status_code == 429


@pytest.mark.settings(login_limit_account="3 per 15 minutes", login_limit_address="100 per minute")
class TestPasswordChange:
    """A stolen session must not be a place to guess the current password."""

    NEW = "a brand new passphrase 8812"

    def test_a_wrong_current_password_is_a_401_in_the_audit_log(self, auth, db):
        user = member()
        auth.login(user.email)

        response = auth.change_password(self.NEW, current=WRONG)

        assert response.status_code == 401 and "not right" in response.get_data(as_text=True)
        [failure] = audit(db, "password:change_failed")
        assert failure.target_email == user.email and failure.details["reason"] == "wrong_current_password"

    def test_wrong_current_passwords_spend_the_accounts_sign_in_budget(self, app, auth, db):
        user = member()
        auth.login(user.email)
        assert [auth.change_password(self.NEW, current=WRONG).status_code for _ in range(2)] == [401, 401]
        assert from_address(app, "198.51.100.9").login(user.email, WRONG).status_code == 401

        throttled = auth.change_password(self.NEW, current="the right one, at last, too late")

        assert throttled.status_code == 429
        [row] = audit(db, "login:throttled")
        assert row.target_email == user.email


@pytest.mark.settings(login_limit_account="1 per 15 minutes", login_limit_address="100 per minute")
def test_a_password_typed_into_the_email_field_never_reaches_the_audit_log(auth, db):
    assert auth.login("my secret passphrase", WRONG).status_code in (400, 401)
    assert auth.login("my secret passphrase", WRONG).status_code == 429
    assert [row.target_email for row in audit(db, "login:throttled")] == [None]


def test_starting_sso_sign_ins_is_bounded_per_client_address(app, db, client, monkeypatch):
    # Each start writes a pending request before anyone is known.
    from gateway import limits

    starts = int(limits.SSO_STARTS_PER_ADDRESS.limit(app.extensions["idgate.settings"]).split()[0])
    answers = [client.get("/saml/nowhere/login").status_code for _ in range(starts + 1)]
    assert set(answers[:starts]) == {404} and answers[starts] == 429
    assert from_address(app, "198.51.100.20").client.get("/saml/nowhere/login").status_code == 404


@pytest.mark.settings(login_limit_account="2 per 15 minutes", login_limit_address="100 per minute")
def test_other_spellings_of_one_address_share_its_budget(app, auth, db):
    user = member(user__email="zo\u00eb@b\u00fccher.example")  # NFC, Unicode domain
    assert auth.login("zoe\u0308@b\u00fccher.example", WRONG).status_code == 401  # NFD
    assert from_address(app, "198.51.100.30").login("Zo\u00eb@xn--bcher-kva.example", WRONG).status_code == 401
    assert from_address(app, "198.51.100.31").login(user.email, WRONG).status_code == 429


class TestBehindAProxy:
    """Behind a proxy every request comes from its address: the client's is in X-Forwarded-For."""

    def _sign_in_failure_ip(self, app, db, forwarded_for: str) -> str:
        user = member()
        browser = app.test_client()
        browser.environ_base["REMOTE_ADDR"] = "10.0.0.2"  # the proxy
        Auth(browser).login(user.email, WRONG, headers={"X-Forwarded-For": forwarded_for})
        return audit(db, "login:failure")[-1].ip

    @pytest.mark.settings(trusted_proxies=1)
    def test_with_a_trusted_proxy_the_client_address_is_audited_and_throttled(self, app, db):
        assert self._sign_in_failure_ip(app, db, "203.0.113.9") == "203.0.113.9"

    def test_by_default_a_client_cannot_choose_its_address(self, app, db):
        assert self._sign_in_failure_ip(app, db, "203.0.113.9") == "10.0.0.2"

    @pytest.mark.settings(trusted_proxies=1)
    def test_forms_behind_a_tls_proxy_need_no_referer(self, app, db):
        # The invitation page sends none (its URL is a secret); the CSRF token is the check.
        user = member()
        browser = app.test_client()
        response = Auth(browser).login(user.email, headers={"X-Forwarded-Proto": "https"})
        assert response.status_code == 303


def test_every_step_that_checks_a_secret_or_writes_before_anyone_is_known_is_throttled(app):
    # Declared at the views (gateway.limits.throttled): a renamed or rewritten view that lost its
    # declaration fails here, not silently in production.
    from gateway import limits

    declared = {endpoint: [t.name for t in found.throttles] for endpoint, found in app.extensions["idgate.throttles"].items()}
    # Every SCIM endpoint checks a bearer token: each token has its own budget (gateway.scim.views).
    scim_views = [rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("scim.")]
    assert scim_views and all(declared.pop(endpoint) == ["scim-token"] for endpoint in scim_views)
    assert declared == {
        "accounts.login": ["login-account", "login-address"],
        "accounts.change_password": ["login-account"],
        "invitations.redeem": ["login-account", "invite-address"],
        "sso.login": ["sso-start"],
        "sso.oidc_login": ["sso-start"],
        "mfa.verify": ["mfa-account"],
        "mfa.verify_passkey": ["mfa-account"],
        "accounts.passkey_sign_in_options": ["passkey-start"],
        "accounts.sign_in_with_passkey": ["login-address"],
        "accounts.forgot_password": ["reset-account", "reset-address"],
        "accounts.reset_link": ["login-address"],
        "accounts.reset_password": ["login-address"],
    }
    assert app.extensions["idgate.throttles"]["accounts.login"].throttles == (limits.SIGN_IN_PER_ACCOUNT,
                                                                              limits.SIGN_IN_PER_ADDRESS)
