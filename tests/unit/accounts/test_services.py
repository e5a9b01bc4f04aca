"""Account rules: names, who may sign up, password sign-in and password changes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.accounts import services
from gateway.accounts.passwords import Passwords
from gateway.accounts.services import NoActiveMembership, SsoOnly
from gateway.actor import Actor
from gateway.audit.models import AuditEvent
from gateway.errors import BadRequest, InvalidCredentials, PolicyViolation
from gateway.orgs.services import membership_to_use
from gateway.sessions import services as sessions
from tests.conftest import STRONG_PASSWORD
from tests.factories import OrganizationFactory, UserFactory, member

NEW_PASSWORD = "quiet harbour lantern 2031 plum"


@pytest.fixture
def settings(app):
    return app.extensions["idgate.settings"]


@pytest.fixture
def passwords(app) -> Passwords:
    return app.extensions["idgate.passwords"]


@pytest.fixture
def actor() -> Actor:
    return Actor(ip="198.51.100.4", user_agent="pytest")


@pytest.fixture
def sign_in(db, passwords, actor, settings, clock):
    def sign_in(email, password=STRONG_PASSWORD):
        return services.sign_in_with_password(db, email=email, password=password, passwords=passwords,
                                              actor=actor, settings=settings, now=clock.now())
    return sign_in


@pytest.fixture
def change_password(db, passwords, actor, settings, clock):
    def change_password(signed_in, new_password, current_password=STRONG_PASSWORD):
        return services.change_password(db, user_id=signed_in.session.user_id, session_id=signed_in.session.id,
                                        current_password=current_password, new_password=new_password,
                                        passwords=passwords, actor=actor, settings=settings, now=clock.now())
    return change_password


@pytest.fixture
def resolve(db, settings, clock):
    def resolve(token):
        return sessions.resolve(db, token, settings=settings, now=clock.now())
    return resolve


def _events(db, action):
    return db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()


class TestValidateName:
    @pytest.mark.parametrize("name", ["Ada", "a" * 40, "Ada Lovelace", "Zoë Ōkubo-Ñúñez"])
    def test_accepts_3_to_40_characters(self, name):
        assert services.validate_name(name) == name

    @pytest.mark.parametrize("name", ["", None, "Al", "a" * 41, "   ", "  Al  "])
    def test_refuses_shorter_or_longer(self, name):
        with pytest.raises(BadRequest) as caught:
            services.validate_name(name)
        assert caught.value.code == "invalid_name"

    @pytest.mark.parametrize("given, kept", [
        ("  Ada   Lovelace ", "Ada Lovelace"),
        ("Ada\tLovelace\n", "Ada Lovelace"),
        ("a" * 20 + "     " + "b" * 19, "a" * 20 + " " + "b" * 19),  # 40 once collapsed
    ])
    def test_collapses_whitespace_before_counting(self, given, kept):
        assert services.validate_name(given) == kept

    @pytest.mark.parametrize("name", ["Ada\x00Lovelace", "Ada\x1b[31mLovelace", "Ada\x7f", "Ada\u200bLovelace",
                                      "Ada \u202eecalevoL"])
    def test_refuses_control_and_format_characters(self, name):
        with pytest.raises(BadRequest, match="control characters") as caught:
            services.validate_name(name)
        assert caught.value.code == "invalid_name"


class TestSignupIsOpen:
    def test_first_is_open_while_no_organization_exists(self, db, settings):
        assert settings.signup == "first"
        assert services.signup_is_open(db, settings) is True
        OrganizationFactory()
        assert services.signup_is_open(db, settings) is False

    @pytest.mark.settings(signup="open")
    def test_open_stays_open(self, db, settings):
        OrganizationFactory()
        assert services.signup_is_open(db, settings) is True

    @pytest.mark.settings(signup="closed")
    def test_closed_is_closed_even_on_an_empty_gateway(self, db, settings):
        assert services.signup_is_open(db, settings) is False


class TestSignInWithPassword:
    def test_starts_a_session_and_records_the_success(self, db, sign_in, resolve, clock):
        user = member()
        signed_in = sign_in(user.email)
        assert signed_in.restricted is False
        assert resolve(signed_in.token).user_id == user.id
        assert user.last_login_at == clock.now()
        [event] = _events(db, "login:success")
        assert (event.actor_id, event.target_id, event.ip) == (user.id, user.id, "198.51.100.4")

    def test_the_email_is_matched_in_its_normal_form(self, sign_in):
        user = member(user__email="ada@example.com")
        assert sign_in("  ADA@Example.com ").session.user_id == user.id

    def test_a_temporary_password_opens_a_restricted_session(self, sign_in):
        user = member(user__temporary=True)
        signed_in = sign_in(user.email)
        assert signed_in.restricted is True and signed_in.session.restricted is True

    def test_unknown_email_and_wrong_password_fail_alike(self, db, sign_in):
        user = member()
        with pytest.raises(InvalidCredentials) as unknown:
            sign_in("nobody@example.com")
        with pytest.raises(InvalidCredentials) as wrong:
            sign_in(user.email, "not the right password at all")
        assert str(unknown.value) == str(wrong.value) == InvalidCredentials.message
        assert unknown.value.code == wrong.value.code == "invalid_credentials"

    def test_an_unknown_email_is_audited(self, db, sign_in):
        with pytest.raises(InvalidCredentials):
            sign_in("Nobody@Example.com")
        [event] = _events(db, "login:failure")
        assert (event.target_id, event.target_email) == (None, "nobody@example.com")
        assert event.details["reason"] == "unknown_email"
        assert event.ip == "198.51.100.4"

    def test_a_wrong_password_is_audited_for_the_users_organization(self, db, sign_in, passwords):
        user = member()
        stored_hash = user.password_hash
        with pytest.raises(InvalidCredentials):
            sign_in(user.email, "not the right password at all")
        [event] = _events(db, "login:failure")
        assert (event.target_id, event.target_email) == (user.id, user.email)
        assert event.org_id == membership_to_use(db, user).org_id
        assert event.details["reason"] == "wrong_password"
        assert user.password_hash == stored_hash
        assert _events(db, "login:success") == []

    def test_an_invalid_email_is_simply_unknown(self, db, sign_in):
        with pytest.raises(InvalidCredentials):
            sign_in("not an email")
        [event] = _events(db, "login:failure")
        assert event.details["reason"] == "unknown_email"

    def test_rehashes_when_the_hashers_parameters_changed(self, sign_in, passwords):
        old_hasher = Passwords(time_cost=2, memory_cost=8, parallelism=1)
        user = member(user__password_hash=old_hasher.hash(STRONG_PASSWORD))
        old_hash = user.password_hash
        assert passwords.needs_rehash(old_hash)

        sign_in(user.email)

        assert user.password_hash != old_hash
        assert not passwords.needs_rehash(user.password_hash)
        assert passwords.verify(user.password_hash, STRONG_PASSWORD)

    def test_keeps_a_current_hash(self, sign_in):
        user = member()
        current = user.password_hash
        sign_in(user.email)
        assert user.password_hash == current

    def test_an_sso_only_user_is_sent_to_sso(self, db, sign_in):
        user = member(user__sso=True)
        assert user.password_hash is None
        with pytest.raises(SsoOnly) as caught:
            sign_in(user.email)
        assert caught.value.code == "sso_only"
        assert _events(db, "login:success") == []

    def test_without_an_active_membership_there_is_no_session(self, db, sign_in, clock):
        user = member(inactive=True)
        with pytest.raises(NoActiveMembership):
            sign_in(user.email)
        [event] = _events(db, "login:failure")
        assert (event.target_id, event.details["reason"]) == (user.id, "no_active_membership")
        assert sessions.count_active_for(db, user.id, now=clock.now()) == 0

    def test_a_user_with_no_membership_at_all_has_no_session(self, sign_in):
        user = UserFactory()
        with pytest.raises(NoActiveMembership):
            sign_in(user.email)


class TestChangePassword:
    def test_sets_the_new_password(self, db, sign_in, change_password, passwords):
        user = member()
        change_password(sign_in(user.email), NEW_PASSWORD)
        assert passwords.verify(user.password_hash, NEW_PASSWORD)
        assert not passwords.verify(user.password_hash, STRONG_PASSWORD)
        [event] = _events(db, "password:change")
        assert event.target_id == user.id

    def test_refuses_the_password_the_user_has_now(self, sign_in, change_password):
        user = member()
        current = user.password_hash
        with pytest.raises(PolicyViolation) as caught:
            change_password(sign_in(user.email), STRONG_PASSWORD)
        assert caught.value.problems == ["Choose a password different from the one you have now."]
        assert user.password_hash == current

    def test_refuses_a_wrong_current_password(self, sign_in, change_password):
        user = member()
        with pytest.raises(InvalidCredentials, match="current password"):
            change_password(sign_in(user.email), NEW_PASSWORD, current_password="a guess, not it")

    def test_refuses_a_new_password_that_breaks_the_policy(self, sign_in, change_password):
        user = member()
        with pytest.raises(PolicyViolation) as caught:
            change_password(sign_in(user.email), "short")
        assert caught.value.problems == ["Use at least 15 characters."]

    def test_ends_every_other_session_and_replaces_the_callers(self, db, sign_in, change_password, resolve,
                                                               clock):
        user = member()
        here, elsewhere = sign_in(user.email), sign_in(user.email)

        changed = change_password(here, NEW_PASSWORD)

        assert resolve(elsewhere.token) is None
        assert resolve(here.token) is None
        assert resolve(changed.token).user_id == user.id
        assert changed.session.org_id == here.session.org_id
        assert sessions.count_active_for(db, user.id, now=clock.now()) == 1

    def test_a_temporary_password_is_replaced_without_asking_for_it_again(self, db, sign_in,
                                                                          change_password):
        user = member(user__temporary=True)
        signed_in = sign_in(user.email)
        changed = change_password(signed_in, NEW_PASSWORD, current_password=None)
        assert changed.restricted is False and user.must_change_password is False
        assert [e.target_id for e in _events(db, "password:temporary_change")] == [user.id]
