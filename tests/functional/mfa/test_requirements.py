"""An organization that requires a second factor: members add one before anything else, and
switching into it asks for one; admins reset a member's factors."""

from __future__ import annotations

from sqlalchemy import select

from gateway.audit.models import AuditEvent
from gateway.mail.models import OutboxMessage
from gateway.mfa.models import TotpFactor
from gateway.orgs.models import Organization
from tests.conftest import Auth, csrf_token, csrf_token_in
from tests.factories import MembershipFactory, OrganizationFactory
from tests.functional.mfa.conftest import enrol, second_step


def _require(db, org):
    db.get(Organization, org.id).mfa_required = True
    db.flush()


def test_a_member_without_a_factor_adds_one_before_anything_else(member, auth, client, clock, db):
    _require(db, member.org)

    signed_in = auth.login(member.user.email, next="/account")

    assert signed_in.headers["Location"] == "/account/security?next=/account"
    assert client.get("/auth/verify").status_code == 401
    assert client.get("/admin/users").headers["Location"].startswith("/account/security")
    assert "requires a second factor" in client.get("/account/security").get_data(as_text=True)
    enrol(client, clock)
    assert client.get("/auth/verify").status_code == 200


def test_the_factor_cannot_be_removed_while_required(member, auth, client, clock, db):
    _require(db, member.org)
    auth.login(member.user.email)
    enrol(client, clock)
    page = client.get("/account/security").get_data(as_text=True)

    refused = client.post("/account/security/totp/remove", data={"csrf_token": csrf_token_in(page)})

    assert refused.status_code == 403 and db.scalar(select(TotpFactor.confirmed_at)) is not None


def test_switching_into_an_organization_that_requires_one_asks_for_it(member, auth, client, clock, db):
    strict = OrganizationFactory(slug="strict", mfa_required=True)
    MembershipFactory(org=strict, user=member.user)
    db.flush()
    auth.login(member.user.email)
    assert client.get("/auth/verify").status_code == 200

    client.post("/account/switch", data={"csrf_token": csrf_token(client, "/account"), "org": "strict"})

    assert client.get("/auth/verify").status_code == 401
    assert client.get("/account").headers["Location"].startswith("/account/security")


def test_admins_require_it_from_the_team_page(signed_in_admin, client, db):
    page = client.get("/admin/users").get_data(as_text=True)

    saved = client.post("/admin/mfa", data={"csrf_token": csrf_token_in(page), "mfa_required": "y"})

    assert saved.status_code == 303
    db.expire_all()
    assert db.get(Organization, signed_in_admin.org_id).mfa_required is True
    assert db.scalar(select(AuditEvent.action).order_by(AuditEvent.id.desc())) == "org:settings"


def test_an_admin_resets_a_members_factors(signed_in_admin, client, clock, db):
    member = MembershipFactory(org=signed_in_admin.org)
    db.flush()
    other = client.application.test_client()
    Auth(other).login(member.user.email)
    enrol(other, clock)
    page = client.get(f"/admin/users/{member.user_id}").get_data(as_text=True)
    assert "Authenticator app" in page

    client.post(f"/admin/users/{member.user_id}/reset-mfa", data={"csrf_token": csrf_token_in(page)})

    assert db.scalar(select(TotpFactor).where(TotpFactor.user_id == member.user_id)) is None
    assert other.get("/auth/verify").status_code == 401  # their sessions ended
    assert db.scalar(select(OutboxMessage.subject).where(OutboxMessage.recipient == member.user.email)).startswith(
        "Your second factors were reset")
    assert Auth(other).login(member.user.email).headers["Location"] == "/account"


def test_a_reset_is_refused_for_an_account_another_organization_holds(signed_in_admin, client, clock, db):
    member = MembershipFactory(org=signed_in_admin.org)
    MembershipFactory(user=member.user)  # and a member elsewhere
    db.flush()
    other = client.application.test_client()
    Auth(other).login(member.user.email)
    enrol(other, clock)
    page = client.get(f"/admin/users/{member.user_id}").get_data(as_text=True)

    client.post(f"/admin/users/{member.user_id}/reset-mfa", data={"csrf_token": csrf_token_in(page)})

    assert db.scalar(select(TotpFactor).where(TotpFactor.user_id == member.user_id)) is not None
    assert "also belongs to another organization" in client.get(f"/admin/users/{member.user_id}").get_data(
        as_text=True)


def test_wrong_codes_have_a_budget_of_their_own(with_app, auth, client, db):
    member, app, _ = with_app
    auth.login(member.user.email)
    wrong = "000000" if app.code() != "000000" else "111111"

    answers = [second_step(client, wrong).status_code for _ in range(6)]

    assert answers == [401] * 5 + [429]
    assert db.scalar(select(AuditEvent.action).order_by(AuditEvent.id.desc())) == "mfa:throttled"
    assert second_step(client, app.code()).status_code == 429


def test_the_team_list_counts_each_members_recovery_codes(signed_in_admin, client, clock, db):
    from gateway.mfa import services as mfa

    member = MembershipFactory(org=signed_in_admin.org)
    db.flush()
    phone = client.application.test_client()
    Auth(phone).login(member.user.email)
    enrol(phone, clock)

    found = mfa.factors_of_members(db, [member.user_id, signed_in_admin.user_id])

    assert found[member.user_id].recovery_codes_left == 10 and found[member.user_id].totp
    assert found[signed_in_admin.user_id].recovery_codes_left == 0
