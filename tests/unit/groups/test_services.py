"""Groups: names apps can receive, members by hand, and the IdP's groups at each sign-in."""

from __future__ import annotations

import pytest

from gateway.actor import Actor
from gateway.errors import BadRequest, Conflict
from gateway.groups import services as groups
from gateway.orgs.access import AdminScope
from tests.factories import MembershipFactory, OrganizationFactory


@pytest.fixture
def admin(db):
    return MembershipFactory(org=OrganizationFactory(), admin=True)


@pytest.fixture
def scope(admin):
    return AdminScope(admin.org.id, admin.org.slug, admin.org.name, Actor(user_id=admin.user_id))


@pytest.mark.parametrize("name", ["", "Ops Team", "ops,admins", "-ops", "x" * 65, "ops\n"])
def test_a_group_name_must_travel_in_a_comma_separated_header(db, scope, clock, name):
    if name == "ops\n":
        assert groups.create_group(db, scope, name, now=clock.now()).name == "ops"  # trimmed
        return
    with pytest.raises(BadRequest):
        groups.create_group(db, scope, name, now=clock.now())


def test_names_are_unique_within_an_organization_only(db, scope, clock):
    groups.create_group(db, scope, "ops", now=clock.now())
    with pytest.raises(Conflict):
        groups.create_group(db, scope, "OPS", now=clock.now())
    other = MembershipFactory(org=OrganizationFactory(), admin=True)
    groups.create_group(db, AdminScope(other.org.id, other.org.slug, other.org.name, Actor()), "ops", now=clock.now())


def test_members_are_added_once_and_removed(db, scope, admin, clock):
    group = groups.create_group(db, scope, "ops", now=clock.now())
    assert groups.add_member(db, scope, group.id, admin.user_id, now=clock.now()) is True
    assert groups.add_member(db, scope, group.id, admin.user_id, now=clock.now()) is False
    assert [m.user_id for m in groups.members_of(db, scope.org_id, group.id)] == [admin.user_id]
    assert groups.remove_member(db, scope, group.id, admin.user_id, now=clock.now()) is True
    assert groups.members_of(db, scope.org_id, group.id) == []


def test_only_members_of_this_organization_join_its_groups(db, scope, clock):
    group = groups.create_group(db, scope, "ops", now=clock.now())
    stranger = MembershipFactory(org=OrganizationFactory())
    with pytest.raises(BadRequest):
        groups.add_member(db, scope, group.id, stranger.user_id, now=clock.now())


def test_the_idp_fills_its_groups_and_leaves_hand_made_ones_alone(db, scope, admin, clock):
    ops = groups.create_group(db, scope, "ops", sso_name="Ops Team", now=clock.now())
    dev = groups.create_group(db, scope, "dev", sso_name="Developers", now=clock.now())
    vip = groups.create_group(db, scope, "vip", now=clock.now())
    groups.add_member(db, scope, vip.id, admin.user_id, now=clock.now())

    groups.sync_from_idp(db, scope.org_id, admin.user_id, {"Ops Team", "Developers"}, now=clock.now())
    assert groups.names_of(db, _membership_id(db, admin)) == ["dev", "ops", "vip"]

    groups.sync_from_idp(db, scope.org_id, admin.user_id, {"Developers"}, now=clock.now())
    assert groups.names_of(db, _membership_id(db, admin)) == ["dev", "vip"]
    assert [m.source for m in groups.members_of(db, scope.org_id, dev.id)] == ["sso"]
    assert ops.id  # still there, just without them


def test_deleting_a_group_empties_it(db, scope, admin, clock):
    group = groups.create_group(db, scope, "ops", now=clock.now())
    groups.add_member(db, scope, group.id, admin.user_id, now=clock.now())
    groups.delete_group(db, scope, group.id, now=clock.now())
    assert groups.list_groups(db, scope.org_id) == []
    assert groups.names_of(db, _membership_id(db, admin)) == []


def _membership_id(db, membership) -> int:
    db.flush()
    return membership.id
