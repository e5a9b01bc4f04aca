"""The rules that guard a member's standing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gateway.accounts.models import User
from gateway.actor import Actor
from gateway.audit.models import AuditEvent
from gateway.errors import BadRequest, NotFound
from gateway.orgs import lifecycle
from gateway.orgs.access import AdminScope
from gateway.orgs.lifecycle import LastAdmin, SelfDeactivation, StaleConfirmation, UserHasSessions
from gateway.orgs.models import MemberStatus, Membership, Role
from gateway.sessions import services as sessions
from tests.factories import MembershipFactory, OrganizationFactory


@pytest.fixture
def org(db):
    return OrganizationFactory()


@pytest.fixture
def admin(db, org):
    return MembershipFactory(org=org, admin=True)


@pytest.fixture
def scope(org, admin):
    return AdminScope(org.id, org.slug, org.name, Actor(user_id=admin.user_id, email=admin.user.email))


def _sign_in(db, app, clock, membership):
    return sessions.start(db, membership.user_id, org_id=membership.org_id, amr="pwd", actor=Actor(),
                          settings=app.extensions["idgate.settings"], now=clock.now())


def _events(db, action):
    return db.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


class TestChangeRole:
    def test_promotes_and_demotes_with_an_audit_event(self, db, scope, org, clock):
        member = MembershipFactory(org=org)
        lifecycle.change_role(db, scope, member.user_id, "admin", now=clock.now())
        assert member.role == Role.ADMIN
        lifecycle.change_role(db, scope, member.user_id, "user", now=clock.now())
        assert member.role == Role.USER
        assert [e.details["new_role"] for e in _events(db, "member:role_change")] == ["admin", "user"]

    def test_refuses_to_demote_the_last_active_admin(self, db, scope, admin, clock):
        with pytest.raises(LastAdmin):
            lifecycle.change_role(db, scope, admin.user_id, "user", now=clock.now())
        assert admin.role == Role.ADMIN

    def test_an_inactive_admin_does_not_count_as_another_admin(self, db, scope, org, admin, clock):
        MembershipFactory(org=org, admin=True, inactive=True)
        with pytest.raises(LastAdmin):
            lifecycle.change_role(db, scope, admin.user_id, "user", now=clock.now())

    def test_allows_demoting_an_admin_when_another_is_active(self, db, scope, org, admin, clock):
        MembershipFactory(org=org, admin=True)
        lifecycle.change_role(db, scope, admin.user_id, "user", now=clock.now())
        assert admin.role == Role.USER

    @pytest.mark.parametrize("role", ["owner", "", None, "ADMIN "])
    def test_unknown_roles_are_refused(self, db, scope, org, clock, role):
        member = MembershipFactory(org=org)
        if role == "ADMIN ":
            lifecycle.change_role(db, scope, member.user_id, role, now=clock.now())
            assert member.role == Role.ADMIN
            return
        with pytest.raises(BadRequest) as error:
            lifecycle.change_role(db, scope, member.user_id, role, now=clock.now())
        assert error.value.code == "unknown_role"

    def test_members_of_other_organizations_are_not_found(self, db, scope, clock):
        stranger = MembershipFactory()
        with pytest.raises(NotFound):
            lifecycle.change_role(db, scope, stranger.user_id, "admin", now=clock.now())


class TestDeactivate:
    def test_ends_the_members_sessions_for_this_organization(self, db, app, clock, scope, org):
        member = MembershipFactory(org=org)
        token, _ = _sign_in(db, app, clock, member)
        assert lifecycle.deactivate(db, scope, member.user_id, now=clock.now()) == 1
        assert member.status == MemberStatus.INACTIVE
        assert sessions.resolve(db, token, settings=app.extensions["idgate.settings"], now=clock.now()) is None
        [event] = _events(db, "user:deactivate")
        assert event.details == {"sessions_ended": 1} and event.target_email == member.user.email

    def test_refuses_to_deactivate_yourself(self, db, scope, admin, org, clock):
        MembershipFactory(org=org, admin=True)
        with pytest.raises(SelfDeactivation):
            lifecycle.deactivate(db, scope, admin.user_id, now=clock.now())

    def test_last_admin_cannot_be_deactivated_by_a_former_admin(self, db, org, admin, clock):
        # An actor whose own membership is not an active admin (e.g. just demoted) still cannot
        # remove the only active admin.
        bystander = MembershipFactory(org=org)
        scope = AdminScope(org.id, org.slug, org.name, Actor(user_id=bystander.user_id))
        with pytest.raises(LastAdmin):
            lifecycle.deactivate(db, scope, admin.user_id, now=clock.now())

    def test_reactivate_restores_access_with_the_same_password(self, db, scope, org, clock):
        member = MembershipFactory(org=org, inactive=True)
        password_hash = member.user.password_hash
        lifecycle.reactivate(db, scope, member.user_id, now=clock.now())
        assert member.status == MemberStatus.ACTIVE
        assert member.user.password_hash == password_hash
        assert len(_events(db, "user:reactivate")) == 1


class TestDelete:
    def test_refuses_while_the_member_is_signed_in(self, db, app, clock, scope, org):
        member = MembershipFactory(org=org)
        _sign_in(db, app, clock, member)
        with pytest.raises(UserHasSessions) as error:
            lifecycle.delete(db, scope, member.user_id, now=clock.now())
        assert "Deactivate them first" in error.value.message

    def test_removes_the_account_when_nothing_else_holds_it(self, db, scope, org, clock):
        member = MembershipFactory(org=org)
        user_id, email = member.user_id, member.user.email
        assert lifecycle.delete(db, scope, user_id, now=clock.now()) is True
        db.expire_all()
        assert db.get(User, user_id) is None
        [event] = _events(db, "user:delete")
        assert event.target_email == email and event.target_id == user_id

    def test_keeps_the_account_that_belongs_to_another_organization(self, db, scope, org, clock):
        member = MembershipFactory(org=org)
        MembershipFactory(user=member.user)
        assert lifecycle.delete(db, scope, member.user_id, now=clock.now()) is False
        db.expire_all()
        assert db.get(User, member.user_id) is not None
        assert db.scalar(select(func.count()).select_from(Membership)
                         .where(Membership.user_id == member.user_id)) == 1

    def test_refuses_a_stale_confirmation(self, db, scope, org, clock):
        member = MembershipFactory(org=org)
        shown_version = member.version
        lifecycle.change_role(db, scope, member.user_id, "admin", now=clock.now())
        with pytest.raises(StaleConfirmation):
            lifecycle.delete(db, scope, member.user_id, expected_version=shown_version, now=clock.now())

    def test_refuses_the_last_active_admin(self, db, org, admin, clock):
        bystander = MembershipFactory(org=org)
        scope = AdminScope(org.id, org.slug, org.name, Actor(user_id=bystander.user_id))
        with pytest.raises(LastAdmin):
            lifecycle.delete(db, scope, admin.user_id, now=clock.now())

    def test_audit_events_about_a_deleted_user_remain(self, db, app, scope, org, clock):
        member = MembershipFactory(org=org)
        lifecycle.deactivate(db, scope, member.user_id, now=clock.now())
        lifecycle.reactivate(db, scope, member.user_id, now=clock.now())
        email = member.user.email
        lifecycle.delete(db, scope, member.user_id, now=clock.now())
        db.flush()
        assert {e.action for e in db.scalars(select(AuditEvent).where(AuditEvent.target_email == email))} == {
            "user:deactivate", "user:reactivate", "user:delete"}
