"""Your sessions on /account/security, and a member's in the admin API: each with its device, address,
organization, times and sign-in method; signing one out (or all others) ends it at its next request."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from gateway.audit.models import AuditEvent
from gateway.orgs.models import Role
from tests.conftest import Auth, bearer, csrf_token
from tests.factories import MembershipFactory

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.0 Mobile/15E148 Safari/604.1")


@pytest.fixture
def person(db):
    membership = MembershipFactory(user__email="person@example.com", org__name="Acme Works")
    db.flush()
    return membership


def browser_of(app, user_agent: str, address: str):
    browser = app.test_client()
    browser.environ_base.update(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=address)
    assert Auth(browser).login("person@example.com").status_code == 303
    return browser


def session_ids(page: str) -> list[str]:
    return re.findall(r'/account/security/sessions/(\d+)/end', page)


def test_the_security_page_lists_every_session_and_marks_this_one(app, person):
    laptop = browser_of(app, FIREFOX, "192.0.2.10")
    browser_of(app, IPHONE, "198.51.100.7")
    page = laptop.get("/account/security").get_data(as_text=True)
    assert "Where you are signed in" in page
    assert "Firefox 133 on Windows <strong>(this device)</strong>" in page
    assert "Mobile Safari 17 on iOS (iPhone)" in page
    assert "192.0.2.10" in page and "198.51.100.7" in page
    assert page.count("Acme Works") >= 2 and "<td>Password</td>" in page
    assert len(session_ids(page)) == 1  # no sign-out button on this one: sign out instead


def test_signing_out_another_session_ends_it_at_its_next_request(app, db, person):
    laptop = browser_of(app, FIREFOX, "192.0.2.10")
    phone = browser_of(app, IPHONE, "198.51.100.7")
    assert phone.get("/auth/verify").status_code == 200
    [phone_session] = session_ids(laptop.get("/account/security").get_data(as_text=True))
    response = laptop.post(f"/account/security/sessions/{phone_session}/end",
                           data={"csrf_token": csrf_token(laptop, "/account/security")})
    assert response.status_code == 303
    assert "1 session was signed out" in laptop.get(response.headers["Location"]).get_data(as_text=True)
    assert phone.get("/auth/verify").status_code == 401
    assert phone.get("/account").headers["Location"].startswith("/login")
    assert laptop.get("/auth/verify").status_code == 200
    [row] = db.scalars(select(AuditEvent).where(AuditEvent.action == "session:end"))
    assert row.details == {"session_id": int(phone_session), "by": "self"}


def test_sign_out_everywhere_else(app, db, person):
    laptop = browser_of(app, FIREFOX, "192.0.2.10")
    others = [browser_of(app, IPHONE, "198.51.100.7"), browser_of(app, FIREFOX, "203.0.113.9")]
    response = laptop.post("/account/security/sessions/end-others",
                           data={"csrf_token": csrf_token(laptop, "/account/security")})
    assert "2 sessions were signed out" in laptop.get(response.headers["Location"]).get_data(as_text=True)
    assert [b.get("/auth/verify").status_code for b in others] == [401, 401]
    assert laptop.get("/auth/verify").status_code == 200
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "session:end_others")).details == \
        {"sessions_ended": 2}


class TestRefusals:
    def test_the_buttons_need_their_csrf_token(self, app, person):
        laptop = browser_of(app, FIREFOX, "192.0.2.10")
        browser_of(app, IPHONE, "198.51.100.7")
        [other] = session_ids(laptop.get("/account/security").get_data(as_text=True))
        assert laptop.post(f"/account/security/sessions/{other}/end").status_code == 400
        assert laptop.post("/account/security/sessions/end-others").status_code == 400

    @pytest.mark.parametrize("session_id", ["999999", "abc", "-1", "99999999999999999999999"])
    def test_an_unknown_session_is_a_404(self, app, person, session_id):
        laptop = browser_of(app, FIREFOX, "192.0.2.10")
        response = laptop.post(f"/account/security/sessions/{session_id}/end",
                               data={"csrf_token": csrf_token(laptop, "/account/security")})
        assert response.status_code == 404

    def test_someone_elses_session_is_a_404(self, app, db, person):
        MembershipFactory(user__email="stranger@example.com")
        db.flush()
        stranger = app.test_client()
        Auth(stranger).login("stranger@example.com")
        laptop = browser_of(app, FIREFOX, "192.0.2.10")
        strangers_id = max(int(i) for i in [stranger_session_id(db, "stranger@example.com")])
        response = laptop.post(f"/account/security/sessions/{strangers_id}/end",
                               data={"csrf_token": csrf_token(laptop, "/account/security")})
        assert response.status_code == 404
        assert stranger.get("/auth/verify").status_code == 200

    def test_the_current_session_is_signed_out_with_sign_out_instead(self, app, db, person):
        laptop = browser_of(app, FIREFOX, "192.0.2.10")
        own = stranger_session_id(db, "person@example.com")
        response = laptop.post(f"/account/security/sessions/{own}/end",
                               data={"csrf_token": csrf_token(laptop, "/account/security")})
        assert response.status_code == 409
        assert laptop.get("/auth/verify").status_code == 200

    def test_signed_out_people_are_sent_to_sign_in(self, client):
        assert client.post("/account/security/sessions/end-others").status_code in (302, 400)


def stranger_session_id(db, email: str) -> int:
    from gateway.accounts.models import User
    from gateway.sessions.models import UserSession

    db.expire_all()
    return db.scalar(select(UserSession.id).join(User, User.id == UserSession.user_id).where(User.email == email)
                     .order_by(UserSession.id.desc()))


class TestTheApi:
    def test_an_admin_lists_a_members_sessions_in_the_organization(self, api, app, db):
        member = MembershipFactory(org=api.org, user__email="person@example.com")
        MembershipFactory(user=member.user)  # the same account elsewhere: not this organization's to see
        db.flush()
        browser_of(app, IPHONE, "198.51.100.7")  # signs in where they last worked
        response = api.get(f"/users/{member.user_id}/sessions")
        assert response.status_code == 200
        [session] = response.json["sessions"]
        assert session["device"] == "Mobile Safari 17 on iOS (iPhone)" and session["ip"] == "198.51.100.7"
        assert session["method"] == "password" and session["second_factor"] is False
        assert session["current"] is False

    def test_an_admin_signs_one_session_out_audited(self, api, app, db):
        member = MembershipFactory(org=api.org, user__email="person@example.com")
        db.flush()
        phone = browser_of(app, IPHONE, "198.51.100.7")
        assert phone.get("/auth/verify").status_code == 200
        [session] = api.get(f"/users/{member.user_id}/sessions").json["sessions"]
        response = api.delete(f"/users/{member.user_id}/sessions/{session['id']}")
        assert response.status_code == 200 and response.json == {"ended": True}
        assert phone.get("/auth/verify").status_code == 401
        assert api.get(f"/users/{member.user_id}/sessions").json["sessions"] == []
        assert api.delete(f"/users/{member.user_id}/sessions/{session['id']}").json["error"]["code"] == \
            "unknown_session"
        [row] = db.scalars(select(AuditEvent).where(AuditEvent.action == "session:end"))
        assert row.org_id == api.org.id and row.target_id == member.user_id and row.details["by"] == "admin"

    def test_the_admins_own_session_is_refused(self, api, db):
        [own] = [s for s in api.get(f"/users/{api.me.user_id}/sessions").json["sessions"] if s["current"]]
        response = api.delete(f"/users/{api.me.user_id}/sessions/{own['id']}")
        assert response.status_code == 409 and response.json["error"]["code"] == "current_session"

    def test_another_members_session_id_is_a_404(self, api, app, db):
        member = MembershipFactory(org=api.org, user__email="person@example.com")
        other = MembershipFactory(org=api.org)
        db.flush()
        browser_of(app, IPHONE, "198.51.100.7")
        [session] = api.get(f"/users/{member.user_id}/sessions").json["sessions"]
        response = api.delete(f"/users/{other.user_id}/sessions/{session['id']}")
        assert response.status_code == 404 and response.json["error"]["code"] == "unknown_session"

    def test_an_auditor_reads_but_cannot_sign_out(self, app, db):
        auditor = MembershipFactory(role=Role.AUDITOR)
        member = MembershipFactory(org=auditor.org, user__email="person@example.com")
        db.flush()
        browser_of(app, IPHONE, "198.51.100.7")
        console = app.test_client()
        Auth(console).login(auditor.user.email)
        base = f"/api/v1/orgs/{auditor.org.slug}/users/{member.user_id}/sessions"
        [session] = console.get(base, headers=bearer(console)).json["sessions"]
        refused = console.delete(f"{base}/{session['id']}", headers=bearer(console))
        assert refused.status_code == 403

    def test_a_user_gets_a_403(self, app, db, person):
        laptop = browser_of(app, FIREFOX, "192.0.2.10")
        response = laptop.get(f"/api/v1/orgs/{person.org.slug}/users/{person.user_id}/sessions",
                              headers=bearer(laptop))
        assert response.status_code == 403

    def test_the_operations_are_in_the_openapi_document(self, client):
        paths = client.get("/api/v1/openapi.json").json["paths"]
        assert set(paths["/orgs/{slug}/users/{user_id}/sessions"]) == {"get"}
        assert set(paths["/orgs/{slug}/users/{user_id}/sessions/{session_id}"]) == {"delete"}
