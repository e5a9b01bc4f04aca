"""SCIM Groups: the organization's groups, created, filled and emptied by its IdP."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gateway.audit.models import AuditEvent
from gateway.groups.models import Group, GroupMember, Source
from tests.factories import MembershipFactory
from tests.functional.scim.conftest import GROUP


@pytest.fixture
def team(scim):
    return [scim.new_user(f"member{n}@example.com", displayName=f"Member {n}")["id"] for n in range(4)]


def _members(scim, group_id) -> set[str]:
    return {m["value"] for m in scim.get(f"/Groups/{group_id}").get_json().get("members", [])}


def _new_group(scim, name, members=()):
    response = scim.post("/Groups", json={"schemas": [GROUP], "displayName": name,
                                          "members": [{"value": m} for m in members]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_create_read_and_what_apps_receive(scim, db, team, client, auth):
    group = _new_group(scim, "Engineering Team", team[:2])
    assert group["displayName"] == "Engineering Team" and _members(scim, group["id"]) == set(team[:2])
    row = db.scalar(select(Group).where(Group.scim_id == group["id"]))
    assert row.name == "engineering-team" and row.org_id == scim.org.id
    sources = set(db.scalars(select(GroupMember.source).where(GroupMember.group_id == row.id)))
    assert sources == {Source.SCIM}
    user = scim.get(f"/Users/{team[0]}").get_json()
    assert user["groups"][0]["value"] == group["id"]


def test_a_taken_name_is_a_uniqueness_conflict(scim):
    _new_group(scim, "Ops")
    response = scim.post("/Groups", json={"schemas": [GROUP], "displayName": "ops"})
    assert response.status_code == 409 and response.get_json()["scimType"] == "uniqueness"


def test_patch_add_and_remove_by_value_filter_really_remove(scim, team):
    group = _new_group(scim, "Sales", team[:1])
    added = scim.ops(f"/Groups/{group['id']}", {"op": "Add", "path": "members",
                                                 "value": [{"value": team[1]}, {"value": team[2]}]})
    assert added.status_code == 200 and _members(scim, group["id"]) == set(team[:3])
    removed = scim.ops(f"/Groups/{group['id']}", {"op": "Remove", "path": f'members[value eq "{team[1]}"]'})
    assert removed.status_code == 200
    assert _members(scim, group["id"]) == {team[0], team[2]}  # authentik #24173: answered 200 and kept them


def test_okta_and_entra_remove_with_a_value_list_and_rename_without_path(scim, team):
    group = _new_group(scim, "Support", team)
    scim.ops(f"/Groups/{group['id']}", {"op": "remove", "path": "members", "value": [{"value": team[0]}]})
    assert _members(scim, group["id"]) == set(team[1:])
    renamed = scim.ops(f"/Groups/{group['id']}", {"op": "Replace", "value": {"id": group["id"],
                                                                             "displayName": "Support Tier 2"}})
    assert renamed.status_code == 200 and renamed.get_json()["displayName"] == "Support Tier 2"
    replaced = scim.ops(f"/Groups/{group['id']}", {"op": "replace", "path": "members", "value": [{"value": team[3]}]})
    assert replaced.status_code == 200 and _members(scim, group["id"]) == {team[3]}
    scim.ops(f"/Groups/{group['id']}", {"op": "remove", "path": "members"})
    assert _members(scim, group["id"]) == set()


def test_put_sets_exactly_the_members_given(scim, team):
    group = _new_group(scim, "Legal", team[:2])
    response = scim.put(f"/Groups/{group['id']}", json={"schemas": [GROUP], "displayName": "Legal",
                                                        "members": [{"value": team[2]}]})
    assert response.status_code == 200 and _members(scim, group["id"]) == {team[2]}


def test_a_member_of_another_organization_is_refused_and_nothing_changes(scim, db, team):
    stranger = MembershipFactory()
    db.flush()
    group = _new_group(scim, "Finance", team[:1])
    response = scim.ops(f"/Groups/{group['id']}", {"op": "add", "path": "members",
                                                    "value": [{"value": team[1]}, {"value": stranger.scim_id}]})
    assert response.status_code == 400 and response.get_json()["scimType"] == "invalidValue"
    assert _members(scim, group["id"]) == {team[0]}
    assert scim.post("/Groups", json={"schemas": [GROUP], "displayName": "X",
                                      "members": [{"value": stranger.scim_id}]}).status_code == 400
    assert db.scalar(select(func.count()).select_from(Group).where(Group.display_name == "X")) == 0


def test_filter_and_delete(scim, db, team):
    first, second = _new_group(scim, "Alpha", team[:1]), _new_group(scim, "Beta", team[1:2])
    found = scim.get("/Groups", query_string={"filter": 'displayName eq "alpha"'}).get_json()
    assert [g["id"] for g in found["Resources"]] == [first["id"]]
    by_member = scim.get("/Groups", query_string={"filter": f'members[value eq "{team[1]}"]'}).get_json()
    assert [g["id"] for g in by_member["Resources"]] == [second["id"]]
    assert scim.get("/Groups", query_string={"filter": "nosuch pr"}).get_json()["scimType"] == "invalidFilter"
    assert scim.delete(f"/Groups/{first['id']}").status_code == 204
    assert scim.get(f"/Groups/{first['id']}").status_code == 404
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "group:delete")) is not None


def test_another_organizations_group_is_not_found(scim, db):
    from datetime import datetime, timezone

    other = MembershipFactory(admin=True).org
    db.add(Group(org_id=other.id, name="theirs", created_at=datetime(2026, 1, 1, tzinfo=timezone.utc)))
    db.flush()
    theirs = db.scalar(select(Group).where(Group.org_id == other.id))
    assert scim.get(f"/Groups/{theirs.scim_id}").status_code == 404
    assert scim.ops(f"/Groups/{theirs.scim_id}", {"op": "remove", "path": "members"}).status_code == 404


@pytest.mark.parametrize("body", [{"schemas": [GROUP]}, {"schemas": [GROUP], "displayName": 5},
                                  {"schemas": [GROUP], "displayName": "x", "members": [{"nope": 1}]},
                                  {"schemas": [GROUP], "displayName": "x", "owner": "me"}])
def test_bad_groups_are_400(scim, body):
    response = scim.post("/Groups", json=body)
    assert response.status_code == 400 and response.get_json()["scimType"] in ("invalidValue", "invalidSyntax")
