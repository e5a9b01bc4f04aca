"""The admin API's side of second factors: the organization's requirement, and a member's reset."""

from __future__ import annotations

from tests.conftest import bearer
from tests.factories import MembershipFactory
from tests.functional.mfa.conftest import enrol


def test_the_requirement_is_read_and_set(signed_in_admin, client):
    slug = signed_in_admin.org.slug
    assert client.get(f"/api/v1/orgs/{slug}/settings", headers=bearer(client)).json == {"mfa_required": False}

    changed = client.patch(f"/api/v1/orgs/{slug}/settings", headers=bearer(client), json={"mfa_required": True})

    assert changed.status_code == 200 and changed.json == {"mfa_required": True}
    assert client.get(f"/api/v1/orgs/{slug}/settings", headers=bearer(client)).json == {"mfa_required": True}


def test_a_requirement_that_is_not_true_or_false_is_a_400_naming_it(signed_in_admin, client):
    answer = client.patch(f"/api/v1/orgs/{signed_in_admin.org.slug}/settings", headers=bearer(client),
                          json={"mfa_required": "yes"})
    assert answer.status_code == 400 and "mfa_required" in answer.json["error"]["message"]


def test_a_members_factors_are_reset(signed_in_admin, client, clock, db):
    from tests.conftest import Auth

    member = MembershipFactory(org=signed_in_admin.org)
    db.flush()
    phone = client.application.test_client()
    Auth(phone).login(member.user.email)
    enrol(phone, clock)

    answer = client.post(f"/api/v1/orgs/{signed_in_admin.org.slug}/users/{member.user_id}/reset-mfa",
                         headers=bearer(client))

    assert answer.status_code == 200 and answer.json["sessions_ended"] == 1
    assert answer.json["user"]["id"] == member.user_id


def test_ones_own_factors_are_not_reset_here(signed_in_admin, client):
    answer = client.post(f"/api/v1/orgs/{signed_in_admin.org.slug}/users/{signed_in_admin.user_id}/reset-mfa",
                         headers=bearer(client))
    assert answer.status_code == 400 and answer.json["error"]["code"] == "self_reset"
