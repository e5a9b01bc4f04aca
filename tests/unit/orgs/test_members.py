"""Admins adding people with a temporary password, and resetting passwords."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gateway.accounts import services as accounts
from gateway.accounts.models import User
from gateway.actor import Actor
from gateway.audit.models import AuditEvent
from gateway.errors import BadRequest, Conflict, NotFound
from gateway.orgs import members
from gateway.orgs.access import AdminScope
from gateway.orgs.models import Membership, Role
from gateway.orgs.services import AlreadyMember
from gateway.sessions import services as sessions
from tests.conftest import STRONG_PASSWORD
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory


@pytest.fixture
def org(db):
    return OrganizationFactory()


@pytest.fixture
def admin(db, org):
    return MembershipFactory(org=org, admin=True)


@pytest.fixture
def scope(org, admin):
    actor = Actor(user_id=admin.user_id, email=admin.user.email, org_id=org.id)
    return AdminScope(org.id, org.slug, org.name, actor)


@pytest.fixture
def passwords(app):
    return app.extensions["idgate.passwords"]


@pytest.fixture
def create(db, scope, passwords, clock):
    def create(email="new@example.com", name="New Person", role="user"):
        return members.create_member(db, scope, email=email, name=name, role=role,
                                     passwords=passwords, now=clock.now())
    return create


@pytest.fixture
def reset(db, scope, passwords, clock):
    def reset(user_id):
        return members.reset_password(db, scope, user_id, passwords=passwords,
                                      now=clock.now())
    return reset


@pytest.fixture
def start_session(db, app, clock, passwords):
    """A password sign-in of `membership`'s user; returns the session's token."""
    def start_session(membership):
        return accounts.sign_in_with_password(
            db, email=membership.user.email, password=STRONG_PASSWORD,
            passwords=passwords, actor=Actor(),
            settings=app.extensions["idgate.settings"], now=clock.now()).token
    return start_session


def _events(db, action):
    return db.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def _users(db) -> int:
    return db.scalar(select(func.count()).select_from(User))


class TestCreateMember:
    def test_creates_the_account_here_with_a_temporary_password(self, db, org, create,
                                                                passwords):
        user, temporary = create(email=" New@Example.COM ", role="admin")
        assert user.email == "new@example.com" and user.last_org_id == org.id
        assert user.must_change_password is True
        assert passwords.verify(user.password_hash, temporary)
        assert temporary not in user.password_hash
        membership = db.scalar(select(Membership).where(Membership.user_id == user.id))
        assert (membership.org_id, membership.role) == (org.id, Role.ADMIN)

    def test_each_account_gets_its_own_temporary_password(self, create):
        _, first = create(email="one@example.com")
        _, second = create(email="two@example.com")
        assert first != second

    def test_records_the_creation_with_the_role(self, db, scope, create):
        user, _ = create()
        [event] = _events(db, "user:create")
        assert (event.org_id, event.actor_id) == (scope.org_id, scope.actor.user_id)
        assert (event.target_id, event.target_email) == (user.id, "new@example.com")
        assert event.details == {"role": "user"}

    def test_refuses_a_member_of_this_organization(self, db, org, create):
        MembershipFactory(org=org, user__email="taken@example.com", inactive=True)
        users = _users(db)
        with pytest.raises(AlreadyMember) as refused:
            create(email="TAKEN@example.com")
        assert refused.value.code == "already_member"
        assert _users(db) == users and _events(db, "user:create") == []

    def test_refuses_an_address_with_an_account_elsewhere(self, db, org, create,
                                                          passwords):
        elsewhere = MembershipFactory(user__email="known@example.com")
        with pytest.raises(Conflict) as refused:
            create(email="known@example.com")
        assert (refused.value.code, refused.value.field) == ("email_taken", "email")
        assert passwords.verify(elsewhere.user.password_hash, STRONG_PASSWORD)
        assert elsewhere.user.must_change_password is False
        assert db.scalar(select(Membership).where(
            Membership.org_id == org.id,
            Membership.user_id == elsewhere.user_id)) is None

    @pytest.mark.parametrize("given, code, field", [
        ({"role": "owner"}, "unknown_role", "role"),
        ({"name": "Al"}, "invalid_name", "name"),
        ({"email": "not an email"}, "invalid_email", "email"),
    ])
    def test_refuses_bad_input_naming_the_field(self, db, create, given, code, field):
        users = _users(db)
        with pytest.raises(BadRequest) as refused:
            create(**given)
        assert (refused.value.code, refused.value.field) == (code, field)
        assert _users(db) == users and _events(db, "user:create") == []


class TestResetPassword:
    def test_replaces_the_password_with_a_temporary_one(self, org, reset, passwords):
        member = MembershipFactory(org=org)
        temporary = reset(member.user_id)
        assert passwords.verify(member.user.password_hash, temporary)
        assert not passwords.verify(member.user.password_hash, STRONG_PASSWORD)
        assert member.user.must_change_password is True

    def test_ends_every_session_of_the_member(self, db, app, org, clock, reset,
                                              start_session):
        member = MembershipFactory(org=org)
        tokens = [start_session(member), start_session(member)]
        reset(member.user_id)
        settings = app.extensions["idgate.settings"]
        assert [sessions.resolve(db, token, settings=settings, now=clock.now())
                for token in tokens] == [None, None]

    def test_records_the_reset_with_the_sessions_it_ended(self, db, scope, org, reset,
                                                          start_session):
        member = MembershipFactory(org=org)
        start_session(member)
        reset(member.user_id)
        [event] = _events(db, "user:password_reset")
        assert (event.actor_id, event.target_id) == (scope.actor.user_id,
                                                     member.user_id)
        assert event.details == {"sessions_ended": 1}

    def test_counts_only_the_sessions_that_were_still_live(self, db, app, org, clock,
                                                           reset, start_session):
        member = MembershipFactory(org=org)
        start_session(member)
        clock.advance(seconds=app.extensions["idgate.settings"]
                      .session_lifetime.total_seconds())
        start_session(member)
        reset(member.user_id)
        [event] = _events(db, "user:password_reset")
        assert event.details == {"sessions_ended": 1}

    def test_makes_an_open_confirmation_page_stale(self, org, reset):
        member = MembershipFactory(org=org)
        shown = member.version
        reset(member.user_id)
        assert member.version == shown + 1

    def test_refuses_an_sso_only_member(self, db, org, reset):
        member = MembershipFactory(org=org, user__sso=True)
        with pytest.raises(BadRequest) as refused:
            reset(member.user_id)
        assert refused.value.code == "sso_only"
        assert member.user.password_hash is None
        assert _events(db, "user:password_reset") == []

    def test_refuses_your_own_password(self, db, admin, reset):
        with pytest.raises(BadRequest) as refused:
            reset(admin.user_id)
        assert refused.value.code == "self_reset"
        assert admin.user.must_change_password is False

    @pytest.mark.parametrize("standing_elsewhere", ["active", "inactive"])
    def test_refuses_a_member_who_also_belongs_elsewhere(
            self, db, app, org, clock, reset, start_session, passwords,
            standing_elsewhere):
        member = MembershipFactory(org=org)
        MembershipFactory(user=member.user, inactive=standing_elsewhere == "inactive")
        token = start_session(member)
        with pytest.raises(Conflict) as refused:
            reset(member.user_id)
        assert refused.value.code == "member_elsewhere"
        assert passwords.verify(member.user.password_hash, STRONG_PASSWORD)
        assert member.user.must_change_password is False
        assert sessions.resolve(db, token, settings=app.extensions["idgate.settings"],
                                now=clock.now()) is not None
        assert _events(db, "user:password_reset") == []

    def test_refuses_someone_who_is_not_a_member_here(self, db, reset):
        stranger = MembershipFactory()
        password_hash = stranger.user.password_hash
        with pytest.raises(NotFound) as refused:
            reset(stranger.user_id)
        assert refused.value.code == "unknown_member"
        assert stranger.user.password_hash == password_hash

    def test_an_account_with_no_membership_at_all_is_not_found(self, reset):
        with pytest.raises(NotFound):
            reset(UserFactory().id)
