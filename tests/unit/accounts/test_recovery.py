"""Forgot password: who gets a link, a link's life (one hour, once, until a newer one or another
password), and what using it does."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gateway.accounts import recovery, services
from gateway.accounts.models import PasswordReset
from gateway.accounts.recovery import Outcome, ResetLinkInvalid
from gateway.actor import Actor
from gateway.errors import BadRequest, PolicyViolation
from gateway.mail.models import OutboxMessage
from gateway.orgs.models import MemberStatus
from gateway.sessions import services as sessions
from tests.factories import MembershipFactory

NEW_PASSWORD = "quiet harbour lantern 2031 plum"


@pytest.fixture
def settings(app):
    return app.extensions["idgate.settings"]


@pytest.fixture
def ask(db, settings, clock):
    def ask(email):
        return recovery.request_link(db, email, actor=Actor(ip="198.51.100.4"), settings=settings, now=clock.now())
    return ask


@pytest.fixture
def use(db, app, settings, clock):
    def use(code, password=NEW_PASSWORD):
        return recovery.reset_password(db, code, new_password=password, passwords=app.extensions["idgate.passwords"],
                                       actor=Actor(), settings=settings, now=clock.now())
    return use


def _count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


class TestRequestLink:
    def test_a_password_account_gets_a_link_and_only_its_hash_is_kept(self, ask, db):
        MembershipFactory(user__email="ada@example.com")
        asked = ask("ADA@example.com")
        assert asked.outcome is Outcome.LINK_SENT
        stored = db.scalar(select(PasswordReset))
        assert stored.code_hash == recovery.hash_code(asked.code) and asked.code not in stored.code_hash
        [mail] = db.scalars(select(OutboxMessage))
        assert mail.recipient == "ada@example.com" and f"/password/reset/{asked.code}" in mail.body

    @pytest.mark.parametrize(("arrange", "outcome"), [
        (lambda: None, Outcome.NO_ACCOUNT),
        (lambda: MembershipFactory(user__email="ada@example.com", user__sso=True), Outcome.SSO_ONLY),
        (lambda: MembershipFactory(user__email="ada@example.com", inactive=True), Outcome.INACTIVE),
        (lambda: MembershipFactory(user__email="ada@example.com", user__sso=True, inactive=True), Outcome.INACTIVE),
    ])
    def test_no_link_for_anyone_else(self, ask, db, arrange, outcome):
        arrange()
        asked = ask("ada@example.com")
        assert asked.outcome is outcome and asked.code is None
        assert _count(db, PasswordReset) == 0
        assert _count(db, OutboxMessage) == (1 if outcome is Outcome.SSO_ONLY else 0)

    def test_a_newer_link_replaces_the_older(self, ask, db):
        MembershipFactory(user__email="ada@example.com")
        first, second = ask("ada@example.com"), ask("ada@example.com")
        [stored] = db.scalars(select(PasswordReset))
        assert stored.code_hash == recovery.hash_code(second.code) != recovery.hash_code(first.code)

    def test_not_an_address_is_refused(self, ask):
        with pytest.raises(BadRequest):
            ask("not an address")


class TestResetPassword:
    def test_sets_the_password_ends_every_session_and_uses_the_link_up(self, app, ask, db, use, settings, clock):
        membership = MembershipFactory(user__email="ada@example.com", user__temporary=True)
        sessions.start(db, membership.user_id, org_id=membership.org_id, amr="pwd", actor=Actor(), settings=settings,
                       now=clock.now())
        code = ask("ada@example.com").code
        user = use(code)
        assert app.extensions["idgate.passwords"].verify(user.password_hash, NEW_PASSWORD)
        assert not user.must_change_password and user.email_verified_at is not None
        assert sessions.count_active_for(db, user.id, now=clock.now()) == 0
        with pytest.raises(ResetLinkInvalid):
            use(code)

    def test_an_hour_later_the_link_is_dead(self, ask, clock, use):
        MembershipFactory(user__email="ada@example.com")
        code = ask("ada@example.com").code
        clock.advance(hours=1)
        with pytest.raises(ResetLinkInvalid):
            use(code)

    def test_a_policy_refusal_leaves_the_link_usable(self, ask, use):
        MembershipFactory(user__email="ada@example.com")
        code = ask("ada@example.com").code
        with pytest.raises(PolicyViolation) as refused:
            use(code, "short")
        assert refused.value.field == "new_password"
        use(code)

    def test_an_account_deactivated_since_cannot_use_it(self, ask, db, use):
        membership = MembershipFactory(user__email="ada@example.com")
        code = ask("ada@example.com").code
        membership.status = MemberStatus.INACTIVE
        db.flush()
        with pytest.raises(ResetLinkInvalid):
            use(code)

    @pytest.mark.parametrize("code", [None, "", "x", "a" * 129, "\x00"])
    def test_codes_that_are_none_of_ours(self, use, code):
        with pytest.raises(ResetLinkInvalid):
            use(code)


def test_a_password_change_ends_open_links(ask, db):
    membership = MembershipFactory(user__email="ada@example.com")
    ask("ada@example.com")
    assert services.withdraw_reset_links(db, membership.user_id) == 1
    assert _count(db, PasswordReset) == 0


def test_the_link_lives_an_hour():
    assert recovery.RESET_TTL == timedelta(hours=1)


def test_housekeeping_forgets_spent_links(ask, db, clock, use):
    MembershipFactory(user__email="ada@example.com")
    MembershipFactory(user__email="bob@example.com")
    use(ask("ada@example.com").code)
    ask("bob@example.com")
    assert recovery.forget_spent(db, before=clock.now()) == 0
    clock.advance(hours=2)
    assert recovery.forget_spent(db, before=clock.now()) == 2
