"""The console's apps, as an admin uses them: where an app is, and who may reach it."""

from __future__ import annotations

import re

import pytest

from gateway.actor import Actor
from gateway.apps import services as apps
from gateway.groups import services as groups
from gateway.orgs.access import AdminScope
from gateway.orgs.models import Role
from tests.conftest import Auth, csrf_token
from tests.factories import MembershipFactory, OrganizationFactory


def scope_of(admin) -> AdminScope:
    """An admin's scope, for arranging what the test then looks at through the console."""
    return AdminScope(admin.org.id, admin.org.slug, admin.org.name, Actor(user_id=admin.user_id))


def post(client, path, **data):
    return client.post(path, data={"csrf_token": csrf_token(client, "/account"), **data})


def follow(client, response) -> str:
    assert response.status_code == 303, response.status_code
    return client.get(response.headers["Location"]).get_data(as_text=True)


def change_forms(page: str) -> list[str]:
    """Where the page's posting forms lead, but for signing out (in every page's header)."""
    return [action for action in re.findall(r'<form method="post" action="([^"]*)"', page) if action != "/logout"]


@pytest.fixture
def scope(signed_in_admin):
    return scope_of(signed_in_admin)


@pytest.fixture
def wiki(db, scope, clock):
    groups.create_group(db, scope, "ops", now=clock.now())
    app = apps.create_app(db, scope, name="Wiki", routes=["wiki.example.com"], access="listed", groups_=["ops"],
                          now=clock.now())
    db.flush()
    return app


def test_an_admin_registers_an_app_with_two_routes_and_a_group_rule_and_sees_it_listed(client, db, scope, clock):
    groups.create_group(db, scope, "ops", now=clock.now())
    db.flush()
    form = client.get("/admin/apps/new").get_data(as_text=True)
    assert 'value="ops"' in form and 'value="auditor"' in form  # the organization's groups and roles, to pick
    response = post(client, "/admin/apps/new", name="Grafana", routes="grafana.example.com\r\nexample.com/grafana\r\n",
                    access="listed", groups=["ops"], requires_mfa="y")
    assert "Grafana is registered" in follow(client, response)
    listing = client.get("/admin/apps").get_data(as_text=True)
    for text in ("Grafana", "grafana.example.com", "example.com/grafana", "Groups: ops", "Second factor required"):
        assert text in listing
    [app] = apps.list_apps(db, scope.org_id)
    assert (app.routes, app.access, app.groups, app.roles, app.requires_mfa) == (
        ["example.com/grafana", "grafana.example.com"], "listed", ["ops"], [], True)


def test_an_app_open_to_everyone_says_so_in_the_list(client, db, scope):
    post(client, "/admin/apps/new", name="Handbook", routes="handbook.example.com", access="everyone")
    listing = client.get("/admin/apps").get_data(as_text=True)
    assert "Handbook" in listing and "Everyone" in listing and "Second factor required" not in listing


def test_a_bad_route_is_shown_on_the_form_and_nothing_is_written(client, db, scope):
    response = post(client, "/admin/apps/new", name="Grafana", routes="grafana.example.com\nnot a host/x",
                    access="everyone")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "is not a host with an optional path prefix" in page and 'id="routes-errors"' in page
    assert "grafana.example.com" in page  # what they typed stays in the form
    assert apps.list_apps(db, scope.org_id) == []


def test_an_unknown_group_or_a_name_taken_is_refused_on_the_form(client, db, scope, wiki):
    response = post(client, "/admin/apps/new", name="Grafana", routes="grafana.example.com", access="listed",
                    groups=["nobody-here"])
    assert response.status_code == 400 and "no group named nobody-here" in response.get_data(as_text=True)
    response = post(client, "/admin/apps/new", name="Wiki", routes="other.example.com", access="everyone")
    assert response.status_code == 400 and "has an application named Wiki already" in response.get_data(as_text=True)
    assert [app.name for app in apps.list_apps(db, scope.org_id)] == ["Wiki"]


def test_a_host_another_organization_registered_is_refused(client, db, scope, clock):
    other = MembershipFactory(org=OrganizationFactory(), admin=True)
    db.flush()
    apps.create_app(db, scope_of(other), name="Theirs", routes=["shared.example.com"], now=clock.now())
    db.flush()
    response = post(client, "/admin/apps/new", name="Ours", routes="shared.example.com/ours", access="everyone")
    assert response.status_code == 400
    assert "shared.example.com is registered by another organization." in response.get_data(as_text=True)
    assert apps.list_apps(db, scope.org_id) == []


def test_an_admin_edits_an_app(client, db, scope, wiki):
    page = client.get(f"/admin/apps/{wiki.id}").get_data(as_text=True)
    assert "wiki.example.com</textarea>" in page and re.search(r'value="ops"[^>]*checked|checked[^>]*value="ops"', page)
    response = post(client, f"/admin/apps/{wiki.id}", name="Team wiki", routes="wiki.example.com\nexample.com/wiki",
                    access="listed", roles=["admin"], groups=["ops"])
    assert "Saved" in follow(client, response)
    db.expire_all()
    app = apps.view(db, apps.get_app(db, scope.org_id, wiki.id))
    assert (app.name, app.routes, app.roles, app.groups, app.requires_mfa) == (
        "Team wiki", ["example.com/wiki", "wiki.example.com"], ["admin"], ["ops"], False)


def test_a_refused_edit_keeps_the_app_as_it_was(client, db, scope, wiki):
    response = post(client, f"/admin/apps/{wiki.id}", name="Wiki", routes="", access="everyone")
    assert response.status_code == 400 and "at least one host" in response.get_data(as_text=True)
    db.expire_all()
    assert apps.view(db, apps.get_app(db, scope.org_id, wiki.id)).routes == ["wiki.example.com"]


def test_deleting_an_app_is_confirmed_first(client, db, scope, wiki):
    confirm = client.get(f"/admin/apps/{wiki.id}/delete").get_data(as_text=True)
    assert "Delete Wiki?" in confirm and "wiki.example.com" in confirm
    assert "lets every signed-in person through to hosts no app claims" in confirm  # the default: allow
    page = follow(client, post(client, f"/admin/apps/{wiki.id}/delete"))
    assert "Wiki is deleted" in page and "No apps yet" in page
    assert apps.list_apps(db, scope.org_id) == []


def test_the_app_page_says_who_can_reach_it_and_why(client, db, scope, signed_in_admin, wiki, clock):
    in_ops = MembershipFactory(org=signed_in_admin.org, user__name="Olga Ops")
    outsider = MembershipFactory(org=signed_in_admin.org, user__name="Nina Nobody")
    db.flush()
    groups.add_member(db, scope, groups.ids_named(db, scope.org_id, ["ops"])["ops"], in_ops.user_id, now=clock.now())
    apps.update_app(db, scope, wiki.id, roles_=["admin"], now=clock.now())
    db.flush()
    page = client.get(f"/admin/apps/{wiki.id}").get_data(as_text=True)
    assert "Olga Ops" in page and "Group ops" in page
    assert signed_in_admin.user.name in page and "Role admin" in page
    assert outsider.user.name not in page


def test_another_organizations_app_is_not_found(client, db, scope, clock):
    other = MembershipFactory(org=OrganizationFactory(), admin=True)
    db.flush()
    theirs = apps.create_app(db, scope_of(other), name="Theirs", routes=["theirs.example.com"], now=clock.now())
    db.flush()
    for path in (f"/admin/apps/{theirs.id}", f"/admin/apps/{theirs.id}/delete", "/admin/apps/99999"):
        assert client.get(path).status_code == 404
    assert post(client, f"/admin/apps/{theirs.id}", name="Mine", routes="theirs.example.com",
                access="everyone").status_code == 404
    assert post(client, f"/admin/apps/{theirs.id}/delete").status_code == 404
    assert [app.name for app in apps.list_apps(db, other.org.id)] == ["Theirs"]


def test_an_auditor_reads_the_apps_pages_and_changes_nothing(app, db, signed_in_admin, wiki):
    auditor = MembershipFactory(org=signed_in_admin.org, role=Role.AUDITOR)
    db.flush()
    browser = app.test_client()
    Auth(browser).login(auditor.user.email)
    for path in ("/admin/apps", "/admin/apps/new", f"/admin/apps/{wiki.id}", f"/admin/apps/{wiki.id}/delete"):
        response = browser.get(path)
        page = response.get_data(as_text=True)
        assert response.status_code == 200, path
        assert change_forms(page) == [], path
        assert "only admins can change it" in page
    assert "Wiki" in browser.get("/admin/apps").get_data(as_text=True)
    for path, data in (("/admin/apps/new", {"name": "Mine", "routes": "mine.example.com", "access": "everyone"}),
                       (f"/admin/apps/{wiki.id}", {"name": "Renamed", "routes": "wiki.example.com"}),
                       (f"/admin/apps/{wiki.id}/delete", {})):
        assert post(browser, path, **data).status_code == 403, path
    assert [a.name for a in apps.list_apps(db, signed_in_admin.org.id)] == ["Wiki"]


def test_a_member_who_is_not_an_admin_is_refused_the_apps_pages(app, db, signed_in_admin, wiki):
    plain = MembershipFactory(org=signed_in_admin.org)
    db.flush()
    browser = app.test_client()
    Auth(browser).login(plain.user.email)
    for path in ("/admin/apps", "/admin/apps/new", f"/admin/apps/{wiki.id}", f"/admin/apps/{wiki.id}/delete"):
        assert browser.get(path).status_code == 403, path
