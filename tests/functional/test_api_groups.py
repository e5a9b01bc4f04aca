"""/api/v1/orgs/<slug>/groups: groups and their members over JSON, with the console's refusals."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gateway.actor import Actor
from gateway.groups import services as groups
from gateway.groups.models import Group
from gateway.orgs.access import AdminScope
from tests.factories import MembershipFactory


def _count(db) -> int:
    return db.scalar(select(func.count()).select_from(Group))


def test_create_list_get_patch_delete(api, db):
    created = api.post("/groups", json={"name": " Ops ", "description": "On call", "sso_name": "CN=Ops,OU=IT"})
    assert created.status_code == 201, created.json
    group = created.json["group"]
    assert group == {"id": group["id"], "name": "ops", "description": "On call", "sso_name": "CN=Ops,OU=IT",
                     "role": None, "members": 0}
    assert api.get("/groups").json == {"groups": [group]}
    assert api.get(f"/groups/{group['id']}").json == {"group": group}

    changed = api.patch(f"/groups/{group['id']}", json={"name": "sre", "sso_name": None})
    assert changed.status_code == 200, changed.json
    assert changed.json["group"] == {**group, "name": "sre", "sso_name": None}  # the description stays
    assert api.patch(f"/groups/{group['id']}", json={}).json["group"]["name"] == "sre"

    deleted = api.delete(f"/groups/{group['id']}")
    assert deleted.status_code == 204 and deleted.get_data() == b""
    assert api.get(f"/groups/{group['id']}").json["error"]["code"] == "unknown_group"
    assert api.get(f"/groups/{group['id']}/members").status_code == 404
    assert _count(db) == 0


@pytest.mark.parametrize("body, code", [
    ({"name": "Not A Name"}, "invalid_group_name"),
    ({"name": "a,b"}, "invalid_group_name"),
    ({"name": "x" * 65}, "invalid_group_name"),
    ({"name": ""}, "invalid_group_name"),
    ({"name": "ops", "description": "x" * 201}, "invalid_field"),
    ({"name": "ops", "sso_name": "x" * 257}, "invalid_field"),
    ({"name": "ops", "members": 3}, "invalid_field"),
    ({"name": ["ops"]}, "invalid_field"),
])
def test_bad_input_is_a_400_and_nothing_is_written(api, db, body, code):
    response = api.post("/groups", json=body)
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == code
    assert _count(db) == 0


def test_duplicate_names_are_409s(api):
    api.post("/groups", json={"name": "ops"})
    sre = api.post("/groups", json={"name": "sre"}).json["group"]
    again = api.post("/groups", json={"name": "OPS"})
    assert again.status_code == 409 and again.json["error"]["code"] == "group_exists"
    renamed = api.patch(f"/groups/{sre['id']}", json={"name": "ops"})
    assert renamed.status_code == 409 and renamed.json["error"]["code"] == "group_exists"


def test_members_are_added_listed_and_removed(api, db):
    group = api.post("/groups", json={"name": "ops"}).json["group"]
    member = MembershipFactory(org=api.org, user__name="Olive Ops")
    db.flush()

    added = api.post(f"/groups/{group['id']}/members", json={"user_id": member.user_id})
    assert added.status_code == 200, added.json
    assert added.json == {"added": True, "member": {"user_id": member.user_id, "name": "Olive Ops",
                                                    "email": member.user.email, "source": "manual"}}
    again = api.post(f"/groups/{group['id']}/members", json={"user_id": float(member.user_id)})  # 5.0 is 5 in JSON
    assert again.status_code == 200 and again.json["added"] is False
    assert api.get(f"/groups/{group['id']}/members").json == {"members": [added.json["member"]]}
    assert api.get(f"/groups/{group['id']}").json["group"]["members"] == 1

    removed = api.delete(f"/groups/{group['id']}/members/{member.user_id}")
    assert removed.status_code == 204
    assert api.get(f"/groups/{group['id']}/members").json == {"members": []}
    assert api.delete(f"/groups/{group['id']}/members/{member.user_id}").status_code == 204  # not in it: nothing to do

    for body in ({"user_id": "1"}, {"user_id": 0}, {"user_id": 1.5}, {"user_id": True}, {},
                 {"user_id": member.user_id, "source": "sso"}):
        response = api.post(f"/groups/{group['id']}/members", json=body)
        assert response.status_code == 400 and response.json["error"]["code"] == "invalid_field", body
    unknown = api.post(f"/groups/{group['id']}/members", json={"user_id": 999999})
    assert unknown.status_code == 400 and unknown.json["error"]["code"] == "unknown_member"


def test_another_organizations_groups_and_members_are_not_found(api, db, clock):
    other = MembershipFactory(admin=True)
    db.flush()
    scope = AdminScope(other.org_id, other.org.slug, other.org.name, Actor(user_id=other.user_id))
    theirs = groups.create_group(db, scope, "theirs", now=clock.now())
    groups.add_member(db, scope, theirs.id, other.user_id, now=clock.now())
    db.flush()
    mine = api.post("/groups", json={"name": "mine"}).json["group"]

    for method, path, kw in [("get", f"/groups/{theirs.id}", {}), ("patch", f"/groups/{theirs.id}", {"json": {}}),
                             ("delete", f"/groups/{theirs.id}", {}), ("get", f"/groups/{theirs.id}/members", {}),
                             ("post", f"/groups/{theirs.id}/members", {"json": {"user_id": api.me.user_id}}),
                             ("delete", f"/groups/{theirs.id}/members/{other.user_id}", {})]:
        response = getattr(api, method)(path, **kw)
        assert response.status_code == 404 and response.json["error"]["code"] == "unknown_group", (method, path)
    outsider = api.post(f"/groups/{mine['id']}/members", json={"user_id": other.user_id})
    assert outsider.status_code == 400 and outsider.json["error"]["code"] == "unknown_member"
    assert api.get("/groups").json["groups"] == [mine]
    db.expire_all()
    assert [m.user_id for m in groups.members_of(db, other.org_id, theirs.id)] == [other.user_id]


def test_a_group_maps_to_a_role_that_its_members_take(api, app, db):
    from tests.conftest import Auth

    member = MembershipFactory(org=api.org)
    db.flush()
    browser = app.test_client()
    Auth(browser).login(member.user.email)
    created = api.post("/groups", json={"name": "auditors", "role": "Auditor"})
    assert created.status_code == 201, created.json
    group = created.json["group"]
    assert group["role"] == "auditor" and api.get(f"/groups/{group['id']}").json["group"]["role"] == "auditor"

    assert api.post(f"/groups/{group['id']}/members", json={"user_id": member.user_id}).status_code == 200
    assert browser.get("/auth/verify").headers["X-Auth-Role"] == "auditor"
    api.post("/roles", json={"name": "editor"})
    assert api.patch(f"/groups/{group['id']}", json={"role": "editor"}).json["group"]["role"] == "editor"
    assert browser.get("/auth/verify").headers["X-Auth-Role"] == "editor"
    assert api.delete(f"/groups/{group['id']}/members/{member.user_id}").status_code == 204
    assert browser.get("/auth/verify").headers["X-Auth-Role"] == "user"
    assert api.patch(f"/groups/{group['id']}", json={"role": None}).json["group"]["role"] is None


@pytest.mark.parametrize("body", [{"name": "ops", "role": "owner"}, {"name": "ops", "role": "root"}])
def test_an_unknown_role_is_refused(api, db, body):
    refused = api.post("/groups", json=body)
    assert refused.status_code == 400 and refused.json["error"]["code"] == "unknown_role"
    group = api.post("/groups", json={"name": "sre"}).json["group"]
    refused = api.patch(f"/groups/{group['id']}", json={"role": body["role"]})
    assert refused.status_code == 400 and refused.json["error"]["code"] == "unknown_role"
    assert api.get(f"/groups/{group['id']}").json["group"]["role"] is None


def test_the_last_admin_is_not_demoted_by_a_group_role(api, db):
    group = api.post("/groups", json={"name": "admins", "role": "admin"}).json["group"]
    assert api.post(f"/groups/{group['id']}/members", json={"user_id": api.me.user_id}).status_code == 200
    refused = api.delete(f"/groups/{group['id']}/members/{api.me.user_id}")
    assert refused.status_code == 409 and refused.json["error"]["code"] == "last_admin"
    assert [m["user_id"] for m in api.get(f"/groups/{group['id']}/members").json["members"]] == [api.me.user_id]
    refused = api.patch(f"/groups/{group['id']}", json={"role": "user"})
    assert refused.status_code == 409 and api.get(f"/groups/{group['id']}").json["group"]["role"] == "admin"
