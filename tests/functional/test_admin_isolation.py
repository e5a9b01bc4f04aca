"""An admin of one organization gets 404 for another organization's people, everywhere."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.orgs.models import MemberStatus, Membership, Role
from tests.conftest import bearer, csrf_token
from tests.factories import MembershipFactory

HTML_GETS = ["/admin/users/{id}", "/admin/users/{id}/deactivate", "/admin/users/{id}/delete"]
HTML_POSTS = ["/admin/users/{id}/role", "/admin/users/{id}/deactivate", "/admin/users/{id}/reactivate",
              "/admin/users/{id}/reset-password", "/admin/users/{id}/delete"]
API_CALLS = [("get", "/users/{id}"), ("patch", "/users/{id}"), ("delete", "/users/{id}"),
             ("post", "/users/{id}/deactivate"), ("post", "/users/{id}/reactivate"),
             ("post", "/users/{id}/reset-password")]


@pytest.fixture
def stranger(db, signed_in_admin):
    """A member (an admin, even) of another organization."""
    membership = MembershipFactory(admin=True)
    db.flush()
    return membership


def _unchanged(db, stranger):
    db.expire_all()
    row = db.scalar(select(Membership).where(Membership.id == stranger.id))
    return row is not None and row.status == MemberStatus.ACTIVE and row.role == Role.ADMIN


@pytest.mark.parametrize("path", HTML_GETS)
def test_console_pages_of_another_organizations_member_are_not_found(client, stranger, path):
    assert client.get(path.format(id=stranger.user_id)).status_code == 404


@pytest.mark.parametrize("path", HTML_POSTS)
def test_console_actions_on_another_organizations_member_are_not_found(client, db, stranger, path):
    response = client.post(path.format(id=stranger.user_id), data={
        "csrf_token": csrf_token(client, "/admin/users/new"), "role": "user", "version": "1"})
    assert response.status_code == 404
    assert _unchanged(db, stranger)


@pytest.mark.parametrize("method, path", API_CALLS)
def test_api_calls_on_another_organizations_member_are_not_found(client, db, signed_in_admin, stranger,
                                                                 method, path):
    url = f"/api/v1/orgs/{signed_in_admin.org.slug}" + path.format(id=stranger.user_id)
    kwargs = {"json": {"role": "user"}} if method == "patch" else {}
    response = getattr(client, method)(url, headers=bearer(client), **kwargs)
    assert response.status_code == 404 and response.json["error"]["code"] == "unknown_member"
    assert _unchanged(db, stranger)


@pytest.mark.parametrize("method, path", [("get", "/users"), ("post", "/users"), ("get", "/audit"),
                                          *API_CALLS])
def test_api_under_another_organizations_slug_is_not_found(client, db, stranger, method, path):
    url = f"/api/v1/orgs/{stranger.org.slug}" + path.format(id=stranger.user_id)
    kwargs = {"json": {"role": "user", "name": "Some One", "email": "x@example.com"}} \
        if method in ("patch", "post") else {}
    response = getattr(client, method)(url, headers=bearer(client), **kwargs)
    assert response.status_code == 404
    assert _unchanged(db, stranger)


def test_the_team_list_and_audit_log_show_only_this_organization(client, stranger):
    assert stranger.user.email not in client.get("/admin/users").get_data(as_text=True)
    assert stranger.user.email not in client.get("/admin/audit").get_data(as_text=True)


def test_members_who_are_not_admins_are_refused_the_console(app, db, signed_in_admin):
    from tests.conftest import Auth

    plain = MembershipFactory(org=signed_in_admin.org)
    db.flush()
    browser = app.test_client()
    Auth(browser).login(plain.user.email)
    for path in ["/admin/users", "/admin/users/new", "/admin/audit", f"/admin/users/{plain.user_id}"]:
        assert browser.get(path).status_code == 403
