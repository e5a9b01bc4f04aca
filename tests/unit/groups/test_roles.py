"""The group-role rule: a member's role follows the mapped groups a change touched them through."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.actor import Actor
from gateway.audit.models import AuditEvent
from gateway.errors import BadRequest
from gateway.groups import roles as group_roles, services as groups
from gateway.orgs import lifecycle, roles
from gateway.orgs.access import AdminScope
from gateway.orgs.models import Role
from tests.factories import MembershipFactory, OrganizationFactory


@pytest.fixture
def admin(db):
    return MembershipFactory(org=OrganizationFactory(), admin=True)


@pytest.fixture
def scope(admin):
    return AdminScope(admin.org.id, admin.org.slug, admin.org.name, Actor(user_id=admin.user_id))


@pytest.mark.parametrize("names, best", [
    ([], "user"), (["user"], "user"), (["user", "editor"], "editor"), (["editor", "auditor"], "auditor"),
    (["auditor", "admin", "editor"], "admin"), (["zeta", "alpha"], "alpha"),
])
def test_the_most_privileged_role_wins(names, best):
    assert group_roles.highest(names) == best


def test_a_role_is_built_in_or_the_organizations_own(db, scope, clock):
    roles.create_role(db, scope, "editor", now=clock.now())
    assert group_roles.parse(db, scope.org_id, " Editor ") == "editor"
    assert group_roles.parse(db, scope.org_id, "ADMIN") == "admin"
    assert group_roles.parse(db, scope.org_id, None) is None
    for bad in ("", "owner", "editor2"):
        with pytest.raises(BadRequest) as refused:
            group_roles.parse(db, scope.org_id, bad)
        assert refused.value.code == "unknown_role"


def test_members_of_no_mapped_group_keep_their_role(db, admin, scope, clock):
    member = MembershipFactory(org=admin.org, role=Role.AUDITOR)
    plain = groups.create_group(db, scope, "plain", now=clock.now())
    groups.add_member(db, scope, plain.id, member.user_id, now=clock.now())
    groups.remove_member(db, scope, plain.id, member.user_id, now=clock.now())
    assert member.role == Role.AUDITOR


def test_joining_and_leaving_move_the_role_through_the_audited_role_change(db, admin, scope, clock):
    member = MembershipFactory(org=admin.org)
    ops = groups.create_group(db, scope, "ops", role="auditor", now=clock.now())
    groups.add_member(db, scope, ops.id, member.user_id, now=clock.now())
    assert member.role == Role.AUDITOR
    groups.remove_member(db, scope, ops.id, member.user_id, now=clock.now())
    assert member.role == Role.USER
    changes = db.scalars(select(AuditEvent).where(AuditEvent.action == "member:role_change")
                         .order_by(AuditEvent.id)).all()
    assert [(e.details["new_role"], e.details["group"]) for e in changes] == [("auditor", "ops"), ("user", "ops")]


def test_the_last_admin_is_not_demoted_and_the_error_names_the_group(db, admin, scope, clock):
    admins = groups.create_group(db, scope, "admins", role="admin", now=clock.now())
    groups.add_member(db, scope, admins.id, admin.user_id, now=clock.now())
    with pytest.raises(lifecycle.LastAdmin) as refused:
        groups.remove_member(db, scope, admins.id, admin.user_id, now=clock.now())
    assert "admins" in refused.value.message and refused.value.code == "last_admin"


def test_deleting_a_custom_role_unmaps_its_groups(db, scope, clock):
    roles.create_role(db, scope, "editor", now=clock.now())
    group = groups.create_group(db, scope, "writers", role="editor", now=clock.now())
    roles.delete_role(db, scope, "editor", now=clock.now())
    db.expire_all()
    assert groups.get_group(db, scope.org_id, group.id).role is None
