"""Passkeys: registered with names on the security page, a second factor after the password, a
sign-in on their own with no email typed; every bad answer a clear 4xx that keeps nothing.

The browser's half is a software authenticator (tests/helpers/authenticator.py) answering the
options the gateway hands out, as passkeys.js does; the gateway is served at http://localhost.
"""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from gateway.audit.models import AuditEvent
from gateway.mfa.models import Passkey, RecoveryCode
from gateway.orgs.models import Organization
from gateway.sessions.cookies import COOKIE_NAME
from gateway.sessions.models import UserSession
from tests.conftest import Auth, csrf_token, csrf_token_in
from tests.factories import MembershipFactory
from tests.functional.mfa.conftest import CODES, enrol
from tests.helpers.authenticator import SoftwareAuthenticator, websafe_encode

pytestmark = pytest.mark.settings(base_url="http://localhost")


def options(client, path: str, page: str) -> dict:
    """The ceremony's options, fetched as passkeys.js does (the page's CSRF token in a header)."""
    answer = client.post(path, headers={"X-CSRFToken": csrf_token(client, page), "Accept": "application/json"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def add_passkey(client, authenticator, name: str = "Laptop", **answer):
    made = authenticator.create(options(client, "/account/security/passkeys/options", "/account/security"), **answer)
    return client.post("/account/security/passkeys", data={
        "csrf_token": csrf_token(client, "/account/security"), "credential": made, "name": name})


def second_step(client, authenticator, **answer):
    asked = options(client, "/login/verify/passkey/options", "/login/verify")
    return client.post("/login/verify/passkey", data={
        "csrf_token": csrf_token(client, "/login/verify"), "credential": authenticator.get(asked, **answer)})


def passkey_sign_in(client, authenticator, **answer):
    asked = options(client, "/login/passkey/options", "/login")
    return client.post("/login/passkey", data={
        "csrf_token": csrf_token(client, "/login"), "credential": authenticator.get(asked, **answer)})


def actions(db) -> list[str]:
    db.expire_all()
    return list(db.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def last_event(db, action: str) -> AuditEvent:
    db.expire_all()
    return db.scalar(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id.desc()))


def count(db, model) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model))


@pytest.fixture
def authenticator() -> SoftwareAuthenticator:
    return SoftwareAuthenticator(origin="http://localhost")


@pytest.fixture
def with_passkey(member, auth, client, authenticator):
    """A member who added a passkey (and signed out): the membership."""
    auth.login(member.user.email)
    assert add_passkey(client, authenticator).status_code == 200
    auth.logout()
    return member


class TestAdding:
    def test_the_first_passkey_brings_recovery_codes_and_the_session_says_it_was_used(
            self, member, auth, client, authenticator, db):
        auth.login(member.user.email)

        added = add_passkey(client, authenticator, name="Laptop")

        assert added.status_code == 200 and "The passkey is added" in added.get_data(as_text=True)
        assert len(CODES.search(added.get_data(as_text=True)).group(1).split()) == 10
        assert client.get("/auth/verify").headers["X-Auth-Amr"] == "pwd hwk mfa"
        passkey = db.scalar(select(Passkey))
        assert (passkey.name, passkey.discoverable, passkey.transports) == ("Laptop", True, "internal hybrid")
        assert last_event(db, "mfa:passkey_add").details["name"] == "Laptop"

    def test_several_passkeys_are_listed_by_name_with_when_each_was_last_used(
            self, member, auth, client, authenticator, db):
        auth.login(member.user.email)
        add_passkey(client, authenticator, name="Laptop")

        second = add_passkey(client, SoftwareAuthenticator(origin="http://localhost"), name="Security key")

        assert "recovery-codes" not in second.get_data(as_text=True)  # the account had codes already
        page = client.get("/account/security").get_data(as_text=True)
        assert "<td>Laptop</td>" in page and "<td>Security key</td>" in page and page.count("<td>Never</td>") == 2
        assert count(db, RecoveryCode) == 10

    def test_the_options_exclude_the_accounts_passkeys_and_ask_whether_it_is_discoverable(
            self, member, auth, client, authenticator, db):
        auth.login(member.user.email)
        add_passkey(client, authenticator)

        asked = options(client, "/account/security/passkeys/options", "/account/security")

        assert asked["rp"] == {"id": "localhost", "name": "idgate"}
        assert [c["id"] for c in asked["excludeCredentials"]] == [websafe_encode(authenticator.credentials[0].id)]
        assert asked["extensions"] == {"credProps": True}
        assert asked["authenticatorSelection"]["residentKey"] == "preferred"
        assert member.user.email not in json.dumps(asked["user"]["id"])  # the handle is random, not the email

    def test_a_passkey_made_for_another_site_is_refused_and_nothing_is_kept(self, member, auth, client, db):
        auth.login(member.user.email)

        wrong_origin = add_passkey(client, SoftwareAuthenticator(origin="https://evil.example"))
        wrong_rp_id = add_passkey(client, SoftwareAuthenticator(origin="http://localhost", rp_id="evil.example"))

        assert wrong_origin.status_code == 400 and wrong_rp_id.status_code == 400
        assert "not made for this site" in wrong_origin.get_data(as_text=True)
        assert count(db, Passkey) == 0 and count(db, RecoveryCode) == 0

    @pytest.mark.parametrize("answer", ["{not json", "{}", json.dumps({"id": "x", "rawId": "x", "type": "public-key",
                                                                      "response": {"clientDataJSON": "e30"}}), "x" * 10000])
    def test_a_malformed_answer_is_a_400_that_keeps_nothing(self, member, auth, client, db, answer):
        auth.login(member.user.email)
        options(client, "/account/security/passkeys/options", "/account/security")

        refused = client.post("/account/security/passkeys", data={
            "csrf_token": csrf_token(client, "/account/security"), "credential": answer, "name": "Laptop"})

        assert refused.status_code == 400
        assert count(db, Passkey) == 0 and "mfa:passkey_add" not in actions(db)

    def test_a_replayed_registration_is_refused(self, member, auth, client, authenticator, db):
        auth.login(member.user.email)
        made = authenticator.create(options(client, "/account/security/passkeys/options", "/account/security"))
        form = {"csrf_token": csrf_token(client, "/account/security"), "credential": made, "name": "Laptop"}
        assert client.post("/account/security/passkeys", data=form).status_code == 200

        replayed = client.post("/account/security/passkeys", data={**form, "csrf_token": csrf_token(
            client, "/account/security")})

        assert replayed.status_code == 400 and "expired or was answered already" in replayed.get_data(as_text=True)
        assert count(db, Passkey) == 1

    def test_a_challenge_lasts_two_minutes(self, member, auth, client, authenticator, clock, db):
        auth.login(member.user.email)
        made = authenticator.create(options(client, "/account/security/passkeys/options", "/account/security"))
        clock.advance(seconds=121)

        late = client.post("/account/security/passkeys", data={
            "csrf_token": csrf_token(client, "/account/security"), "credential": made, "name": "Laptop"})

        assert late.status_code == 400 and count(db, Passkey) == 0

    def test_a_member_whose_organization_requires_a_factor_may_add_a_passkey_as_it(
            self, member, auth, client, authenticator, db):
        db.get(Organization, member.org_id).mfa_required = True
        db.flush()
        auth.login(member.user.email)
        assert client.get("/auth/verify").status_code == 401

        added = add_passkey(client, authenticator)

        assert added.status_code == 200 and client.get("/auth/verify").status_code == 200


class TestSecondStep:
    def test_the_password_is_followed_by_the_passkey(self, with_passkey, auth, client, authenticator, db):
        signed_in = auth.login(with_passkey.user.email)
        answer = signed_in.get_data(as_text=True)  # the second step's page is the answer to the password
        assert signed_in.status_code == 200 and "Use a passkey" in answer and 'name="code"' in answer
        page = client.get("/login/verify").get_data(as_text=True)  # and a reload opens it there
        assert "Use a passkey" in page and 'name="code"' in page  # a recovery code still works

        passed = second_step(client, authenticator)

        assert passed.status_code == 303 and passed.headers["Location"] == "/account"
        assert client.get("/auth/verify").headers["X-Auth-Amr"] == "pwd hwk mfa"
        assert last_event(db, "mfa:success").details == {"method": "passkey"}
        assert db.scalar(select(Passkey.last_used_at)) is not None

    def test_the_options_list_only_the_accounts_passkeys(self, with_passkey, auth, client, authenticator):
        auth.login(with_passkey.user.email)

        asked = options(client, "/login/verify/passkey/options", "/login/verify")

        assert [c["id"] for c in asked["allowCredentials"]] == [websafe_encode(authenticator.credentials[0].id)]

    def test_another_accounts_passkey_is_refused(self, with_passkey, auth, client, db):
        stranger = MembershipFactory()
        db.flush()
        theirs = SoftwareAuthenticator(origin="http://localhost")
        other = client.application.test_client()
        Auth(other).login(stranger.user.email)
        add_passkey(other, theirs)
        auth.login(with_passkey.user.email)
        asked = options(client, "/login/verify/passkey/options", "/login/verify")

        refused = client.post("/login/verify/passkey", data={
            "csrf_token": csrf_token(client, "/login/verify"),
            "credential": theirs.get(asked, credential=theirs.credentials[0])})

        assert refused.status_code == 401
        assert last_event(db, "mfa:failure").details == {"method": "passkey", "reason": "unknown_passkey"}
        assert client.get("/auth/verify").status_code == 401

    @pytest.mark.parametrize("answer, reason", [({"origin": "https://evil.example"}, "wrong_origin"),
                                                ({"rp_id": "evil.example"}, "wrong_rp_id")])
    def test_an_answer_for_another_site_is_refused_and_audited(self, with_passkey, auth, client, authenticator, db,
                                                               answer, reason):
        auth.login(with_passkey.user.email)

        refused = second_step(client, authenticator, **answer)

        assert refused.status_code == 401 and "not accepted" in refused.get_data(as_text=True)
        assert last_event(db, "mfa:failure").details == {"method": "passkey", "reason": reason}
        assert client.get("/auth/verify").status_code == 401

    def test_a_replayed_answer_is_refused(self, with_passkey, auth, client, authenticator, db):
        auth.login(with_passkey.user.email)
        asked = options(client, "/login/verify/passkey/options", "/login/verify")
        answer = authenticator.get(asked)
        assert client.post("/login/verify/passkey", data={"csrf_token": csrf_token(client, "/login/verify"),
                                                          "credential": answer}).status_code == 303
        sessions = count(db, UserSession)
        # The same answer again, in a new sign-in (its session would ask for that challenge, were it live).
        auth.logout()
        auth.login(with_passkey.user.email)

        replayed = client.post("/login/verify/passkey", data={"csrf_token": csrf_token(client, "/login/verify"),
                                                              "credential": answer})

        assert replayed.status_code == 400 and client.get("/auth/verify").status_code == 401
        assert count(db, UserSession) == sessions + 1  # the new sign-in's, nothing more

    def test_a_sign_in_challenge_does_not_pass_a_second_step(self, with_passkey, auth, client, authenticator):
        anonymous = client.application.test_client()
        asked = options(anonymous, "/login/passkey/options", "/login")
        auth.login(with_passkey.user.email)

        refused = client.post("/login/verify/passkey", data={"csrf_token": csrf_token(client, "/login/verify"),
                                                             "credential": authenticator.get(asked)})

        assert refused.status_code == 400 and client.get("/auth/verify").status_code == 401

    def test_a_counter_that_goes_backwards_refuses_the_key_and_tells_the_admins(
            self, with_passkey, auth, client, authenticator, db):
        auth.login(with_passkey.user.email)
        assert second_step(client, authenticator, counter=7).status_code == 303
        auth.logout()
        auth.login(with_passkey.user.email)

        copied = second_step(client, authenticator, counter=3)

        assert copied.status_code == 401 and "sign counter lower" in copied.get_data(as_text=True)
        event = last_event(db, "mfa:passkey_counter_went_back")
        assert (event.org_id, event.target_email) == (with_passkey.org_id, with_passkey.user.email)
        db.expire_all()
        assert db.scalar(select(Passkey.refused_at)) is not None
        # From then on the passkey is refused, whatever its counter says; the account still has a factor.
        assert second_step(client, authenticator, counter=100).status_code == 401
        assert client.get("/auth/verify").status_code == 401

    def test_wrong_answers_spend_the_accounts_second_factor_budget(self, with_passkey, auth, client, authenticator,
                                                                   db):
        auth.login(with_passkey.user.email)

        answers = [second_step(client, authenticator, origin="https://evil.example").status_code for _ in range(6)]

        assert answers == [401] * 5 + [429]


class TestSignInWithAPasskeyAlone:
    def test_a_discoverable_passkey_with_user_verification_signs_in_with_no_email(
            self, with_passkey, client, authenticator, db):
        page = client.get("/login").get_data(as_text=True)
        assert "Sign in with a passkey" in page and 'data-options="/login/passkey/options"' in page

        signed_in = passkey_sign_in(client, authenticator)

        assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/account"
        verify = client.get("/auth/verify")
        assert verify.status_code == 200 and verify.headers["X-Auth-Amr"] == "hwk user mfa"
        assert last_event(db, "login:success").details["method"] == "passkey"

    def test_the_options_list_no_passkeys_and_require_user_verification(self, client):
        asked = options(client, "/login/passkey/options", "/login")

        assert asked["rpId"] == "localhost" and asked["allowCredentials"] == []
        assert asked["userVerification"] == "required"

    def test_without_user_verification_it_is_no_sign_in(self, with_passkey, client, authenticator, db):
        authenticator.user_verification = False

        refused = passkey_sign_in(client, authenticator)

        assert refused.status_code == 401 and client.get_cookie(COOKIE_NAME) is None
        event = last_event(db, "login:failure")
        assert event.details == {"reason": "passkey_refused", "check": "no_user_verification"}
        assert event.target_email == with_passkey.user.email

    def test_an_unknown_passkey_is_refused(self, client, db):
        stranger = SoftwareAuthenticator(origin="http://localhost")
        asked = options(client, "/login/passkey/options", "/login")
        stranger.create({"rp": {"id": "localhost"}, "user": {"id": "AAAA"}, "challenge": asked["challenge"]})

        refused = passkey_sign_in(client, stranger)

        assert refused.status_code == 401 and client.get_cookie(COOKIE_NAME) is None

    def test_a_replayed_sign_in_is_refused(self, with_passkey, client, authenticator, db):
        asked = options(client, "/login/passkey/options", "/login")
        answer = authenticator.get(asked)
        form = {"csrf_token": csrf_token(client, "/login"), "credential": answer}
        assert client.post("/login/passkey", data=form).status_code == 303
        stolen = client.application.test_client()

        replayed = stolen.post("/login/passkey", data={**form, "csrf_token": csrf_token(stolen, "/login")})

        assert replayed.status_code == 400 and stolen.get_cookie(COOKIE_NAME) is None
        assert "expired or was answered already" in replayed.get_data(as_text=True)

    def test_malformed_answers_are_a_400(self, client, db):
        for answer in ["", "[]", "{\"id\": 1}", "null"]:
            refused = client.post("/login/passkey", data={"csrf_token": csrf_token(client, "/login"),
                                                          "credential": answer})
            assert refused.status_code == 400
        assert client.get_cookie(COOKIE_NAME) is None

    def test_an_account_that_owes_a_temporary_passwords_change_signs_in_with_it_first(
            self, with_passkey, client, authenticator, db):
        db.get(type(with_passkey.user), with_passkey.user_id).must_change_password = True
        db.flush()

        refused = passkey_sign_in(client, authenticator)

        assert refused.status_code == 403 and client.get_cookie(COOKIE_NAME) is None

    @pytest.mark.settings(login_limit_address="3 per minute")
    def test_refused_passkeys_spend_the_addresss_sign_in_budget(self, with_passkey, client, authenticator, db):
        authenticator.user_verification = False

        answers = [passkey_sign_in(client, authenticator).status_code for _ in range(3)]
        authenticator.user_verification = True

        assert answers == [401] * 3
        asked = options(client, "/login/passkey/options", "/login")
        throttled = client.post("/login/passkey", data={"csrf_token": csrf_token(client, "/login"),
                                                        "credential": authenticator.get(asked)})
        assert throttled.status_code == 429 and "login:throttled" in actions(db)


class TestRemoving:
    def test_a_passkey_is_removed_and_with_the_last_factor_the_recovery_codes_go(
            self, member, auth, client, authenticator, db):
        auth.login(member.user.email)
        add_passkey(client, authenticator)
        page = client.get("/account/security").get_data(as_text=True)
        [action] = re.findall(r'action="(/account/security/passkeys/\d+/remove)"', page)

        removed = client.post(action, data={"csrf_token": csrf_token_in(page)})

        assert removed.status_code == 303
        assert count(db, Passkey) == 0 and count(db, RecoveryCode) == 0
        assert last_event(db, "mfa:passkey_remove").details["name"] == "Laptop"

    def test_another_accounts_passkey_cannot_be_removed(self, with_passkey, client, db):
        stranger = MembershipFactory()
        db.flush()
        Auth(client).login(stranger.user.email)
        passkey_id = db.scalar(select(Passkey.id))

        refused = client.post(f"/account/security/passkeys/{passkey_id}/remove",
                              data={"csrf_token": csrf_token(client, "/account/security")})

        assert refused.status_code == 404 and count(db, Passkey) == 1

    def test_the_last_factor_stays_while_an_organization_requires_one(self, member, auth, client, authenticator,
                                                                       clock, db):
        db.get(Organization, member.org_id).mfa_required = True
        db.flush()
        auth.login(member.user.email)
        add_passkey(client, authenticator)
        passkey_id = db.scalar(select(Passkey.id))
        remove = f"/account/security/passkeys/{passkey_id}/remove"

        refused = client.post(remove, data={"csrf_token": csrf_token(client, "/account/security")})
        enrol(client, clock)  # an authenticator app beside it: now the passkey may go
        allowed = client.post(remove, data={"csrf_token": csrf_token(client, "/account/security")})

        assert (refused.status_code, allowed.status_code) == (403, 303)
        assert count(db, Passkey) == 0 and count(db, RecoveryCode) == 10

    def test_an_admin_reset_removes_passkeys_too(self, signed_in_admin, client, db):
        member = MembershipFactory(org=signed_in_admin.org)
        db.flush()
        other = client.application.test_client()
        Auth(other).login(member.user.email)
        add_passkey(other, SoftwareAuthenticator(origin="http://localhost"))
        team = client.get("/admin/users").get_data(as_text=True)
        page = client.get(f"/admin/users/{member.user_id}").get_data(as_text=True)
        assert "<td>Passkey</td>" in team and "1 passkey (10 recovery codes left)" in page

        client.post(f"/admin/users/{member.user_id}/reset-mfa", data={"csrf_token": csrf_token_in(page)})

        assert count(db, Passkey) == 0
        assert last_event(db, "user:mfa_reset").details["passkeys_removed"] == 1


def browser_at(app, origin: str):
    """A test client whose every request goes to `origin` (its Host), as a browser's address bar says."""
    client = app.test_client()
    open_ = client.open
    client.open = lambda *args, **kw: open_(*args, **{"base_url": origin, **kw})
    return client


@pytest.mark.settings(base_url="http://127.0.0.1:5000")
class TestOnTheDefaultLoopbackAddress:
    """An IP address is no rpId: a gateway at 127.0.0.1 keeps its passkeys under `localhost`, and its
    pages offer them where they were opened at http://localhost:5000."""

    def test_pages_at_the_ip_address_point_to_localhost(self, app, member):
        browser = browser_at(app, "http://127.0.0.1:5000")
        login = browser.get("/login").get_data(as_text=True)
        Auth(browser).login(member.user.email)
        security = browser.get("/account/security").get_data(as_text=True)

        assert "Sign in with a passkey" not in login and 'href="http://localhost:5000/login"' in login
        assert 'data-passkey="register"' not in security
        assert 'href="http://localhost:5000/account/security"' in security

    def test_passkeys_work_at_localhost(self, app, member, db):
        browser = browser_at(app, "http://localhost:5000")
        authenticator = SoftwareAuthenticator(origin="http://localhost:5000")
        Auth(browser).login(member.user.email)
        assert 'data-passkey="register"' in browser.get("/account/security").get_data(as_text=True)
        assert add_passkey(browser, authenticator).status_code == 200
        Auth(browser).logout()

        assert "Sign in with a passkey" in browser.get("/login").get_data(as_text=True)
        assert passkey_sign_in(browser, authenticator).status_code == 303
        assert browser.get("/auth/verify").headers["X-Auth-Amr"] == "hwk user mfa"

    def test_an_answer_from_the_ip_address_is_refused(self, app, member, db):
        browser = browser_at(app, "http://localhost:5000")
        Auth(browser).login(member.user.email)

        refused = add_passkey(browser, SoftwareAuthenticator(origin="http://127.0.0.1:5000"))

        assert refused.status_code == 400 and count(db, Passkey) == 0
