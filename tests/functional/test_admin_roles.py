"""The console's roles, the member page's role, groups and apps, and what an auditor sees."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.apps import services as apps
from gateway.groups import services as groups
from gateway.invitations import services as invitations
from gateway.orgs import roles
from gateway.orgs.models import Membership, Role
from tests.conftest import Auth
from tests.factories import MembershipFactory, OrganizationFactory
from tests.functional.test_admin_apps import change_forms, follow, post, scope_of


@pytest.fixture
def scope(signed_in_admin):
    return scope_of(signed_in_admin)


def role_of(db, membership) -> str:
    db.expire_all()
    return db.scalar(select(Membership).where(Membership.id == membership.id)).role_name


def test_the_roles_page_shows_the_built_in_roles_with_their_members(client, signed_in_admin):
    page = client.get("/admin/roles").get_data(as_text=True)
    for text in ("admin", "auditor", "user", "Reads everything an admin reads; changes nothing.", "None yet"):
        assert text in page


def test_an_admin_creates_a_role_and_edits_its_description(client, db, scope):
    response = post(client, "/admin/roles", name="contractor", description="Outside help")
    assert "Role contractor is created" in follow(client, response)
    page = follow(client, post(client, "/admin/roles/contractor", description="Outside help, for a while"))
    assert "Role contractor is saved" in page and 'value="Outside help, for a while"' in page
    assert [(r.name, r.description) for r in roles.list_roles(db, scope.org_id) if not r.built_in] == [
        ("contractor", "Outside help, for a while")]


def test_a_bad_or_built_in_name_is_shown_on_the_form(client, db, scope):
    response = post(client, "/admin/roles", name="Contractor Team")
    assert response.status_code == 400 and "lower-case letters" in response.get_data(as_text=True)
    response = post(client, "/admin/roles", name="auditor")
    assert response.status_code == 400 and "auditor is a built-in role" in response.get_data(as_text=True)
    assert roles.names(db, scope.org_id) == ["admin", "auditor", "user"]


def test_a_too_long_description_is_shown_beside_that_role(client, db, scope, clock):
    roles.create_role(db, scope, "contractor", "Outside help", now=clock.now())
    db.flush()
    response = post(client, "/admin/roles/contractor", description="x" * 201)
    assert response.status_code == 400
    assert 'id="description-contractor-errors"' in response.get_data(as_text=True)
    assert roles.get_role(db, scope.org_id, "contractor").description == "Outside help"


def test_a_member_is_given_a_custom_role_on_their_page(client, db, signed_in_admin, scope, clock):
    roles.create_role(db, scope, "contractor", now=clock.now())
    member = MembershipFactory(org=signed_in_admin.org)
    db.flush()
    page = client.get(f"/admin/users/{member.user_id}").get_data(as_text=True)
    for role in ("admin", "auditor", "user", "contractor"):
        assert f'value="{role}"' in page
    page = follow(client, post(client, f"/admin/users/{member.user_id}/role", role="contractor"))
    assert "Role changed" in page and '<option selected value="contractor">' in page
    assert role_of(db, member) == "contractor"


def test_deleting_a_role_makes_its_members_users(client, db, signed_in_admin, scope, clock):
    roles.create_role(db, scope, "contractor", now=clock.now())
    member = MembershipFactory(org=signed_in_admin.org)
    db.flush()
    post(client, f"/admin/users/{member.user_id}/role", role="contractor")
    confirm = client.get("/admin/roles/contractor/delete").get_data(as_text=True)
    assert "Delete the role contractor?" in confirm and "Its 1 member becomes user" in confirm
    page = follow(client, post(client, "/admin/roles/contractor/delete"))
    assert "Role contractor is deleted. Members who had it are users now (1)." in page
    assert role_of(db, member) == "user"
    assert roles.names(db, scope.org_id) == ["admin", "auditor", "user"]


def test_built_in_and_other_organizations_roles_are_not_found(client, db, signed_in_admin, clock):
    other = MembershipFactory(org=OrganizationFactory(), admin=True)
    db.flush()
    roles.create_role(db, scope_of(other), "theirs", now=clock.now())
    db.flush()
    for name in ("theirs", "admin", "nobody"):
        assert client.get(f"/admin/roles/{name}/delete").status_code == 404
        assert post(client, f"/admin/roles/{name}", description="mine").status_code == 404
        assert post(client, f"/admin/roles/{name}/delete").status_code == 404
    assert roles.names(db, other.org.id) == ["admin", "auditor", "user", "theirs"]


def test_the_member_page_shows_their_groups_and_which_apps_they_reach_and_why(client, db, signed_in_admin, scope,
                                                                               clock):
    member = MembershipFactory(org=signed_in_admin.org)
    db.flush()
    ops = groups.create_group(db, scope, "ops", now=clock.now())
    groups.create_group(db, scope, "dev", now=clock.now())
    groups.add_member(db, scope, ops.id, member.user_id, now=clock.now())
    apps.create_app(db, scope, name="Grafana", routes=["grafana.example.com"], access="listed", groups_=["ops"],
                    now=clock.now())
    apps.create_app(db, scope, name="Admin tool", routes=["admin.example.com"], access="listed", roles_=["admin"],
                    now=clock.now())
    apps.create_app(db, scope, name="Wiki", routes=["wiki.example.com"], now=clock.now())
    db.flush()
    page = client.get(f"/admin/users/{member.user_id}").get_data(as_text=True)
    assert f'href="/admin/groups/{ops.id}">ops</a>' in page and ">dev</a>" not in page
    assert "Grafana</a></td>\n      <td>Can reach: group ops" in page
    assert "Admin tool</a></td>\n      <td>Cannot reach" in page
    assert "Wiki</a></td>\n      <td>Can reach: everyone in the organization" in page


EXISTING_PAGES = ["/admin/users", "/admin/users/new", "/admin/users/{member}", "/admin/users/{member}/deactivate",
                  "/admin/users/{member}/delete", "/admin/invitations", "/admin/invitations/{invitation}/delete",
                  "/admin/sso", "/admin/audit", "/admin/roles", "/admin/roles/contractor/delete"]
EXISTING_POSTS = [("/admin/users/new", {"name": "Some One", "email": "some@example.com", "role": "user"}),
                  ("/admin/users/{member}/role", {"role": "admin"}), ("/admin/users/{member}/deactivate", {}),
                  ("/admin/users/{member}/reactivate", {}), ("/admin/users/{member}/reset-password", {}),
                  ("/admin/users/{member}/reset-mfa", {}), ("/admin/users/{member}/delete", {"version": "1"}),
                  ("/admin/invitations", {"email": "ivy@example.com", "role": "user"}),
                  ("/admin/invitations/{invitation}/delete", {}), ("/admin/mfa", {"mfa_required": "y"}),
                  ("/admin/sso", {}), ("/admin/audit/export", {"format": "csv"}),
                  ("/admin/roles", {"name": "mine"}), ("/admin/roles/contractor", {"description": "mine"}),
                  ("/admin/roles/contractor/delete", {})]


@pytest.fixture
def auditor_browser(app, db, signed_in_admin, scope, clock, settings):
    """An auditor of the admin's organization, signed in; and what the pages are about."""
    roles.create_role(db, scope, "contractor", now=clock.now())
    member = MembershipFactory(org=signed_in_admin.org)
    auditor = MembershipFactory(org=signed_in_admin.org, role=Role.AUDITOR)
    db.flush()
    invitation = invitations.issue(db, scope, email="ivy@example.com", role="user", send_mail=False,
                                   settings=settings, now=clock.now()).invitation
    db.flush()
    browser = app.test_client()
    Auth(browser).login(auditor.user.email)
    return browser, {"member": member.user_id, "invitation": invitation.id}


@pytest.fixture
def settings(app):
    return app.extensions["idgate.settings"]


def test_an_auditor_reads_every_console_page_without_a_form_that_changes_anything(auditor_browser):
    browser, ids = auditor_browser
    for path in EXISTING_PAGES:
        response = browser.get(path.format(**ids))
        page = response.get_data(as_text=True)
        assert response.status_code == 200, path
        assert change_forms(page) == [], path
        assert "You can read everything here; only admins can change it." in page, path
    nav = browser.get("/account").get_data(as_text=True)
    for link in ("/admin/apps", "/admin/groups", "/admin/roles", "/admin/audit"):
        assert f'href="{link}"' in nav


def test_an_auditor_is_refused_every_change_even_with_a_valid_form(db, signed_in_admin, scope, auditor_browser):
    browser, ids = auditor_browser
    for path, data in EXISTING_POSTS:
        assert post(browser, path.format(**ids), **data).status_code == 403, path
    assert roles.names(db, scope.org_id) == ["admin", "auditor", "user", "contractor"]


def test_an_admin_still_sees_the_change_forms(client, signed_in_admin):
    page = client.get(f"/admin/users/{signed_in_admin.user_id}").get_data(as_text=True)
    assert f"/admin/users/{signed_in_admin.user_id}/role" in change_forms(page)
    assert "only admins can change it" not in page
    assert "/admin/roles" in change_forms(client.get("/admin/roles").get_data(as_text=True))


def test_a_member_who_is_not_an_admin_is_refused_the_roles_page_and_sees_no_console_links(app, db, signed_in_admin):
    plain = MembershipFactory(org=signed_in_admin.org)
    db.flush()
    browser = app.test_client()
    Auth(browser).login(plain.user.email)
    assert browser.get("/admin/roles").status_code == 403
    assert browser.get("/admin/roles/contractor/delete").status_code == 403
    assert 'href="/admin/apps"' not in browser.get("/account").get_data(as_text=True)
