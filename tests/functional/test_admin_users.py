"""The admin console's team pages, as an admin uses them."""

from __future__ import annotations

from sqlalchemy import select

from gateway.accounts.models import User
from gateway.orgs.models import MemberStatus, Membership
from tests.conftest import Auth, csrf_token
from tests.factories import MembershipFactory


def _post(client, path, **data):
    return client.post(path, data={"csrf_token": csrf_token(client, "/admin/users/new"), **data})


def _follow(client, response):
    assert response.status_code == 303, response.status_code
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_creating_a_user_shows_the_temporary_password_once(client, db, signed_in_admin):
    response = _post(client, "/admin/users/new", name="Katherine Johnson", email="kj@example.com", role="user")
    page = response.get_data(as_text=True)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    assert "will not be shown again" in page
    user = db.scalar(select(User).where(User.email == "kj@example.com"))
    assert user.must_change_password and user.password_hash not in page
    detail = client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert "temporary-password" not in detail


def test_creating_a_user_with_bad_input_names_the_field_and_writes_nothing(client, db, signed_in_admin):
    response = _post(client, "/admin/users/new", name="Al", email="al@example.com", role="user")
    assert response.status_code == 400
    assert "3 to 40 characters" in response.get_data(as_text=True)
    response = _post(client, "/admin/users/new", name="Alan Turing", email="al@", role="user")
    assert response.status_code == 400 and "valid email" in response.get_data(as_text=True)
    response = _post(client, "/admin/users/new", name="Alan Turing", email="al@example.com", role="root")
    assert response.status_code == 400 and "admin, auditor, user" in response.get_data(as_text=True)
    assert db.scalar(select(User).where(User.email == "al@example.com")) is None


def test_the_team_list_shows_each_members_standing(client, db, signed_in_admin):
    MembershipFactory(org=signed_in_admin.org, inactive=True, user__name="Dormant Dora")
    MembershipFactory(org=signed_in_admin.org, user__name="Sso Sam", user__sso_only=True, user__password=None)
    db.flush()
    page = client.get("/admin/users").get_data(as_text=True)
    for text in ("Dormant Dora", "Inactive", "Sso Sam", "SSO", "Password", "Admin", "Never"):
        assert text in page
    filtered = client.get("/admin/users?status=inactive").get_data(as_text=True)
    assert "Dormant Dora" in filtered and "Sso Sam" not in filtered
    empty = client.get("/admin/users?q=nobody-matches").get_data(as_text=True)
    assert "Nobody matches" in empty


def test_deactivation_is_confirmed_with_the_sessions_it_ends(client, app, db, signed_in_admin):
    member = MembershipFactory(org=signed_in_admin.org)
    db.flush()
    browser = app.test_client()
    Auth(browser).login(member.user.email)
    Auth(app.test_client()).login(member.user.email)
    confirm = client.get(f"/admin/users/{member.user_id}/deactivate").get_data(as_text=True)
    assert "Their 2 active sessions end now" in confirm
    page = _follow(client, _post(client, f"/admin/users/{member.user_id}/deactivate"))
    assert "Deactivated" in page
    assert browser.get("/account").status_code == 302  # their next click lands on sign-in
    assert browser.get("/auth/verify").status_code == 401


def test_refusals_are_explained_on_the_members_page(client, db, signed_in_admin):
    me = signed_in_admin.user_id
    page = _follow(client, _post(client, f"/admin/users/{me}/role", role="user"))
    assert "last active admin" in page
    page = _follow(client, _post(client, f"/admin/users/{me}/deactivate"))
    assert "cannot deactivate yourself" in page
    db.expire_all()
    assert db.get(Membership, signed_in_admin.id).status == MemberStatus.ACTIVE


def test_deleting_asks_for_confirmation_and_refuses_a_signed_in_member(client, app, db, signed_in_admin):
    member = MembershipFactory(org=signed_in_admin.org)
    db.flush()
    Auth(app.test_client()).login(member.user.email)
    confirm = client.get(f"/admin/users/{member.user_id}/delete").get_data(as_text=True)
    assert "Deactivate them first" in confirm
    page = _follow(client, _post(client, f"/admin/users/{member.user_id}/delete", version="1"))
    assert "Deactivate them first" in page
    assert db.scalar(select(Membership).where(Membership.id == member.id)) is not None


def test_a_stale_delete_confirmation_is_refused(client, db, signed_in_admin):
    member = MembershipFactory(org=signed_in_admin.org)
    db.flush()
    client.get(f"/admin/users/{member.user_id}/delete")  # shown at version 1
    _post(client, f"/admin/users/{member.user_id}/role", role="admin")  # version 2 now
    page = _follow(client, _post(client, f"/admin/users/{member.user_id}/delete", version="1"))
    assert "changed since the confirmation" in page
    assert db.scalar(select(Membership).where(Membership.id == member.id)) is not None


def test_deleting_a_signed_out_member_removes_them(client, db, signed_in_admin):
    member = MembershipFactory(org=signed_in_admin.org, user__name="Leaving Lou")
    db.flush()
    user_id = member.user_id
    response = _post(client, f"/admin/users/{user_id}/delete", version=str(member.version))
    assert "Leaving Lou" in _follow(client, response)
    db.expire_all()
    assert db.get(User, user_id) is None


def test_reset_password_shows_a_fresh_temporary_password(client, db, signed_in_admin):
    member = MembershipFactory(org=signed_in_admin.org)
    db.flush()
    response = _post(client, f"/admin/users/{member.user_id}/reset-password")
    assert response.status_code == 200 and "will not be shown again" in response.get_data(as_text=True)
    db.expire_all()
    assert db.get(User, member.user_id).must_change_password
