"""Who may administer which organization, and finding a member inside it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.accounts import services as accounts
from gateway.actor import Actor
from gateway.errors import Forbidden, NotFound
from gateway.orgs import access
from gateway.orgs.access import AdminScope
from gateway.sessions import services as sessions
from tests.conftest import STRONG_PASSWORD
from tests.factories import MembershipFactory, OrganizationFactory

ACTOR = Actor(user_id=1, email="someone@example.com", ip="198.51.100.4")


@pytest.fixture
def context(db, app, clock):
    """The SessionContext of a password sign-in of `membership`'s user."""
    settings = app.extensions["idgate.settings"]

    def context(membership):
        signed_in = accounts.sign_in_with_password(
            db, email=membership.user.email, password=STRONG_PASSWORD,
            passwords=app.extensions["idgate.passwords"], actor=Actor(),
            settings=settings, now=clock.now())
        assert signed_in.session.org_id == membership.org_id
        return sessions.resolve(db, signed_in.token, settings=settings, now=clock.now())
    return context


@pytest.fixture
def org(db):
    return OrganizationFactory()


@pytest.fixture
def scope(org):
    return AdminScope(org.id, org.slug, org.name, ACTOR)


class TestAdminScope:
    def test_an_admin_administers_the_organization_of_the_session(self, context):
        admin = MembershipFactory(admin=True)
        scope = access.admin_scope(context(admin), ACTOR)
        assert scope == AdminScope(admin.org.id, admin.org.slug, admin.org.name, ACTOR)

    def test_naming_the_sessions_own_slug_is_allowed(self, context):
        admin = MembershipFactory(admin=True)
        ctx = context(admin)
        assert access.admin_scope(ctx, ACTOR, admin.org.slug).org_id == admin.org_id

    def test_another_organization_is_not_found_whether_or_not_it_exists(self, context):
        admin = MembershipFactory(admin=True)
        elsewhere = MembershipFactory(user=admin.user, admin=True)
        ctx = context(admin)
        with pytest.raises(NotFound) as existing:
            access.admin_scope(ctx, ACTOR, elsewhere.org.slug)
        with pytest.raises(NotFound) as missing:
            access.admin_scope(ctx, ACTOR, "no-such-org")
        assert (existing.value.code, existing.value.message) == (
            missing.value.code, missing.value.message)

    def test_a_session_without_an_organization_administers_none(self, context):
        admin = MembershipFactory(admin=True)
        ctx = replace(context(admin), org_id=None, org_slug=None, org_name=None)
        with pytest.raises(NotFound):
            access.admin_scope(ctx, ACTOR)

    def test_a_plain_member_is_forbidden(self, context):
        member = MembershipFactory()
        with pytest.raises(Forbidden) as refused:
            access.admin_scope(context(member), ACTOR)
        assert (refused.value.code, refused.value.status) == ("admins_only", 403)


class TestGetMember:
    def test_finds_the_membership_by_user_id(self, db, org, scope):
        member = MembershipFactory(org=org)
        assert access.get_member(db, scope, member.user_id) is member
        assert access.get_member(db, scope, str(member.user_id)) is member

    def test_locking_finds_the_same_membership(self, db, org, scope):
        member = MembershipFactory(org=org)
        assert access.get_member(db, scope, member.user_id, lock=True) is member

    def test_a_member_of_another_organization_is_not_found(self, db, scope):
        stranger = MembershipFactory()
        with pytest.raises(NotFound) as refused:
            access.get_member(db, scope, stranger.user_id)
        assert refused.value.code == "unknown_member"

    @pytest.mark.parametrize("user_id", [None, "", "abc", "1e3", 0, -1, 2**31,
                                         "9" * 5000])
    def test_ids_that_name_no_row_are_not_found(self, db, scope, user_id):
        with pytest.raises(NotFound) as refused:
            access.get_member(db, scope, user_id)
        assert refused.value.code == "unknown_member"
