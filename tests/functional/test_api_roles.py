"""/api/v1/orgs/<slug>/roles: the built-in roles and an organization's own, given to members by
name through the users' `role`; and who may use the API at all: admins change, auditors read
every GET and change nothing (every other method of every API route: 403), users get nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from gateway.audit.models import AuditEvent
from gateway.orgs.models import Membership, Role
from gateway.sessions.models import UserSession
from tests.conftest import Auth, bearer
from tests.factories import MembershipFactory


def _roles(api) -> dict:
    return {r["name"]: r for r in api.get("/roles").json["roles"]}


def test_the_built_in_roles_are_listed_first(api):
    listed = api.get("/roles").json["roles"]
    assert [r["name"] for r in listed] == ["admin", "auditor", "user"]
    assert all(r["built_in"] for r in listed) and listed[0]["members"] == 1
    assert set(listed[0]) == {"name", "description", "built_in", "members"}


def test_create_patch_delete_a_custom_role(api, db):
    created = api.post("/roles", json={"name": " Editor ", "description": "Writes the docs"})
    assert created.status_code == 201, created.json
    assert created.json == {"role": {"name": "editor", "description": "Writes the docs", "built_in": False,
                                     "members": 0}}
    assert list(_roles(api)) == ["admin", "auditor", "user", "editor"]

    changed = api.patch("/roles/editor", json={"description": "Edits"})
    assert changed.status_code == 200 and changed.json["role"]["description"] == "Edits"

    member = MembershipFactory(org=api.org)
    db.flush()
    assert api.patch(f"/users/{member.user_id}", json={"role": "editor"}).status_code == 200
    assert _roles(api)["editor"]["members"] == 1
    deleted = api.delete("/roles/editor")
    assert deleted.status_code == 200 and deleted.json == {"deleted": True, "members_moved": 1}
    assert "editor" not in _roles(api) and _roles(api)["user"]["members"] == 1
    db.expire_all()
    assert db.get(Membership, member.id).role_name == "user"
    assert api.delete("/roles/editor").json["error"]["code"] == "unknown_role"


@pytest.mark.parametrize("body, status, code", [
    ({"name": "admin"}, 400, "built_in_role"),
    ({"name": "Auditor"}, 400, "built_in_role"),
    ({"name": "two words"}, 400, "invalid_role_name"),
    ({"name": "x" * 41}, 400, "invalid_role_name"),
    ({"name": "-lead"}, 400, "invalid_role_name"),
    ({"name": "editor", "description": "x" * 201}, 400, "invalid_field"),
    ({"name": "editor", "built_in": True}, 400, "invalid_field"),
    ({"description": "no name"}, 400, "invalid_field"),
])
def test_bad_role_names_are_refused(api, body, status, code):
    response = api.post("/roles", json=body)
    assert response.status_code == status and response.json["error"]["code"] == code, response.json
    assert list(_roles(api)) == ["admin", "auditor", "user"]


def test_duplicates_are_409_and_built_in_roles_are_not_changed_here(api):
    api.post("/roles", json={"name": "editor"})
    again = api.post("/roles", json={"name": "EDITOR"})
    assert again.status_code == 409 and again.json["error"]["code"] == "role_exists"
    for response in (api.patch("/roles/admin", json={"description": "mine"}), api.delete("/roles/user"),
                     api.patch("/roles/nobody", json={"description": "x"})):
        assert response.status_code == 404 and response.json["error"]["code"] == "unknown_role"


def test_another_organizations_roles_are_not_found_nor_given(api, db, app):
    other = MembershipFactory(admin=True)
    db.flush()
    browser = app.test_client()
    Auth(browser).login(other.user.email)
    assert browser.post(f"/api/v1/orgs/{other.org.slug}/roles", json={"name": "theirs"},
                        headers=bearer(browser)).status_code == 201
    assert api.patch("/roles/theirs", json={"description": "x"}).status_code == 404
    assert api.delete("/roles/theirs").status_code == 404
    member = MembershipFactory(org=api.org)
    db.flush()
    refused = api.patch(f"/users/{member.user_id}", json={"role": "theirs"})
    assert refused.status_code == 400 and refused.json["error"]["code"] == "unknown_role"


def test_a_member_gets_a_custom_role_by_name(api, app, db):
    api.post("/roles", json={"name": "editor"})
    created = api.post("/users", json={"name": "Edna Editor", "email": "edna@example.com", "role": "editor"})
    assert created.status_code == 201, created.json
    member = MembershipFactory(org=api.org)
    db.flush()
    browser = app.test_client()
    Auth(browser).login(member.user.email)
    assert browser.get("/auth/verify").headers["X-Auth-Role"] == "user"
    assert api.patch(f"/users/{member.user_id}", json={"role": "Editor"}).status_code == 200
    assert browser.get("/auth/verify").headers["X-Auth-Role"] == "editor"
    assert _roles(api)["editor"]["members"] == 2
    unknown = api.post("/users", json={"name": "Nora Nobody", "email": "nora@example.com", "role": "owner"})
    assert unknown.status_code == 400 and unknown.json["error"]["code"] == "unknown_role"


def test_the_users_answer_names_the_custom_role(api):
    api.post("/roles", json={"name": "editor"})
    created = api.post("/users", json={"name": "Edna Editor", "email": "edna@example.com", "role": "editor"})
    assert created.json["user"]["role"] == "editor"


# -- who may use the API -------------------------------------------------------------------------

_CHANGES = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture
def acme(app, api, db):
    """An organization holding one of everything the API's paths name: its ids by path parameter."""
    member = MembershipFactory(org=api.org)
    db.flush()
    assert Auth(app.test_client()).login(member.user.email).status_code == 303  # a session of theirs
    session_id = db.scalar(select(UserSession.id).where(UserSession.user_id == member.user_id))
    group = api.post("/groups", json={"name": "ops"}).json["group"]
    api.post(f"/groups/{group['id']}/members", json={"user_id": member.user_id})
    api.post("/roles", json={"name": "editor"})
    app = api.post("/apps", json={"name": "Wiki", "routes": ["wiki.example.com"]}).json["app"]
    invitation = api.post("/invitations", json={"email": "ivy@example.com"}).json["invitation"]
    oidc_client = api.post("/oidc-clients", json={"name": "Grafana", "redirect_uris": ["https://grafana.example.com/cb"]}
                           ).json["oidc_client"]
    return {"slug": api.org.slug, "user_id": member.user_id, "group_id": group["id"], "role_name": "editor",
            "app_id": app["id"], "invitation_id": invitation["id"], "oidc_client_id": oidc_client["id"],
            "session_id": session_id}


def _api_routes(app) -> list[tuple[str, str]]:
    """(method, path rule) of every route under /api/v1 but the public document: new routes are swept too."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi":
            found += [(method, rule.rule) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return found


def _url(rule: str, ids: dict) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: str(ids[m.group(1)]), rule)


def _signed_in(app, db, api, role) -> dict:
    built_in = role in Role.__members__.values()
    membership = MembershipFactory(org=api.org, role=role if built_in else Role.USER)
    db.flush()
    if not built_in:  # a custom role, given the way an admin gives it
        assert api.patch(f"/users/{membership.user_id}", json={"role": role}).status_code == 200
    browser = app.test_client()
    assert Auth(browser).login(membership.user.email).status_code == 303
    return bearer(browser) | {"browser": browser}


def test_an_auditor_reads_every_get_and_changes_nothing(app, db, api, acme):
    auditor = _signed_in(app, db, api, Role.AUDITOR)
    browser = auditor.pop("browser")
    routes = _api_routes(app)
    assert {"/api/v1/orgs/<slug>/apps", "/api/v1/orgs/<slug>/groups/<group_id>/members/<user_id>",
            "/api/v1/orgs/<slug>/roles/<role_name>"} <= {rule for _, rule in routes}
    events = db.scalar(select(func.count()).select_from(AuditEvent))

    for method, rule in routes:
        response = browser.open(_url(rule, acme), method=method, headers=auditor, json={})
        if method == "GET":
            assert response.status_code == 200, (rule, response.json)
        else:
            assert method in _CHANGES
            assert response.status_code == 403, (method, rule, response.status_code)
            assert response.json["error"]["code"] == "read_only", (method, rule)
    assert sum(method == "GET" for method, _ in routes) >= 10 and sum(m in _CHANGES for m, _ in routes) >= 15
    assert db.scalar(select(func.count()).select_from(AuditEvent)) == events  # nothing was written


@pytest.mark.parametrize("role", [Role.USER, "editor"])
def test_a_member_who_is_no_admin_gets_nothing_from_the_api(app, db, api, acme, role):
    user = _signed_in(app, db, api, role)
    browser = user.pop("browser")
    for method, rule in _api_routes(app):
        response = browser.open(_url(rule, acme), method=method, headers=user, json={})
        assert response.status_code == 403, (method, rule, response.status_code)
        assert response.json["error"]["code"] == "admins_only", (method, rule)
