"""/api/v1/orgs/<slug>/apps: registering applications and their access rules over JSON, and who
reaches what (an app's members, a member's apps), with the same refusals as the console."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gateway.actor import Actor
from gateway.apps import services as apps
from gateway.apps.models import App
from gateway.groups import services as groups
from gateway.orgs import roles
from gateway.orgs.access import AdminScope
from tests.factories import MembershipFactory


@pytest.fixture
def elsewhere(db, clock):
    """Another organization, with its own group and an application on `other.example.com`."""
    other = MembershipFactory(admin=True)
    db.flush()
    scope = AdminScope(other.org_id, other.org.slug, other.org.name, Actor(user_id=other.user_id))
    group = groups.create_group(db, scope, "theirs", now=clock.now())
    app = apps.create_app(db, scope, name="Their wiki", routes=["other.example.com"], now=clock.now())
    db.flush()
    return {"membership": other, "scope": scope, "group": group, "app": app}


def _count(db) -> int:
    return db.scalar(select(func.count()).select_from(App))


def test_create_list_get_patch_delete(api, db):
    api.post("/groups", json={"name": "ops"})
    created = api.post("/apps", json={"name": "Grafana", "routes": ["Grafana.Example.com", "example.com/grafana/"],
                                      "access": "listed", "roles": ["admin"], "groups": ["ops"]})
    assert created.status_code == 201, created.json
    app = created.json["app"]
    assert app == {"id": app["id"], "name": "Grafana", "routes": ["example.com/grafana", "grafana.example.com"],
                   "access": "listed", "roles": ["admin"], "groups": ["ops"], "requires_mfa": False}

    assert api.get("/apps").json == {"apps": [app]}
    assert api.get(f"/apps/{app['id']}").json == {"app": app}

    changed = api.patch(f"/apps/{app['id']}", json={"requires_mfa": True, "groups": []})
    assert changed.status_code == 200, changed.json
    assert changed.json["app"] == {**app, "requires_mfa": True, "groups": []}  # the rest stays
    renamed = api.patch(f"/apps/{app['id']}", json={"name": "  Grafana   Cloud ", "routes": ["grafana.example.com"],
                                                   "access": "everyone"})
    assert renamed.json["app"]["name"] == "Grafana Cloud" and renamed.json["app"]["routes"] == ["grafana.example.com"]
    assert renamed.json["app"]["access"] == "everyone" and renamed.json["app"]["roles"] == ["admin"]

    deleted = api.delete(f"/apps/{app['id']}")
    assert deleted.status_code == 204 and deleted.get_data() == b""
    assert api.get(f"/apps/{app['id']}").status_code == 404
    assert api.delete(f"/apps/{app['id']}").json["error"]["code"] == "unknown_app"
    assert api.get("/apps").json == {"apps": []}


@pytest.mark.parametrize("body, code", [
    ({"name": "Bad", "routes": ["https://x.example.com"]}, "invalid_route"),
    ({"name": "Bad", "routes": ["x.example.com:99999"]}, "invalid_route"),
    ({"name": "Bad", "routes": ["127.1"]}, "invalid_route"),
    ({"name": "Bad", "routes": ["x.example.com/a?b"]}, "invalid_route"),
    ({"name": "   ", "routes": ["x.example.com"]}, "invalid_name"),
    ({"name": "x" * 81, "routes": ["x.example.com"]}, "invalid_name"),
    ({"name": "Bad", "routes": ["x.example.com"], "access": "some"}, "invalid_access"),
    ({"name": "Bad", "routes": ["x.example.com"], "roles": ["owner"]}, "unknown_role"),
    ({"name": "Bad", "routes": ["x.example.com"], "groups": ["nobody"]}, "unknown_group"),
    ({"name": "Bad", "routes": ["x.example.com"], "groups": ["Not A Name"]}, "invalid_group_name"),
    ({"name": "Bad", "routes": []}, "invalid_field"),
    ({"name": "Bad", "routes": [f"h{n}.example.com" for n in range(21)]}, "invalid_field"),
    ({"name": "Bad", "routes": "x.example.com"}, "invalid_field"),
    ({"name": "Bad", "routes": ["x.example.com"], "requires_mfa": "yes"}, "invalid_field"),
    ({"name": "Bad", "routes": ["x.example.com"], "secret": 1}, "invalid_field"),
    ({"routes": ["x.example.com"]}, "invalid_field"),
])
def test_bad_input_is_a_400_and_nothing_is_written(api, db, body, code):
    response = api.post("/apps", json=body)
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == code
    assert _count(db) == 0


def test_a_custom_role_and_a_group_can_be_named_in_a_rule(api):
    api.post("/roles", json={"name": "editor"})
    api.post("/groups", json={"name": "writers"})
    app = api.post("/apps", json={"name": "CMS", "routes": ["cms.example.com"], "access": "listed",
                                  "roles": ["Editor"], "groups": ["writers"]}).json["app"]
    assert app["roles"] == ["editor"] and app["groups"] == ["writers"]


def test_conflicts_are_409s(api, db, elsewhere):
    first = api.post("/apps", json={"name": "Wiki", "routes": ["wiki.example.com/docs"]}).json["app"]
    before = _count(db)

    taken_name = api.post("/apps", json={"name": "Wiki", "routes": ["wiki2.example.com"]})
    assert taken_name.status_code == 409 and taken_name.json["error"]["code"] == "app_exists"
    taken_route = api.post("/apps", json={"name": "Docs", "routes": ["WIKI.example.com/docs/"]})
    assert taken_route.status_code == 409 and taken_route.json["error"]["code"] == "route_taken"
    their_host = api.post("/apps", json={"name": "Mine", "routes": ["other.example.com/mine"]})
    assert their_host.status_code == 409 and their_host.json["error"]["code"] == "host_taken"
    assert _count(db) == before
    # The same host under another prefix is this organization's to use.
    assert api.post("/apps", json={"name": "Blog", "routes": ["wiki.example.com/blog"]}).status_code == 201
    patched = api.patch(f"/apps/{first['id']}", json={"routes": ["other.example.com"]})
    assert patched.status_code == 409 and patched.json["error"]["code"] == "host_taken"
    assert api.get(f"/apps/{first['id']}").json["app"]["routes"] == ["wiki.example.com/docs"]


def test_patch_refuses_what_post_refuses(api):
    app = api.post("/apps", json={"name": "Wiki", "routes": ["wiki.example.com"]}).json["app"]
    for body, code in [({"routes": ["http://wiki.example.com"]}, "invalid_route"), ({"roles": ["owner"]}, "unknown_role"),
                       ({"name": None}, "invalid_field"), ({"routes": []}, "invalid_field"),
                       ({"access": "LISTED "}, None)]:
        response = api.patch(f"/apps/{app['id']}", json=body)
        if code is None:
            assert response.status_code == 200 and response.json["app"]["access"] == "listed"
        else:
            assert response.status_code == 400 and response.json["error"]["code"] == code, (body, response.json)


def test_another_organizations_apps_are_not_found(api, elsewhere):
    theirs = elsewhere["app"].id
    for method in ("get", "patch", "delete"):
        response = getattr(api, method)(f"/apps/{theirs}", **({"json": {"name": "Mine"}} if method == "patch" else {}))
        assert response.status_code == 404 and response.json["error"]["code"] == "unknown_app", method
    assert api.get(f"/apps/{theirs}/access").status_code == 404
    assert api.get("/apps").json == {"apps": []}
    assert api.post("/apps", json={"name": "X", "routes": ["x.example.com"], "access": "listed",
                                   "groups": ["theirs"]}).json["error"]["code"] == "unknown_group"
    assert api.get(f"/users/{elsewhere['membership'].user_id}/access").status_code == 404
    assert api.get("/apps/not-a-number").json["error"]["code"] == "unknown_app"


def test_who_reaches_an_app_and_what_a_member_reaches(api, db, clock):
    scope = AdminScope(api.org.id, api.org.slug, api.org.name, Actor(user_id=api.me.user_id))
    roles.create_role(db, scope, "editor", now=clock.now())
    editor = MembershipFactory(org=api.org, user__name="Edna Editor")
    plain = MembershipFactory(org=api.org, user__name="Paul Plain")
    gone = MembershipFactory(org=api.org, user__name="Gina Gone", inactive=True)
    db.flush()
    api.patch(f"/users/{editor.user_id}", json={"role": "editor"})
    api.post("/groups", json={"name": "ops"})
    ops = api.get("/groups").json["groups"][0]["id"]
    for member in (plain, gone):
        api.post(f"/groups/{ops}/members", json={"user_id": member.user_id})
    grafana = api.post("/apps", json={"name": "Grafana", "routes": ["grafana.example.com"], "access": "listed",
                                      "roles": ["editor"], "groups": ["ops"]}).json["app"]
    wiki = api.post("/apps", json={"name": "Wiki", "routes": ["wiki.example.com"]}).json["app"]
    closed = api.post("/apps", json={"name": "Vault", "routes": ["vault.example.com"], "access": "listed"}).json["app"]

    access = api.get(f"/apps/{grafana['id']}/access").json
    assert access["app"] == grafana
    assert [(m["name"], m["role"], m["why"]) for m in access["members"]] == [
        ("Edna Editor", "editor", "role editor"), ("Paul Plain", "user", "group ops")]
    assert set(access["members"][0]) == {"user_id", "name", "email", "role", "why"}
    assert len(api.get(f"/apps/{wiki['id']}/access").json["members"]) == 3  # the admin too; not the inactive one
    assert api.get(f"/apps/{closed['id']}/access").json["members"] == []

    reach = {r["app"]["name"]: (r["reaches"], r["why"]) for r in api.get(f"/users/{plain.user_id}/access").json["apps"]}
    assert reach == {"Grafana": (True, "group ops"), "Wiki": (True, "everyone in the organization"),
                     "Vault": (False, None)}
    assert all(not r["reaches"] and r["why"] is None for r in api.get(f"/users/{gone.user_id}/access").json["apps"])
    assert api.get("/users/999999/access").status_code == 404
