"""People in several organizations: the account page lists them, switching needs no sign-out."""

from __future__ import annotations

from sqlalchemy import select

from gateway.accounts.models import User
from gateway.orgs.models import Role
from tests.conftest import Auth, bearer, csrf_token
from tests.factories import MembershipFactory


def _two_org_person(db):
    home = MembershipFactory(role=Role.USER, org__name="Home Org", org__slug="home")
    MembershipFactory(user=home.user, role=Role.ADMIN, org__name="Work Org", org__slug="work")
    db.flush()
    return home.user


def test_account_lists_every_membership_with_its_role(client, db, auth):
    user = _two_org_person(db)
    auth.login(user.email)
    page = client.get("/account").get_data(as_text=True)
    assert "Home Org" in page and "Work Org" in page and "User" in page and "Admin" in page


def test_switching_changes_what_verify_reports_on_the_next_call(client, db, auth):
    user = _two_org_person(db)
    auth.login(user.email)
    assert client.get("/auth/verify").headers["X-Auth-Org"] == "home"
    response = client.post("/account/switch", data={"csrf_token": csrf_token(client, "/account"), "org": "work"})
    assert response.status_code == 303
    verify = client.get("/auth/verify")
    assert verify.headers["X-Auth-Org"] == "work" and verify.headers["X-Auth-Role"] == "admin"
    db.expire_all()
    assert db.get(User, user.id).last_org_id is not None


def test_switching_to_an_organization_you_do_not_belong_to_is_not_found(client, db, auth):
    user = _two_org_person(db)
    MembershipFactory(org__slug="stranger")
    db.flush()
    auth.login(user.email)
    for slug in ("stranger", "does-not-exist", ""):
        response = client.post("/account/switch", data={"csrf_token": csrf_token(client, "/account"), "org": slug})
        assert response.status_code in (400, 404)
    assert client.get("/auth/verify").headers["X-Auth-Org"] == "home"


def test_switching_to_an_organization_where_you_are_deactivated_is_refused(client, db, auth):
    home = MembershipFactory(org__slug="home")
    MembershipFactory(user=home.user, org__slug="gone", inactive=True)
    db.flush()
    auth.login(home.user.email)
    response = client.post("/account/switch", data={"csrf_token": csrf_token(client, "/account"), "org": "gone"})
    assert response.status_code == 404


def test_a_session_in_one_organization_sees_nothing_of_another(app, client, db, auth):
    user = _two_org_person(db)
    auth.login(user.email)
    # Working in "home" as a plain user: no admin access to "work", though they are its admin.
    assert client.get("/api/v1/orgs/work/users", headers=bearer(client)).status_code == 404
    assert client.get("/admin/users").status_code == 403


def test_removal_from_one_organization_leaves_the_others(app, client, db):
    admin = MembershipFactory(admin=True, org__slug="work")
    person = MembershipFactory(org=admin.org)
    MembershipFactory(user=person.user, org__slug="personal", admin=True)
    db.flush()
    admin_browser = app.test_client()
    Auth(admin_browser).login(admin.user.email)
    gone = admin_browser.delete(f"/api/v1/orgs/work/users/{person.user_id}", headers=bearer(admin_browser))
    assert gone.status_code == 200 and gone.json["account_deleted"] is False
    browser = app.test_client()
    assert Auth(browser).login(person.user.email).status_code == 303
    assert browser.get("/auth/verify").headers["X-Auth-Org"] == "personal"
    assert db.scalar(select(User).where(User.id == person.user_id)) is not None
