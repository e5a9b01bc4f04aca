"""Invitations by magic link, from the admin's invite to the invitee's first request."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from gateway.accounts.models import User
from gateway.audit.models import AuditEvent
from gateway.invitations.models import Invitation
from gateway.orgs.models import Membership, Organization, Role
from tests.conftest import STRONG_PASSWORD, Auth, bearer, csrf_token
from tests.factories import MembershipFactory, UserFactory

NEW_PASSWORD = "orchid canyon velvet 4471 drizzle"


@pytest.fixture
def invite(client, signed_in_admin):
    """Invite an address through the API; returns the magic link's path."""
    def make(email: str, role: str = "user") -> str:
        response = client.post(f"/api/v1/orgs/{signed_in_admin.org.slug}/invitations", headers=bearer(client),
                               json={"email": email, "role": role})
        assert response.status_code == 201, response.json
        return response.json["link"].removeprefix("http://127.0.0.1:5000")
    return make


def _step(browser, link, **data):
    return browser.post(link, data={"csrf_token": csrf_token(browser, link), **data})


def test_the_console_shows_the_link_once_and_lists_the_invitation(client, db, signed_in_admin):
    response = client.post("/admin/invitations", data={
        "csrf_token": csrf_token(client, "/admin/invitations"), "email": "New@Example.com", "role": "admin"})
    page = response.get_data(as_text=True)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    code = re.search(r"/invite/([A-Za-z0-9_-]{40,})", page).group(1)
    assert "will not be shown again" in page
    invitation = db.scalar(select(Invitation))
    assert invitation.email == "new@example.com" and invitation.role == Role.ADMIN
    assert code not in invitation.code_hash and len(code) >= 43  # 256 bits, base64url
    listing = client.get("/admin/invitations").get_data(as_text=True)
    assert "new@example.com" in listing and code not in listing
    assert "Invited" in client.get("/admin/users").get_data(as_text=True)


def test_a_new_person_registers_gets_a_personal_organization_and_joins(app, db, invite, signed_in_admin):
    link = invite("fresh@example.com", "admin")
    browser = app.test_client()
    landing = browser.get(link)
    assert landing.status_code == 200 and landing.headers["Referrer-Policy"] == "no-referrer"
    assert "fresh@example.com" not in landing.get_data(as_text=True)  # the link does not reveal the address
    assert "Create your account" in _step(browser, link, step="email", email="FRESH@example.com").get_data(
        as_text=True)
    done = _step(browser, link, step="register", email="fresh@example.com", name="Fresh Face",
                 password=NEW_PASSWORD)
    assert done.status_code == 303
    verify = browser.get("/auth/verify")
    assert verify.headers["X-Auth-Org"] == signed_in_admin.org.slug and verify.headers["X-Auth-Role"] == "admin"
    user = db.scalar(select(User).where(User.email == "fresh@example.com"))
    memberships = db.scalars(select(Membership).where(Membership.user_id == user.id)).all()
    assert len(memberships) == 2  # the personal organization and the inviting one
    assert user.email_verified_at is not None  # the link reached the address: OIDC's email_verified
    assert db.scalar(select(func.count()).select_from(Invitation)) == 0
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "invitation:accept")).target_email == \
        "fresh@example.com"
    assert browser.get(link).status_code == 404  # single use


def test_an_existing_account_signs_in_to_accept_and_keeps_everything_else(app, db, invite, signed_in_admin):
    elsewhere = MembershipFactory(user__email="known@example.com")
    db.flush()
    link = invite("known@example.com")
    browser = app.test_client()
    page = _step(browser, link, step="email", email="known@example.com").get_data(as_text=True)
    assert "Sign in and join" in page
    assert _step(browser, link, step="signin", email="known@example.com", password="wrong one").status_code == 401
    assert _step(browser, link, step="signin", email="known@example.com",
                 password=STRONG_PASSWORD).status_code == 303
    orgs = set(db.scalars(select(Membership.org_id).where(Membership.user_id == elsewhere.user_id)))
    assert orgs == {elsewhere.org_id, signed_in_admin.org_id}


@pytest.mark.settings(login_limit_account="3 per 15 minutes", login_limit_address="100 per minute")
def test_guessing_a_password_through_an_invitation_is_audited_and_spends_the_accounts_budget(app, db, invite):
    # Anyone who may invite an address could otherwise guess its password here, unseen and unthrottled.
    MembershipFactory(user__email="known@example.com")
    db.flush()
    link = invite("known@example.com")
    guesses = [_step(app.test_client(), link, step="signin", email="known@example.com", password=f"guess {n}")
               for n in range(2)]
    assert [r.status_code for r in guesses] == [401, 401]
    assert Auth(app.test_client()).login("known@example.com", "guess 3").status_code == 401  # the same budget

    throttled = _step(app.test_client(), link, step="signin", email="known@example.com", password=STRONG_PASSWORD)

    assert throttled.status_code == 429
    db.expire_all()
    failures = db.scalars(select(AuditEvent).where(AuditEvent.action == "login:failure")
                          .order_by(AuditEvent.id)).all()
    assert [(e.target_email, e.details.get("method")) for e in failures] == [
        ("known@example.com", "invitation"), ("known@example.com", "invitation"), ("known@example.com", None)]
    assert db.scalar(select(func.count()).select_from(AuditEvent)
                     .where(AuditEvent.action == "login:throttled")) == 1


def test_someone_already_signed_in_as_the_address_just_joins(app, db, invite, signed_in_admin):
    member = MembershipFactory(user__email="here@example.com")
    db.flush()
    browser = app.test_client()
    Auth(browser).login("here@example.com")
    link = invite("here@example.com")
    assert "Join" in _step(browser, link, step="email", email="here@example.com").get_data(as_text=True)
    assert _step(browser, link, step="join", email="here@example.com").status_code == 303
    assert browser.get("/auth/verify").headers["X-Auth-Org"] == signed_in_admin.org.slug
    assert db.scalar(select(func.count()).select_from(Membership)
                     .where(Membership.user_id == member.user_id)) == 2


@pytest.mark.parametrize("typed", [
    "other@example.com",
    "invitee+x@example.com",          # a different plus-address
    "invitee@example.com.",           # not the same domain
    "іnvitee@example.com",            # Cyrillic і, a look-alike
    "ｉｎｖｉｔｅｅ@example.com",      # fullwidth letters, a compatibility form
    "",
])
def test_only_the_invited_address_passes(app, invite, typed):
    link = invite("invitee@example.com")
    browser = app.test_client()
    response = _step(browser, link, step="email", email=typed)
    assert response.status_code in (400, 403)
    page = response.get_data(as_text=True)
    assert "Create your account" not in page and "Sign in and join" not in page


def test_skipping_the_email_step_with_a_wrong_address_is_refused(app, db, invite):
    link = invite("invitee@example.com")
    response = _step(app.test_client(), link, step="register", email="attacker@example.com",
                     name="Mallory Malicious", password=NEW_PASSWORD)
    assert response.status_code == 403
    assert db.scalar(select(User).where(User.email == "attacker@example.com")) is None


def test_registration_refusals_write_nothing_and_keep_the_invitation(app, db, invite):
    link = invite("invitee@example.com")
    browser = app.test_client()
    weak = _step(browser, link, step="register", email="invitee@example.com", name="In Vitee", password="short")
    assert weak.status_code == 400 and "at least 15 characters" in weak.get_data(as_text=True)
    bad_name = _step(browser, link, step="register", email="invitee@example.com", name="X", password=NEW_PASSWORD)
    assert bad_name.status_code == 400
    assert db.scalar(select(User).where(User.email == "invitee@example.com")) is None
    assert db.scalar(select(func.count()).select_from(Organization)) == 1
    assert db.scalar(select(func.count()).select_from(Invitation)) == 1


@pytest.mark.settings(invitation_ttl="24h")
def test_the_link_expires_after_24_hours_to_the_second(app, clock, invite, client, signed_in_admin):
    link = invite("invitee@example.com")
    clock.advance(hours=23, minutes=59, seconds=59)
    assert app.test_client().get(link).status_code == 200
    clock.advance(seconds=1)
    expired = app.test_client().get(link)
    assert expired.status_code == 404 and "not valid" in expired.get_data(as_text=True)


def test_deleting_an_invitation_kills_its_link_at_once_and_allows_a_new_one(client, app, invite, signed_in_admin):
    slug, api = signed_in_admin.org.slug, bearer(client)
    link = invite("invitee@example.com")
    again = client.post(f"/api/v1/orgs/{slug}/invitations", headers=api, json={"email": "invitee@example.com"})
    assert again.status_code == 409 and "Delete the existing invitation first" in again.json["error"]["message"]
    [pending] = client.get(f"/api/v1/orgs/{slug}/invitations", headers=api).json["invitations"]
    assert client.delete(f"/api/v1/orgs/{slug}/invitations/{pending['id']}", headers=api).status_code == 200
    assert app.test_client().get(link).status_code == 404
    assert invite("invitee@example.com") != link


@pytest.mark.settings(invitation_ttl="1h", session_idle="7d", session_lifetime="7d")
def test_an_expired_invitation_cannot_be_resent_until_deleted(client, clock, invite, signed_in_admin):
    invite("invitee@example.com")
    clock.advance(hours=2)
    slug = signed_in_admin.org.slug
    [pending] = client.get(f"/api/v1/orgs/{slug}/invitations", headers=bearer(client)).json["invitations"]
    assert pending["status"] == "expired"
    assert "Expired" in client.get("/admin/users").get_data(as_text=True)
    again = client.post(f"/api/v1/orgs/{slug}/invitations", headers=bearer(client), json={"email": "invitee@example.com"})
    assert again.status_code == 409


def test_unknown_used_and_garbage_links_answer_the_same_clear_page(app):
    browser = app.test_client()
    for link in ["/invite/nope", "/invite/" + "A" * 43, "/invite/" + "x" * 500]:
        response = browser.get(link)
        assert response.status_code == 404
        assert "not valid" in response.get_data(as_text=True)


def test_inviting_a_member_or_a_bad_address_is_refused(client, signed_in_admin):
    slug, api = signed_in_admin.org.slug, bearer(client)
    me = client.post(f"/api/v1/orgs/{slug}/invitations", headers=api, json={"email": signed_in_admin.user.email})
    assert me.status_code == 409 and me.json["error"]["code"] == "already_member"
    bad = client.post(f"/api/v1/orgs/{slug}/invitations", headers=api, json={"email": "nope"})
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_email"
    role = client.post(f"/api/v1/orgs/{slug}/invitations", headers=api, json={"email": "a@example.com", "role": "god"})
    assert role.status_code == 400
    mail = client.post(f"/api/v1/orgs/{slug}/invitations", headers=api,
                       json={"email": "a@example.com", "send_email": True})
    assert mail.status_code == 400 and mail.json["error"]["code"] == "mail_not_configured"


def test_an_sso_only_account_is_told_to_sign_in_with_sso_first(app, db, invite):
    UserFactory(email="sso@example.com", sso=True)
    db.flush()
    link = invite("sso@example.com")
    page = _step(app.test_client(), link, step="email", email="sso@example.com").get_data(as_text=True)
    assert "Sign in with SSO first" in page


def test_the_invitation_code_never_reaches_a_log_line():
    from gateway.logs import redact_path

    assert redact_path("/invite/abcDEF_123-xyz") == "/invite/[redacted]"
    assert redact_path("/admin/users") == "/admin/users"
