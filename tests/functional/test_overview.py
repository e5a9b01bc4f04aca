"""/admin (the overview) and GET /api/v1/orgs/<slug>/overview: the same figures, from real state."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from gateway.accounts.models import User
from gateway.orgs.models import MemberStatus, Membership, Role
from tests.conftest import csrf_token_in
from gateway.invitations.models import Invitation
from tests.factories import MembershipFactory, UserFactory


@pytest.fixture
def team(db, signed_in_admin, clock):
    """Beside the admin: a dormant member (last seen 100 days ago), one who never signed in and
    joined long ago, a fresh one, an inactive one, an SSO-only one, and a pending invitation."""
    org = signed_in_admin.org
    old = clock.now() - timedelta(days=100)
    dormant = MembershipFactory(org=org, user=UserFactory(name="Uma Ito", last_login_at=old))
    never = MembershipFactory(org=org, joined_at=clock.now() - timedelta(days=200),
                              user=UserFactory(name="Nev Erin"))
    fresh = MembershipFactory(org=org, user=UserFactory(last_login_at=clock.now() - timedelta(days=2)))
    MembershipFactory(org=org, status=MemberStatus.INACTIVE)
    MembershipFactory(org=org, user=UserFactory(sso=True, last_login_at=clock.now()))
    db.add(Invitation(org_id=org.id, email="ivy@example.com", role=Role.USER, code_hash="0" * 64,
                      created_at=clock.now(), expires_at=clock.now() + timedelta(hours=24)))
    db.flush()
    return {"dormant": dormant, "never": never, "fresh": fresh}


class TestPage:
    def test_the_console_home_is_the_overview(self, client, signed_in_admin):
        page = client.get("/admin")
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert "at a glance" in text
        assert 'role="img"' in text and "<title id=\"chart-title\">" in text and "<desc id=\"chart-desc\">" in text
        assert "<script" not in text  # the chart is drawn on the server
        # The admin's own sign-in (through the form) is today's one password sign-in.
        rows = re.findall(r"<tr><th scope=\"row\">([\d-]+)</th>((?:<td>\d+</td>)+)</tr>", text)
        assert len(rows) == 30
        assert re.findall(r"\d+", rows[0][1]) == ["1", "0", "0", "0", "0", "1"]

    def test_a_new_organization_sees_its_checklist_with_snippets_of_this_gateway(self, client, signed_in_admin):
        text = client.get("/admin").get_data(as_text=True)
        assert "Getting started" in text
        for snippet in ("auth_request /_idgate_verify", "forwardAuth:", "forward_auth http://"):
            assert snippet in text
        assert "http://127.0.0.1:5000/auth/verify" in text or "/auth/verify?redirect=1" in text

    def test_the_checklist_ticks_from_real_state(self, client, db, signed_in_admin, team):
        db.execute(update(signed_in_admin.org.__class__).values(mfa_required=True))
        db.flush()
        text = client.get("/admin").get_data(as_text=True)
        assert re.search(r'class="done">\s*<span class="tick" aria-hidden="true">✓</span>\s*<a [^>]*>Invite people', text)
        assert re.search(r'class="done">\s*<span class="tick" aria-hidden="true">✓</span>\s*<a [^>]*>Require a second', text)
        assert re.search(r'class="todo">\s*<span class="tick" aria-hidden="true">○</span>\s*<a [^>]*>Protect a first', text)

    def test_dormant_accounts_are_listed_and_deactivated_in_one_confirmed_step(self, client, db, signed_in_admin,
                                                                                team):
        text = client.get("/admin").get_data(as_text=True)
        assert "Uma Ito" in text and "Nev Erin" in text
        assert "2 active members have not signed in for 90 days" in text
        user_id = team["dormant"].user_id
        confirm = client.get(f"/admin/users/{user_id}/deactivate?back=overview")
        assert confirm.status_code == 200
        form = confirm.get_data(as_text=True)
        done = client.post(f"/admin/users/{user_id}/deactivate?back=overview",
                           data={"csrf_token": csrf_token_in(form)})
        assert done.status_code == 303 and done.headers["Location"].endswith("/admin")
        db.expire_all()
        assert db.scalar(select(Membership.status).where(Membership.user_id == user_id)) == MemberStatus.INACTIVE
        assert "Uma Ito deactivated" not in client.get("/admin").get_data(as_text=True)  # the admin did it
        assert f"deactivated {team['dormant'].user.name}" in client.get("/admin").get_data(as_text=True)

    def test_deactivation_without_the_csrf_token_is_refused(self, client, db, signed_in_admin, team):
        user_id = team["dormant"].user_id
        assert client.post(f"/admin/users/{user_id}/deactivate?back=overview").status_code == 400
        assert db.scalar(select(Membership.status).where(Membership.user_id == user_id)) == MemberStatus.ACTIVE

    def test_how_long_makes_dormant_is_a_parameter(self, client, signed_in_admin, team):
        text = client.get("/admin?dormant_days=150").get_data(as_text=True)
        assert "Nev Erin" in text and "Uma Ito" not in text
        assert client.get("/admin?dormant_days=0").status_code == 400
        assert client.get("/admin?dormant_days=lots").status_code == 400

    def test_auditors_read_it_without_the_deactivate_links(self, client, db, auth, team, signed_in_admin):
        auditor = MembershipFactory(org=signed_in_admin.org, role=Role.AUDITOR)
        db.flush()
        auth.logout()
        auth.login(auditor.user.email)
        text = client.get("/admin").get_data(as_text=True)
        assert "Uma Ito" in text and "Deactivate" not in text

    def test_members_may_not_see_it(self, client, db, auth, signed_in_admin):
        member = MembershipFactory(org=signed_in_admin.org)
        db.flush()
        auth.logout()
        auth.login(member.user.email)
        assert client.get("/admin").status_code == 403

    def test_a_new_admin_lands_on_it_after_sign_up(self, client):
        from tests.conftest import STRONG_PASSWORD, csrf_token

        answer = client.post("/signup", data={
            "org_slug": "newco", "org_name": "Newco", "email": "ada@newco.example.com", "name": "Ada Lovelace",
            "password": STRONG_PASSWORD, "csrf_token": csrf_token(client, "/signup")})
        assert answer.status_code == 303 and answer.headers["Location"].endswith("/admin")


class TestApi:
    def test_the_same_figures_as_json(self, api, team):
        answer = api.get("/overview")
        assert answer.status_code == 200
        body = answer.get_json()
        assert len(body["days"]) == 30
        today = body["days"][-1]
        assert today["password"] == {"success": 1, "failed": 0, "throttled": 0}
        assert today["active_people"] == 1 and body["active_people_30_days"] == 1
        assert body["people"] == {"active": 5, "inactive": 1, "invited_pending": 1, "invited_expired": 0,
                                  "with_second_factor": 0, "sso_only": 1}
        assert body["dormant"]["days"] == 90 and body["dormant"]["count"] == 2
        assert [m["name"] for m in body["dormant"]["members"]] == ["Nev Erin", "Uma Ito"]
        assert {s["step"]: s["done"] for s in body["checklist"]} == {
            "protect_app": False, "connect_sso": False, "invite_people": True, "require_mfa": False}

    def test_failed_sign_ins_count_for_the_account_s_organization(self, api, auth, client, team):
        auth.login(team["fresh"].user.email, "not the password, no")
        today = api.get("/overview").get_json()["days"][-1]
        assert today["password"]["failed"] == 1

    @pytest.mark.settings(login_limit_account="2 per 15 minutes", login_limit_address="100 per minute")
    def test_throttled_sign_ins_count_for_the_named_account_s_organization(self, api, app, team):
        from tests.conftest import Auth

        stranger = Auth(app.test_client())  # another browser, whose refusals do not touch the admin's
        answers = [stranger.login(team["fresh"].user.email, "not the password, no").status_code for _ in range(3)]
        assert answers == [401, 401, 429]
        today = api.get("/overview").get_json()["days"][-1]
        assert today["password"] == {"success": 1, "failed": 2, "throttled": 1}

    def test_recent_admin_actions_read_as_sentences(self, api, team):
        api.post(f"/users/{team['dormant'].user_id}/deactivate")
        actions = api.get("/overview").get_json()["recent_admin_actions"]
        assert actions[0]["action"] == "user:deactivate"
        assert actions[0]["sentence"] == f"{api.me.user.name} deactivated Uma Ito"
        assert all(not a["action"].startswith("login:") for a in actions)

    def test_dormant_days_is_checked(self, api):
        assert api.get("/overview?dormant_days=0").get_json()["error"]["code"] == "bad_filter"
        assert api.get("/overview?dormant_days=20").get_json()["dormant"]["days"] == 20

    def test_another_organization_is_not_found(self, client, api):
        other = MembershipFactory(admin=True)
        assert client.get(f"/api/v1/orgs/{other.org.slug}/overview", headers=api.headers).status_code == 404


class TestSnapshot:
    def test_the_figures_over_all_members_are_counted_at_most_once_a_minute(self, api, db, clock, team):
        assert api.get("/overview").get_json()["people"]["active"] == 5
        MembershipFactory(org=api.org)
        db.flush()
        assert api.get("/overview").get_json()["people"]["active"] == 5  # the snapshot, seconds old
        clock.advance(seconds=61)
        assert api.get("/overview").get_json()["people"]["active"] == 6

    def test_a_dormant_member_deactivated_leaves_the_list_at_once(self, api, team):
        assert api.get("/overview").get_json()["dormant"]["count"] == 2
        api.post(f"/users/{team['dormant'].user_id}/deactivate")
        dormant = api.get("/overview").get_json()["dormant"]
        assert dormant["count"] == 1 and [m["name"] for m in dormant["members"]] == ["Nev Erin"]
