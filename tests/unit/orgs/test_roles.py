"""Roles: admin, auditor and user built in; custom roles by name, with a User's rights."""

from __future__ import annotations

import pytest

from gateway.actor import Actor
from gateway.errors import BadRequest, Conflict, Forbidden
from gateway.orgs import lifecycle, roles
from gateway.orgs.access import AdminScope, admin_scope
from gateway.orgs.lifecycle import LastAdmin
from gateway.sessions.services import SessionContext
from tests.factories import MembershipFactory, OrganizationFactory


@pytest.fixture
def admin(db):
    return MembershipFactory(org=OrganizationFactory(), admin=True)


@pytest.fixture
def scope(admin):
    return AdminScope(admin.org.id, admin.org.slug, admin.org.name, Actor(user_id=admin.user_id))


@pytest.mark.parametrize("name", ["admin", "Auditor", "user"])
def test_a_custom_role_never_shadows_a_built_in_one(db, scope, clock, name):
    with pytest.raises(BadRequest) as refused:
        roles.create_role(db, scope, name, now=clock.now())
    assert refused.value.code == "built_in_role"


def test_a_member_given_a_custom_role_is_presented_by_its_name(db, scope, admin, clock):
    member = MembershipFactory(org=admin.org)
    roles.create_role(db, scope, "editor", "Edits the wiki", now=clock.now())
    lifecycle.change_role(db, scope, member.user_id, "Editor", now=clock.now())
    assert member.role_name == "editor" and member.role == "user"
    with pytest.raises(Conflict):
        roles.create_role(db, scope, "editor", now=clock.now())
    assert [(r.name, r.members) for r in roles.list_roles(db, scope.org_id)] == [
        ("admin", 1), ("auditor", 0), ("user", 0), ("editor", 1)]


def test_deleting_a_custom_role_makes_its_members_users(db, scope, admin, clock):
    member = MembershipFactory(org=admin.org)
    roles.create_role(db, scope, "editor", now=clock.now())
    lifecycle.change_role(db, scope, member.user_id, "editor", now=clock.now())
    assert roles.delete_role(db, scope, "editor", now=clock.now()) == 1
    db.refresh(member)
    assert member.role_name == "user"


def test_the_last_admin_cannot_become_an_auditor(db, scope, admin, clock):
    with pytest.raises(LastAdmin):
        lifecycle.change_role(db, scope, admin.user_id, "auditor", now=clock.now())


def test_a_role_unknown_here_is_refused(db, scope, admin, clock):
    member = MembershipFactory(org=admin.org)
    with pytest.raises(BadRequest) as refused:
        lifecycle.change_role(db, scope, member.user_id, "owner", now=clock.now())
    assert refused.value.code == "unknown_role"


def _ctx(role: str) -> SessionContext:
    return SessionContext(session_id=1, user_id=1, email="a@example.com", name="A", org_id=1, org_slug="acme",
                          org_name="Acme", role=role, restricted=False, expires_at=None)


def test_an_auditor_reads_as_an_admin_and_changes_nothing():
    assert admin_scope(_ctx("auditor"), Actor(), reading=True).can_change is False
    with pytest.raises(Forbidden) as refused:
        admin_scope(_ctx("auditor"), Actor())
    assert refused.value.code == "read_only"
    assert admin_scope(_ctx("admin"), Actor()).can_change is True
    for role in ("user", "editor"):
        with pytest.raises(Forbidden):
            admin_scope(_ctx(role), Actor(), reading=True)
