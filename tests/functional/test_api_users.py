"""The admin JSON API over the team: the same rules as the console, JSON errors, never a 500."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.accounts.models import User
from gateway.orgs.models import Membership
from tests.conftest import Auth, bearer
from tests.factories import MembershipFactory


def test_create_user_answers_the_temporary_password_once(api, db, app):
    response = api.post("/users", json={"name": "Grace Hopper", "email": "Grace@Example.com", "role": "admin"})
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["user"]["email"] == "grace@example.com" and body["user"]["role"] == "admin"
    assert len(body["temporary_password"]) == 16
    user = db.scalar(select(User).where(User.email == "grace@example.com"))
    assert user.must_change_password
    assert app.extensions["idgate.passwords"].verify(user.password_hash, body["temporary_password"])
    assert "temporary_password" not in api.get(f"/users/{user.id}").json


@pytest.mark.parametrize("payload, code", [
    ({"name": "Al", "email": "al@example.com"}, "invalid_name"),
    ({"name": "x" * 41, "email": "long@example.com"}, "invalid_name"),
    ({"name": "Alan Turing", "email": "not-an-email"}, "invalid_email"),
    ({"name": "Alan Turing", "email": "alan@example.com", "role": "owner"}, "unknown_role"),
])
def test_create_user_refuses_bad_input_without_writing(api, db, payload, code):
    response = api.post("/users", json=payload)
    assert response.status_code == 400
    assert response.json["error"]["code"] == code
    assert db.scalar(select(User).where(User.email == payload["email"])) is None


def test_create_user_refuses_an_existing_member(api):
    response = api.post("/users", json={"name": "Me Again", "email": api.me.user.email})
    assert response.status_code == 409 and response.json["error"]["code"] == "already_member"


def test_bodies_that_are_not_json_objects_get_a_4xx(api):
    assert api.post("/users", data="name=x", content_type="application/x-www-form-urlencoded").status_code == 415
    assert api.post("/users", data="[1, 2]", content_type="application/json").status_code == 400
    assert api.post("/users", data="{not json", content_type="application/json").status_code == 400
    assert api.patch("/users/1", json={"role": "admin", "email": "x@y.z"}).json["error"]["code"] == "invalid_field"


def test_team_list_filters_searches_and_pages(api, db):
    for n in range(5):
        MembershipFactory(org=api.org, user__name=f"Tester {n}", user__email=f"tester{n}@example.com")
    MembershipFactory(org=api.org, inactive=True, user__name="Dormant Person")
    db.flush()
    first = api.get("/users", query_string={"limit": 3}).json
    assert len(first["users"]) == 3 and first["next_cursor"]
    second = api.get("/users", query_string={"limit": 3, "after": first["next_cursor"]}).json
    third = api.get("/users", query_string={"limit": 3, "after": second["next_cursor"]}).json
    emails = [u["email"] for page in (first, second, third) for u in page["users"]]
    assert len(emails) == len(set(emails)) == 7 and third["next_cursor"] is None
    assert [u["name"] for u in api.get("/users", query_string={"status": "inactive"}).json["users"]] == [
        "Dormant Person"]
    assert len(api.get("/users", query_string={"q": "TESTER"}).json["users"]) == 5
    assert len(api.get("/users", query_string={"q": "tester3@"}).json["users"]) == 1
    assert api.get("/users", query_string={"q": "%"}).json["users"] == []
    assert api.get("/users", query_string={"role": "owner"}).status_code == 400
    assert api.get("/users", query_string={"after": "abc"}).status_code == 400


def test_role_change_is_visible_at_the_next_verify(api, app, db):
    member = MembershipFactory(org=api.org)
    db.flush()
    browser = app.test_client()
    Auth(browser).login(member.user.email)
    assert browser.get("/auth/verify").headers["X-Auth-Role"] == "user"
    assert api.patch(f"/users/{member.user_id}", json={"role": "admin"}).json["user"]["role"] == "admin"
    assert browser.get("/auth/verify").headers["X-Auth-Role"] == "admin"


def test_deactivation_cuts_access_at_once_and_reactivation_restores_it(api, app, db):
    member = MembershipFactory(org=api.org)
    db.flush()
    browser = app.test_client()
    Auth(browser).login(member.user.email)
    response = api.post(f"/users/{member.user_id}/deactivate")
    assert response.status_code == 200 and response.json["sessions_ended"] == 1
    assert browser.get("/auth/verify").status_code == 401
    assert Auth(browser).login(member.user.email).status_code == 403  # no active organization left
    assert api.post(f"/users/{member.user_id}/reactivate").json["user"]["status"] == "active"
    assert Auth(browser).login(member.user.email).status_code == 303


def test_the_rules_answer_with_coded_errors(api, db):
    me = api.me.user_id
    assert api.post(f"/users/{me}/deactivate").json["error"]["code"] == "self_deactivation"
    assert api.patch(f"/users/{me}", json={"role": "user"}).json["error"]["code"] == "last_admin"
    delete = api.delete(f"/users/{me}")
    assert delete.status_code == 409 and delete.json["error"]["code"] == "user_has_sessions"
    assert api.get("/users/999999").status_code == 404
    assert api.get("/users/not-a-number").json["error"]["code"] == "unknown_member"


def test_reset_password_forces_a_change_and_ends_their_sessions(api, app, db):
    member = MembershipFactory(org=api.org)
    db.flush()
    browser = app.test_client()
    Auth(browser).login(member.user.email)
    response = api.post(f"/users/{member.user_id}/reset-password")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    temporary = response.json["temporary_password"]
    assert browser.get("/auth/verify").status_code == 401
    landed = Auth(browser).login(member.user.email, temporary)
    assert landed.headers["Location"].endswith("/password/change")


def test_the_password_of_someone_who_also_belongs_elsewhere_is_not_ours_to_reset(api, app, db):
    # Otherwise an admin here could set the password of an admin of another organization and sign in there.
    elsewhere = MembershipFactory(admin=True)
    member = MembershipFactory(org=api.org, user=elsewhere.user)
    db.flush()
    password_hash = member.user.password_hash
    browser = app.test_client()
    Auth(browser).login(member.user.email)

    response = api.post(f"/users/{member.user_id}/reset-password")

    assert response.status_code == 409 and response.json["error"]["code"] == "member_elsewhere"
    assert "temporary_password" not in response.json
    db.expire_all()
    assert db.get(User, member.user_id).password_hash == password_hash
    assert browser.get("/auth/verify").status_code == 200  # their sessions live on


def test_delete_removes_a_signed_out_member(api, db):
    member = MembershipFactory(org=api.org)
    db.flush()
    response = api.delete(f"/users/{member.user_id}")
    assert response.status_code == 200 and response.json["account_deleted"] is True
    assert db.scalar(select(Membership).where(Membership.user_id == member.user_id)) is None


def test_the_api_wants_an_admins_bearer_token(client, app, db, signed_in_admin):
    slug = signed_in_admin.org.slug
    assert client.get(f"/api/v1/orgs/{slug}/users").status_code == 401  # the cookie alone is not enough
    assert client.get(f"/api/v1/orgs/{slug}/users", headers={"Authorization": "Bearer nope"}).status_code == 401
    plain = MembershipFactory(org=signed_in_admin.org)
    db.flush()
    browser = app.test_client()
    Auth(browser).login(plain.user.email)
    refused = browser.get(f"/api/v1/orgs/{slug}/users", headers=bearer(browser))
    assert refused.status_code == 403 and refused.json["error"]["code"] == "admins_only"


def test_openapi_document_lists_the_endpoints(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert "/orgs/{slug}/users/{user_id}/deactivate" in spec["paths"]
