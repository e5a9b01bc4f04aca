"""The audit log: every admin action and sign-in event, filtered, exported, never editable."""

from __future__ import annotations

import csv
import io

import pytest

from tests.conftest import STRONG_PASSWORD, Auth, bearer, csrf_token
from tests.factories import MembershipFactory


def test_sign_in_events_and_admin_actions_are_recorded_with_who_and_where(app, client, db, signed_in_admin):
    member = MembershipFactory(org=signed_in_admin.org)
    db.flush()
    Auth(app.test_client()).login(member.user.email, "wrong password entirely")
    api = bearer(client)
    client.patch(f"/api/v1/orgs/{signed_in_admin.org.slug}/users/{member.user_id}", headers=api,
                 json={"role": "admin"})
    events = client.get(f"/api/v1/orgs/{signed_in_admin.org.slug}/audit", headers=api).json["events"]
    actions = [e["action"] for e in events]
    assert actions[:3] == ["member:role_change", "login:failure", "login:success"]
    change = events[0]
    assert change["actor_email"] == signed_in_admin.user.email
    assert change["target_email"] == member.user.email
    assert change["ip"] == "127.0.0.1" and change["details"] == {"old_role": "user", "new_role": "admin"}
    assert events[1]["details"]["reason"] == "wrong_password"


@pytest.mark.settings(session_idle="7d", session_lifetime="7d")
def test_filters_by_actor_action_and_time(app, client, db, signed_in_admin, clock):
    slug, api = signed_in_admin.org.slug, bearer(client)
    clock.advance(days=2)
    member = MembershipFactory(org=signed_in_admin.org)
    db.flush()
    Auth(app.test_client()).login(member.user.email)

    def actions(**query):
        return [e["action"] for e in client.get(f"/api/v1/orgs/{slug}/audit", headers=api,
                                                query_string=query).json["events"]]
    assert actions(action="login:success") == ["login:success", "login:success"]
    assert actions(actor=member.user.email) == ["login:success"]
    assert actions(action="login:", since=clock.now().date().isoformat()) == ["login:success"]
    assert actions(until="2000-01-01") == []
    bad = client.get(f"/api/v1/orgs/{slug}/audit", headers=api, query_string={"since": "yesterday"})
    assert bad.status_code == 400 and bad.json["error"]["code"] == "bad_filter"


def _export(client, **form):
    return client.post("/admin/audit/export", data={"csrf_token": csrf_token(client, "/admin/audit"), **form})


def test_exports_csv_and_json_and_the_export_itself_is_recorded(client, db, signed_in_admin):
    csv_export = _export(client, format="csv")
    assert csv_export.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(csv_export.get_data(as_text=True))))
    assert rows[-1]["action"] == "login:success"
    json_export = _export(client, format="json").json
    assert json_export[0]["action"] == "audit:export"
    assert _export(client, format="xml").status_code == 400


def test_the_export_keeps_the_pages_filters(client, db, signed_in_admin):
    page = client.get("/admin/audit?action=login:success").get_data(as_text=True)
    assert 'name="action" value="login:success"' in page
    exported = _export(client, format="json", action="login:success").json
    assert {event["action"] for event in exported} == {"login:success"}


def test_an_export_wants_a_post_with_a_csrf_token(client, signed_in_admin):
    # It writes an audit row: no other site may make an admin's browser do that with a link.
    assert client.get("/admin/audit/export?format=csv").status_code == 405
    assert client.post("/admin/audit/export", data={"format": "csv"}).status_code == 400


def test_csv_cells_cannot_smuggle_spreadsheet_formulas(app, client, db, signed_in_admin):
    Auth(app.test_client()).login("=HYPERLINK(\"http://evil\")@example.com", STRONG_PASSWORD)
    MembershipFactory(org=signed_in_admin.org, user__email="plain@example.com")
    body = _export(client, format="csv").get_data(as_text=True)
    assert ",=" not in body


def test_the_audit_page_shows_who_did_what(client, signed_in_admin):
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "login:success" in page and signed_in_admin.user.email in page


def test_no_route_can_change_or_delete_audit_events(app):
    # Every audit route reads; the console's export is a POST for its CSRF check, and adds only its own event.
    for rule in app.url_map.iter_rules():
        if "audit" in rule.rule:
            posts = {"POST"} if rule.endpoint == "admin.audit_export" else set()
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"} | posts, rule
