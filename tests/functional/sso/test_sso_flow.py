"""SSO through an independent IdP (pysaml2): provisioning, updates, refusals, routing, logout."""

from __future__ import annotations

from sqlalchemy import select

from gateway.accounts.models import FederatedIdentity, User
from gateway.actor import Actor
from gateway.audit.models import AuditEvent
from gateway.groups import services as groups
from gateway.orgs.access import AdminScope
from gateway.orgs.models import MemberStatus, Membership, Role
from tests.conftest import STRONG_PASSWORD, Auth, csrf_token, goes_on_to
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.functional.sso.conftest import Browser, connect


def _user(db, email):
    db.expire_all()
    return db.scalar(select(User).where(User.email == email))


def _denials(db):
    return [e.details["reason"] for e in db.scalars(select(AuditEvent).where(
        AuditEvent.action == "saml:login_denied").order_by(AuditEvent.id))]


def test_first_sign_in_provisions_an_sso_only_member(acme, browser, client, db):
    response = browser.sign_in(next_url="/account?tab=orgs")
    assert response.status_code == 303
    assert response.headers["Location"] == "/account?tab=orgs"
    user = _user(db, "ann@acme.example.com")
    assert user.sso_only and user.password_hash is None and user.name == "Ann Example"
    membership = db.scalar(select(Membership).where(Membership.user_id == user.id))
    assert membership.org_id == acme.id and membership.role == Role.USER
    assert db.scalar(select(FederatedIdentity).where(FederatedIdentity.user_id == user.id)).subject == \
        "ann@acme.example.com"
    verify = client.get("/auth/verify")
    assert verify.status_code == 200 and verify.headers["X-Auth-Org"] == "acme"


def test_a_later_sign_in_updates_name_role_and_last_sign_in(acme, browser, client, db, idp, clock):
    connect(db, client, idp, acme, clock, admin_groups=["idgate-admins"], group_attribute="groups")
    browser.sign_in()
    first = _user(db, "ann@acme.example.com").last_login_at
    clock.advance(minutes=5)
    browser.sign_in(attributes={"email": ["ann@acme.example.com"], "displayName": ["Ann Renamed"],
                                "groups": ["idgate-admins"]})
    user = _user(db, "ann@acme.example.com")
    assert user.name == "Ann Renamed" and user.last_login_at > first
    assert db.scalar(select(Membership.role).where(Membership.user_id == user.id)) == Role.ADMIN
    assert client.get("/auth/verify").headers["X-Auth-Role"] == "admin"


def test_a_deactivated_member_is_refused_at_the_acs(acme, browser, db):
    browser.sign_in()
    membership = db.scalar(select(Membership).join(User).where(User.email == "ann@acme.example.com"))
    membership.status = MemberStatus.INACTIVE
    db.flush()
    response = browser.sign_in()
    assert response.status_code == 403
    assert "deactivated" in response.get_data(as_text=True)
    assert _denials(db) == ["deactivated"]


def test_an_sso_user_is_sent_to_sso_at_the_password_form_and_has_no_password_to_change(acme, browser, app, db):
    browser.sign_in()
    other = app.test_client()
    response = Auth(other).login("ann@acme.example.com", "anything at all, really long")
    assert response.status_code == 400
    assert "single sign-on" in response.get_data(as_text=True)
    change = browser.client.post("/password/change", data={
        "csrf_token": csrf_token(browser.client, "/password/change"), "new_password": "a brand new password 123"})
    assert change.status_code == 400
    assert _user(db, "ann@acme.example.com").password_hash is None


class TestNoAccountTakeover:
    def test_a_password_users_email_is_not_taken_over(self, acme, browser, db):
        UserFactory(email="ann@acme.example.com")  # not a member of acme
        db.flush()
        response = browser.sign_in()
        assert response.status_code == 403 and "already exists" in response.get_data(as_text=True)
        assert browser.client.get("/auth/verify").status_code == 401
        assert _denials(db) == ["account_exists"]

    def test_a_member_on_a_declared_domain_is_linked(self, acme, browser, db):
        member = MembershipFactory(org=acme, user__email="ann@acme.example.com")
        db.flush()
        assert browser.sign_in().status_code == 303
        assert db.scalar(select(FederatedIdentity.user_id).where(
            FederatedIdentity.subject == "ann@acme.example.com")) == member.user_id
        # The password account keeps its password.
        assert _user(db, "ann@acme.example.com").password_hash is not None

    def test_a_member_outside_the_declared_domains_is_not_linked(self, acme, browser, db, client, idp, clock):
        connect(db, client, idp, acme, clock, email_domains=["elsewhere.example.com"])
        MembershipFactory(org=acme, user__email="ann@acme.example.com")
        db.flush()
        assert browser.sign_in().status_code == 403

    def test_a_user_of_another_organizations_idp_is_not_taken_over(self, acme, db, client, clock, idp,
                                                                     other_idp, app):
        beta = OrganizationFactory(slug="beta")
        db.flush()
        connect(db, client, other_idp, beta, clock, email_domains=["beta.example.com"])
        ann = "ann@beta.example.com"
        assert Browser(app.test_client(), other_idp).sign_in("beta", name_id=ann).status_code == 303  # enrolled
        assert Browser(app.test_client(), idp).sign_in("acme", name_id=ann).status_code == 403
        assert _denials(db) == ["account_exists"]


def test_idp_initiated_sign_in_is_refused_unless_allowed(acme, browser, db, client, idp, clock):
    request = {"sp_entity_id": "http://127.0.0.1:5000/saml/acme/metadata",
               "acs_url": "http://127.0.0.1:5000/saml/acme/acs", "id": None}
    refused = browser.post(browser.answer(request), "https://evil.example/steal")
    assert refused.status_code == 400 and _denials(db) == ["idp_initiated_not_allowed"]
    connect(db, client, idp, acme, clock, allow_idp_initiated=True)
    allowed = browser.post(browser.answer(request), "https://evil.example/steal")
    assert allowed.status_code == 303
    assert allowed.headers["Location"] == "/account"  # RelayState is never a URL to us


def test_an_unsafe_next_is_dropped_at_login(acme, browser):
    assert browser.sign_in(next_url="//evil.example/x").headers["Location"] == "/account"
    assert browser.sign_in(next_url="https://evil.example/x").headers["Location"] == "/account"


def test_continue_with_sso_routes_by_email_domain_or_slug(acme, client):
    def go(who):
        return client.post("/sso", data={"csrf_token": csrf_token(client, "/sso"), "who": who, "next": "/x"})
    assert goes_on_to(go("someone@acme.example.com")).startswith("/saml/acme/login")
    assert goes_on_to(go("acme")) == "/saml/acme/login?next=/x"
    unknown = go("someone@unknown.example.com")
    assert unknown.status_code == 400 and "No single sign-on" in unknown.get_data(as_text=True)


def test_metadata_is_published_for_existing_organizations_only(acme, client):
    response = client.get("/saml/acme/metadata")
    assert response.status_code == 200 and response.mimetype == "application/samlmetadata+xml"
    assert b'entityID="http://127.0.0.1:5000/saml/acme/metadata"' in response.data
    assert client.get("/saml/nobody/metadata").status_code == 404
    assert client.get("/saml/nobody/login").status_code == 404


def test_idp_logout_request_ends_the_matching_sessions(acme, browser, client, db, idp):
    browser.sign_in()
    assert client.get("/auth/verify").status_code == 200
    url = idp.logout_request_redirect(sls_url="http://127.0.0.1:5000/saml/acme/sls",
                                      sp_entity_id="http://127.0.0.1:5000/saml/acme/metadata",
                                      name_id="ann@acme.example.com")
    response = client.get(url.removeprefix("http://127.0.0.1:5000"))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("https://idp.example.org/slo/redirect?SAMLResponse=")
    assert client.get("/auth/verify").status_code == 401


def test_an_unsigned_idp_logout_request_is_refused(acme, browser, client, idp):
    browser.sign_in()
    url = idp.logout_request_redirect(sls_url="http://127.0.0.1:5000/saml/acme/sls",
                                      sp_entity_id="http://127.0.0.1:5000/saml/acme/metadata",
                                      name_id="ann@acme.example.com", sign=False)
    assert client.get(url.removeprefix("http://127.0.0.1:5000")).status_code == 400
    assert client.get("/auth/verify").status_code == 200


def test_signing_out_of_an_sso_session_goes_on_to_the_idp(acme, browser, client):
    browser.sign_in()
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    assert response.status_code == 200
    assert "SAMLRequest=" in goes_on_to(response) and "Signature=" in goes_on_to(response)
    assert client.get("/auth/verify").status_code == 401


def test_a_password_user_signs_in_normally_beside_sso(acme, auth, db):
    boss = _user(db, "boss@acme.example.com")
    assert boss is not None
    assert auth.login("boss@acme.example.com", STRONG_PASSWORD).status_code == 303


def test_each_sign_in_puts_the_member_in_the_groups_the_idp_lists(acme, browser, client, db, idp, clock):
    connect(db, client, idp, acme, clock, group_attribute="groups")
    scope = AdminScope(acme.id, acme.slug, acme.name, Actor())
    groups.create_group(db, scope, "ops", sso_name="Ops Team", now=clock.now())
    groups.create_group(db, scope, "dev", sso_name="Developers", now=clock.now())
    db.commit()
    attributes = {"email": ["ann@acme.example.com"], "displayName": ["Ann"]}

    browser.sign_in(attributes={**attributes, "groups": ["Ops Team", "Developers", "Unmapped"]})
    assert client.get("/auth/verify").headers["X-Auth-Groups"] == "dev,ops"

    browser.sign_in(attributes={**attributes, "groups": ["Developers"]})
    assert client.get("/auth/verify").headers["X-Auth-Groups"] == "dev"


def _leads_make_admins(db, client, idp, org, clock, **connection):
    """SSO with a groups attribute, and group "leads", filled from the IdP's "Team Leads", mapped to admin."""
    connect(db, client, idp, org, clock, group_attribute="groups", **connection)
    scope = AdminScope(org.id, org.slug, org.name, Actor())
    groups.create_group(db, scope, "leads", sso_name="Team Leads", role="admin", now=clock.now())
    db.commit()


def _role_of(db, email):
    db.expire_all()
    return db.scalar(select(Membership.role).join(User).where(User.email == email))


def test_groups_the_idp_fills_give_their_role_and_take_it_back(acme, browser, client, db, idp, clock):
    _leads_make_admins(db, client, idp, acme, clock)
    attributes = {"email": ["ann@acme.example.com"], "displayName": ["Ann"]}

    browser.sign_in(attributes={**attributes, "groups": ["Team Leads"]})
    assert _role_of(db, "ann@acme.example.com") == Role.ADMIN
    assert client.get("/auth/verify").headers["X-Auth-Role"] == "admin"
    change = db.scalar(select(AuditEvent).where(AuditEvent.action == "member:role_change"))
    assert change.actor_email == "idp:saml" and change.details["group"] == "leads"
    assert (change.details["old_role"], change.details["new_role"]) == ("user", "admin")

    browser.sign_in(attributes={**attributes, "groups": []})
    assert _role_of(db, "ann@acme.example.com") == Role.USER
    assert client.get("/auth/verify").headers["X-Auth-Role"] == "user"


def test_a_role_given_by_hand_lasts_while_the_idp_changes_no_mapped_group(acme, browser, client, db, idp, clock):
    _leads_make_admins(db, client, idp, acme, clock)
    attributes = {"email": ["ann@acme.example.com"], "displayName": ["Ann"], "groups": ["Team Leads"]}
    browser.sign_in(attributes=attributes)
    membership = db.scalar(select(Membership).join(User).where(User.email == "ann@acme.example.com"))
    membership.role = Role.AUDITOR
    db.commit()

    browser.sign_in(attributes=attributes)  # still in the same groups: nothing to follow

    assert _role_of(db, "ann@acme.example.com") == Role.AUDITOR


def test_the_connections_admin_groups_decide_roles_when_it_names_some(acme, browser, client, db, idp, clock):
    _leads_make_admins(db, client, idp, acme, clock, admin_groups=["idgate-admins"])

    browser.sign_in(attributes={"email": ["ann@acme.example.com"], "displayName": ["Ann"], "groups": ["Team Leads"]})

    assert _role_of(db, "ann@acme.example.com") == Role.USER  # not in idgate-admins
    assert client.get("/auth/verify").headers["X-Auth-Groups"] == "leads"


def test_the_last_admin_leaving_a_mapped_group_at_sign_in_stays_admin_and_signs_in(acme, browser, client, db,
                                                                                    idp, clock):
    _leads_make_admins(db, client, idp, acme, clock)
    attributes = {"email": ["ann@acme.example.com"], "displayName": ["Ann"]}
    browser.sign_in(attributes={**attributes, "groups": ["Team Leads"]})
    boss = db.scalar(select(Membership).join(User).where(User.email == "boss@acme.example.com"))
    boss.status = MemberStatus.INACTIVE  # Ann is the last active admin now
    db.commit()

    response = browser.sign_in(attributes={**attributes, "groups": []})

    assert response.status_code == 303
    assert _role_of(db, "ann@acme.example.com") == Role.ADMIN
    assert client.get("/auth/verify").headers["X-Auth-Groups"] == ""
