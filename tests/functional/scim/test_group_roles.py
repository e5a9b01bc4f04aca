"""A group mapped to a role: SCIM's member changes move its members' roles (gateway.groups.roles)."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from gateway.actor import Actor
from gateway.audit.models import AuditEvent
from gateway.groups import services as groups
from gateway.groups.models import Group
from gateway.orgs import lifecycle, roles
from gateway.orgs.access import AdminScope
from gateway.orgs.models import Membership
from tests.conftest import Auth
from tests.factories import MembershipFactory
from tests.functional.scim.conftest import GROUP

# As tests/functional/scim/test_users.py: SCIM's throttle counts in Redis where the run has one (as
# deployments at scale do), so that on PostgreSQL its SQL counters' own commits stay out of the test.
_REDIS = os.environ.get("IDGATE_TEST_REDIS_URL")
pytestmark = pytest.mark.settings(redis_url=_REDIS) if _REDIS else pytest.mark.settings()


@pytest.fixture
def scope(scim):
    org = scim.org
    return AdminScope(org.id, org.slug, org.name, Actor(user_agent="test"))


def _person(app, db, scim):
    """A member of the organization, signed in: (their SCIM id, their browser)."""
    membership = MembershipFactory(org=scim.org)
    db.flush()
    browser = app.test_client()
    assert Auth(browser).login(membership.user.email).status_code == 303
    return membership, browser


def _role(browser) -> str:
    return browser.get("/auth/verify").headers["X-Auth-Role"]


def _group(scim, db, scope, clock, name, role=None, members=()):
    created = scim.post("/Groups", json={"schemas": [GROUP], "displayName": name,
                                         "members": [{"value": m} for m in members]})
    assert created.status_code == 201, created.get_json()
    if role is not None:
        row = db.scalar(select(Group).where(Group.scim_id == created.get_json()["id"]))
        groups.update_group(db, scope, row.id, role=role, now=clock.now())
        db.flush()
    return created.get_json()["id"]


def _members(scim, group_id) -> set[str]:
    return {m["value"] for m in scim.get(f"/Groups/{group_id}").get_json().get("members", [])}


def test_joining_a_group_mapped_to_admin_makes_an_admin_and_leaving_makes_a_user(app, db, scim, scope, clock):
    member, browser = _person(app, db, scim)
    admins = _group(scim, db, scope, clock, "IdP Admins", role="admin")
    assert _role(browser) == "user"

    added = scim.ops(f"/Groups/{admins}", {"op": "Add", "path": "members", "value": [{"value": member.scim_id}]})
    assert added.status_code == 200, added.get_json()
    assert _role(browser) == "admin"
    row = db.scalar(select(AuditEvent).where(AuditEvent.action == "member:role_change",
                                             AuditEvent.target_id == member.user_id))
    assert row.details["new_role"] == "admin" and row.details["group"] == "idp-admins"

    removed = scim.ops(f"/Groups/{admins}", {"op": "Remove", "path": f'members[value eq "{member.scim_id}"]'})
    assert removed.status_code == 200
    assert _role(browser) == "user"


def test_a_changed_mapping_moves_its_members_and_no_one_else(app, db, scim, scope, clock):
    first, first_browser = _person(app, db, scim)
    second, second_browser = _person(app, db, scim)
    outsider, outsider_browser = _person(app, db, scim)

    lifecycle.change_role(db, scope, outsider.user_id, "auditor", now=clock.now())  # by hand, in no mapped group
    db.commit()
    ops = _group(scim, db, scope, clock, "Ops", members=[first.scim_id, second.scim_id])
    row = db.scalar(select(Group).where(Group.scim_id == ops))
    assert _role(first_browser) == _role(second_browser) == "user"

    groups.update_group(db, scope, row.id, role="auditor", now=clock.now())
    db.commit()
    assert _role(first_browser) == _role(second_browser) == "auditor"

    groups.update_group(db, scope, row.id, role=None, now=clock.now())
    db.commit()
    assert _role(first_browser) == _role(second_browser) == "user"
    assert _role(outsider_browser) == "auditor"  # the mapping never touched them


def test_of_several_mapped_groups_the_most_privileged_role_wins(app, db, scim, scope, clock):
    roles.create_role(db, scope, "editor", now=clock.now())
    db.flush()
    member, browser = _person(app, db, scim)
    editors = _group(scim, db, scope, clock, "Editors", role="editor")
    auditors = _group(scim, db, scope, clock, "Auditors", role="auditor")
    admins = _group(scim, db, scope, clock, "Admins", role="admin")
    db.commit()
    add = {"op": "add", "path": "members", "value": [{"value": member.scim_id}]}
    remove = {"op": "remove", "path": "members", "value": [{"value": member.scim_id}]}

    scim.ops(f"/Groups/{editors}", add)
    assert _role(browser) == "editor"
    scim.ops(f"/Groups/{admins}", add)
    scim.ops(f"/Groups/{auditors}", add)
    assert _role(browser) == "admin"
    scim.ops(f"/Groups/{admins}", remove)
    assert _role(browser) == "auditor"
    scim.ops(f"/Groups/{auditors}", remove)
    assert _role(browser) == "editor"
    assert scim.delete(f"/Groups/{editors}").status_code == 204
    assert _role(browser) == "user"


def test_scim_cannot_demote_the_last_admin_by_taking_them_out_of_the_admin_group(db, scim, scope, clock):
    admins = _group(scim, db, scope, clock, "Admins", role="admin", members=[scim.admin.scim_id])
    db.commit()

    refused = scim.ops(f"/Groups/{admins}", {"op": "remove", "path": "members",
                                             "value": [{"value": scim.admin.scim_id}]})
    assert refused.status_code == 409, refused.get_json()
    assert "last active admin" in refused.get_json()["detail"]
    assert _members(scim, admins) == {scim.admin.scim_id}  # nothing half-written
    emptied = scim.put(f"/Groups/{admins}", json={"schemas": [GROUP], "displayName": "Admins", "members": []})
    assert emptied.status_code == 409
    assert scim.delete(f"/Groups/{admins}").status_code == 409
    db.expire_all()
    assert db.get(Membership, scim.admin.id).role == "admin"
    assert _members(scim, admins) == {scim.admin.scim_id}


def test_an_idp_swapping_its_admins_in_one_put_keeps_an_admin_throughout(app, db, scim, scope, clock):
    member, browser = _person(app, db, scim)
    admins = _group(scim, db, scope, clock, "Admins", role="admin", members=[scim.admin.scim_id])
    db.commit()
    swapped = scim.put(f"/Groups/{admins}", json={"schemas": [GROUP], "displayName": "Admins",
                                                  "members": [{"value": member.scim_id}]})
    assert swapped.status_code == 200, swapped.get_json()
    assert _role(browser) == "admin"
    db.expire_all()
    assert db.get(Membership, scim.admin.id).role == "user"
