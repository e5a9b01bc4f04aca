"""Registering applications: routes normalised like the URLs they will match, a host one
organization's, rules that name only what exists here, and who reaches what and why."""

from __future__ import annotations

import pytest

from gateway.actor import Actor
from gateway.apps import services as apps
from gateway.errors import BadRequest, Conflict, NotFound
from gateway.groups import services as groups
from gateway.orgs import lifecycle, roles
from gateway.orgs.access import AdminScope
from tests.factories import MembershipFactory, OrganizationFactory


def scope_of(membership) -> AdminScope:
    org = membership.org
    return AdminScope(org.id, org.slug, org.name, Actor(user_id=membership.user_id))


@pytest.fixture
def admin(db):
    return MembershipFactory(org=OrganizationFactory(slug="acme", name="Acme"), admin=True)


@pytest.fixture
def scope(admin):
    return scope_of(admin)


def test_routes_are_stored_as_verify_will_match_them(db, scope, clock):
    app = apps.create_app(db, scope, name="  Grafana  ", routes=["Grafana.Example.COM.:443", "example.com/tools/"],
                          now=clock.now())
    assert apps.view(db, app).routes == ["example.com/tools", "grafana.example.com"]
    assert apps.view(db, app).name == "Grafana"


@pytest.mark.parametrize("route", ["", "https://a.example/", "a.example/x;y", "user@a.example", "a..example",
                                   "a.example/%252e", "a.example:99999"])
def test_a_route_that_cannot_be_read_with_certainty_is_refused(db, scope, clock, route):
    with pytest.raises(BadRequest) as refused:
        apps.create_app(db, scope, name="App", routes=[route], now=clock.now())
    assert refused.value.code in ("invalid_route", "no_routes") and refused.value.field == "routes"


def test_a_host_is_one_organizations(db, scope, clock):
    apps.create_app(db, scope, name="Wiki", routes=["wiki.example.com"], now=clock.now())
    other = scope_of(MembershipFactory(org=OrganizationFactory(), admin=True))
    with pytest.raises(Conflict) as refused:
        apps.create_app(db, other, name="Wiki", routes=["wiki.example.com/other"], now=clock.now())
    assert refused.value.code == "host_taken"


def test_two_apps_of_one_organization_share_a_host_by_prefix_but_not_a_route(db, scope, clock):
    apps.create_app(db, scope, name="Site", routes=["example.com"], now=clock.now())
    apps.create_app(db, scope, name="Docs", routes=["example.com/docs"], now=clock.now())
    with pytest.raises(Conflict) as refused:
        apps.create_app(db, scope, name="Also docs", routes=["example.com/docs/"], now=clock.now())
    assert refused.value.code == "route_taken"


def test_a_host_no_longer_routed_is_free_for_another_organization(db, scope, clock):
    app = apps.create_app(db, scope, name="Wiki", routes=["wiki.example.com"], now=clock.now())
    apps.update_app(db, scope, app.id, routes=["wiki2.example.com"], now=clock.now())
    other = scope_of(MembershipFactory(org=OrganizationFactory(), admin=True))
    apps.create_app(db, other, name="Theirs", routes=["wiki.example.com"], now=clock.now())
    apps.delete_app(db, other, apps.list_apps(db, other.org_id)[0].id, now=clock.now())
    apps.create_app(db, scope, name="Back", routes=["wiki.example.com"], now=clock.now())


def test_a_rule_names_only_roles_and_groups_of_this_organization(db, scope, clock):
    with pytest.raises(BadRequest) as unknown_role:
        apps.create_app(db, scope, name="A", routes=["a.example.com"], access="listed", roles_=["owner"],
                        now=clock.now())
    assert unknown_role.value.code == "unknown_role"
    with pytest.raises(BadRequest) as unknown_group:
        apps.create_app(db, scope, name="A", routes=["a.example.com"], access="listed", groups_=["ops"],
                        now=clock.now())
    assert unknown_group.value.code == "unknown_group"


def test_an_app_of_another_organization_is_not_found(db, scope, clock):
    other = scope_of(MembershipFactory(org=OrganizationFactory(), admin=True))
    theirs = apps.create_app(db, other, name="Theirs", routes=["theirs.example.com"], now=clock.now())
    with pytest.raises(NotFound):
        apps.update_app(db, scope, theirs.id, name="Mine", now=clock.now())
    with pytest.raises(NotFound):
        apps.get_app(db, scope.org_id, "not a number")


def test_who_reaches_an_app_and_why(db, scope, admin, clock):
    in_ops, editor, plain = (MembershipFactory(org=admin.org) for _ in range(3))
    inactive = MembershipFactory(org=admin.org, inactive=True)
    db.flush()
    ops = groups.create_group(db, scope, "ops", now=clock.now())
    for member in (in_ops, inactive):
        groups.add_member(db, scope, ops.id, member.user_id, now=clock.now())
    roles.create_role(db, scope, "editor", now=clock.now())
    lifecycle.change_role(db, scope, editor.user_id, "editor", now=clock.now())
    grafana = apps.create_app(db, scope, name="Grafana", routes=["grafana.example.com"], access="listed",
                              roles_=["admin", "editor"], groups_=["ops"], now=clock.now())

    reached = {reacher.user_id: reacher.why for reacher in apps.reachers(db, scope.org_id, grafana.id)}

    assert reached == {admin.user_id: "role admin", in_ops.user_id: "group ops", editor.user_id: "role editor"}
    assert [r.why for r in apps.reach_of_member(db, scope.org_id, plain.user_id)] == [None]
    assert [r.why for r in apps.reach_of_member(db, scope.org_id, inactive.user_id)] == [None]


def test_a_listed_rule_with_nothing_listed_admits_nobody(db, scope, admin, clock):
    app = apps.create_app(db, scope, name="Closed", routes=["closed.example.com"], access="listed", now=clock.now())
    assert apps.reachers(db, scope.org_id, app.id) == []
