"""The console's groups, as an admin uses them: create, rename, fill by hand, empty, delete."""

from __future__ import annotations

import pytest

from gateway.groups import services as groups
from gateway.orgs.models import Role
from tests.conftest import Auth
from tests.factories import MembershipFactory, OrganizationFactory
from tests.functional.test_admin_apps import change_forms, follow, post, scope_of


@pytest.fixture
def scope(signed_in_admin):
    return scope_of(signed_in_admin)


@pytest.fixture
def ops(db, scope, clock):
    group = groups.create_group(db, scope, "ops", description="On call", now=clock.now())
    db.flush()
    return group


def test_an_admin_creates_a_group_and_sees_it_listed(client, db, scope):
    response = post(client, "/admin/groups", name="ops", description="On call", sso_name="Operations")
    assert "Group ops is created" in follow(client, response)
    listing = client.get("/admin/groups").get_data(as_text=True)
    for text in ("ops", "On call", "Operations"):
        assert text in listing
    [group] = groups.list_groups(db, scope.org_id)
    assert (group.name, group.description, group.sso_name, group.members) == ("ops", "On call", "Operations", 0)


def test_a_bad_or_taken_name_is_shown_on_the_form_and_nothing_is_written(client, db, scope, ops):
    response = post(client, "/admin/groups", name="Ops Team")
    assert response.status_code == 400 and "lower-case letters" in response.get_data(as_text=True)
    response = post(client, "/admin/groups", name="OPS")
    assert response.status_code == 400 and "has a group named ops already" in response.get_data(as_text=True)
    assert [g.name for g in groups.list_groups(db, scope.org_id)] == ["ops"]


def test_an_admin_renames_a_group_and_sets_the_idp_group_that_fills_it(client, db, scope, ops):
    page = client.get(f"/admin/groups/{ops.id}").get_data(as_text=True)
    assert "IdP group that fills it (SAML group attribute value)" in page and 'value="On call"' in page
    response = post(client, f"/admin/groups/{ops.id}", name="sre", description="", sso_name="Site Reliability")
    assert "Group sre" in follow(client, response)
    db.expire_all()
    [group] = groups.list_groups(db, scope.org_id)
    assert (group.name, group.description, group.sso_name) == ("sre", "", "Site Reliability")


def test_a_refused_rename_keeps_the_group_as_it_was(client, db, scope, ops, clock):
    groups.create_group(db, scope, "dev", now=clock.now())
    db.flush()
    response = post(client, f"/admin/groups/{ops.id}", name="dev", description="On call")
    assert response.status_code == 400 and "has a group named dev already" in response.get_data(as_text=True)
    assert "<h1>Group ops</h1>" in response.get_data(as_text=True)
    assert sorted(g.name for g in groups.list_groups(db, scope.org_id)) == ["dev", "ops"]


def test_an_admin_adds_a_member_and_removes_them(client, db, signed_in_admin, scope, ops):
    olga = MembershipFactory(org=signed_in_admin.org, user__name="Olga Ops")
    db.flush()
    page = client.get(f"/admin/groups/{ops.id}").get_data(as_text=True)
    assert f'<option value="{olga.user_id}">Olga Ops' in page
    page = follow(client, post(client, f"/admin/groups/{ops.id}/members", user_id=str(olga.user_id)))
    assert "Added to the group" in page and "Olga Ops" in page and "Manual" in page
    assert f'<option value="{olga.user_id}">' not in page  # in it: no longer offered
    assert [m.name for m in groups.members_of(db, scope.org_id, ops.id)] == ["Olga Ops"]
    page = follow(client, post(client, f"/admin/groups/{ops.id}/members/{olga.user_id}/remove"))
    assert "Removed from the group" in page and "Nobody is in the group yet" in page
    assert groups.members_of(db, scope.org_id, ops.id) == []


def test_another_organizations_member_cannot_be_added(client, db, scope, ops):
    stranger = MembershipFactory(org=OrganizationFactory())
    db.flush()
    assert post(client, f"/admin/groups/{ops.id}/members", user_id=str(stranger.user_id)).status_code == 400
    assert groups.members_of(db, scope.org_id, ops.id) == []


def test_deleting_a_group_is_confirmed_first(client, db, signed_in_admin, scope, ops, clock):
    groups.add_member(db, scope, ops.id, signed_in_admin.user_id, now=clock.now())
    db.flush()
    confirm = client.get(f"/admin/groups/{ops.id}/delete").get_data(as_text=True)
    assert "Delete the group ops?" in confirm and "Its 1 member leave" in confirm
    page = follow(client, post(client, f"/admin/groups/{ops.id}/delete"))
    assert "Group ops is deleted" in page and "No groups yet" in page
    assert groups.list_groups(db, scope.org_id) == []


def test_another_organizations_group_is_not_found(client, db, signed_in_admin, clock):
    other = MembershipFactory(org=OrganizationFactory(), admin=True)
    db.flush()
    theirs = groups.create_group(db, scope_of(other), "theirs", now=clock.now())
    db.flush()
    for path in (f"/admin/groups/{theirs.id}", f"/admin/groups/{theirs.id}/delete", "/admin/groups/99999"):
        assert client.get(path).status_code == 404
    for path, data in ((f"/admin/groups/{theirs.id}", {"name": "mine"}),
                       (f"/admin/groups/{theirs.id}/members", {"user_id": str(signed_in_admin.user_id)}),
                       (f"/admin/groups/{theirs.id}/members/{other.user_id}/remove", {}),
                       (f"/admin/groups/{theirs.id}/delete", {})):
        assert post(client, path, **data).status_code == 404, path
    assert [g.name for g in groups.list_groups(db, other.org.id)] == ["theirs"]


def test_an_auditor_reads_the_groups_pages_and_changes_nothing(app, db, signed_in_admin, scope, ops, clock):
    groups.add_member(db, scope, ops.id, signed_in_admin.user_id, now=clock.now())
    auditor = MembershipFactory(org=signed_in_admin.org, role=Role.AUDITOR)
    db.flush()
    browser = app.test_client()
    Auth(browser).login(auditor.user.email)
    for path in ("/admin/groups", f"/admin/groups/{ops.id}", f"/admin/groups/{ops.id}/delete"):
        response = browser.get(path)
        page = response.get_data(as_text=True)
        assert response.status_code == 200, path
        assert change_forms(page) == [], path
        assert "only admins can change it" in page
    assert signed_in_admin.user.name in browser.get(f"/admin/groups/{ops.id}").get_data(as_text=True)
    for path, data in (("/admin/groups", {"name": "mine"}),
                       (f"/admin/groups/{ops.id}", {"name": "renamed"}),
                       (f"/admin/groups/{ops.id}/members", {"user_id": str(auditor.user_id)}),
                       (f"/admin/groups/{ops.id}/members/{signed_in_admin.user_id}/remove", {}),
                       (f"/admin/groups/{ops.id}/delete", {})):
        assert post(browser, path, **data).status_code == 403, path
    [group] = groups.list_groups(db, scope.org_id)
    assert (group.name, group.members) == ("ops", 1)


def test_a_member_who_is_not_an_admin_is_refused_the_groups_pages(app, db, signed_in_admin, ops):
    plain = MembershipFactory(org=signed_in_admin.org)
    db.flush()
    browser = app.test_client()
    Auth(browser).login(plain.user.email)
    for path in ("/admin/groups", f"/admin/groups/{ops.id}", f"/admin/groups/{ops.id}/delete"):
        assert browser.get(path).status_code == 403, path


def test_an_admin_maps_a_group_to_a_role_and_its_members_take_it(client, db, scope, ops, signed_in_admin):
    member = MembershipFactory(org=signed_in_admin.org)
    db.flush()
    groups.add_member(db, scope, ops.id, member.user_id, now=ops.created_at)
    db.commit()
    page = client.get(f"/admin/groups/{ops.id}").get_data(as_text=True)
    assert "Role its members take" in page and '<option value="auditor">' in page
    response = post(client, f"/admin/groups/{ops.id}", name="ops", description="On call", sso_name="", role="auditor")
    assert "Saved." in follow(client, response)
    db.expire_all()
    assert db.get(type(member), member.id).role == Role.AUDITOR
    assert '<option selected value="auditor">' in client.get(f"/admin/groups/{ops.id}").get_data(as_text=True)
    assert "auditor" in client.get("/admin/groups").get_data(as_text=True)
    refused = post(client, f"/admin/groups/{ops.id}", name="ops", description="", sso_name="", role="owner")
    assert refused.status_code == 400 and "The role must be" in refused.get_data(as_text=True)


def test_a_new_group_can_map_to_a_role(client, db, scope):
    response = post(client, "/admin/groups", name="admins", description="", sso_name="", role="admin")
    assert "Group admins is created" in follow(client, response)
    [group] = groups.list_groups(db, scope.org_id)
    assert group.role == "admin"
