"""Sign-up through the form: a new organization with its first admin, or nothing at all."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from gateway.accounts.models import User
from gateway.audit.models import AuditEvent
from gateway.orgs.models import Membership, Organization, Role
from gateway.sessions.cookies import COOKIE_NAME
from gateway.sessions.models import UserSession
from tests.conftest import STRONG_PASSWORD, csrf_token
from tests.factories import OrganizationFactory, UserFactory

CLOSED_PAGE = "Sign-up is closed"


def sign_up(client, **fields):
    data = {"org_name": "Acme", "org_slug": "acme", "name": "Ada Lovelace", "email": "Ada@Example.com",
            "password": STRONG_PASSWORD, **fields}
    return client.post("/signup", data={"csrf_token": csrf_token(client, "/signup"), **data})


def field_errors(response, field: str) -> list[str]:
    """The messages the page shows next to one field."""
    match = re.search(rf'<ul class="errors" id="{field}-errors">(.*?)</ul>', response.get_data(as_text=True), re.S)
    return [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", match.group(1), re.S)] if match else []


def counts(db) -> dict[str, int]:
    db.expire_all()
    return {model.__name__: db.scalar(select(func.count()).select_from(model))
            for model in (Organization, User, Membership, UserSession, AuditEvent)}


NOTHING = {"Organization": 0, "User": 0, "Membership": 0, "UserSession": 0, "AuditEvent": 0}


class TestSignUpCreatesTheOrganizationAndItsAdmin:
    def test_sign_up_redirects_with_a_session_cookie_to_the_overview(self, client, db):
        response = sign_up(client)

        assert response.status_code == 303
        assert response.headers["Location"] == "/admin"  # its checklist says what to do next
        assert client.get_cookie(COOKIE_NAME) is not None
        assert client.get("/account").status_code == 200

    def test_the_new_session_is_the_admin_of_the_new_organization(self, client, db):
        sign_up(client)

        verify = client.get("/auth/verify")
        assert verify.status_code == 200
        assert verify.headers["X-Auth-Email"] == "ada@example.com"
        assert verify.headers["X-Auth-Name"] == "Ada Lovelace"
        assert verify.headers["X-Auth-Org"] == "acme"
        assert verify.headers["X-Auth-Role"] == "admin"

    def test_sign_up_writes_the_organization_the_admin_membership_and_the_audit_trail(self, client, db):
        sign_up(client)

        db.expire_all()
        org = db.scalar(select(Organization).where(Organization.slug == "acme"))
        user = db.scalar(select(User).where(User.email == "ada@example.com"))
        membership = db.scalar(select(Membership).where(Membership.user_id == user.id))
        assert org.name == "Acme"
        assert (membership.org_id, membership.role) == (org.id, Role.ADMIN)
        assert not user.must_change_password
        assert user.password_hash and STRONG_PASSWORD not in user.password_hash
        actions = set(db.scalars(select(AuditEvent.action)))
        assert {"org:create", "user:signup"} <= actions

    def test_the_chosen_password_signs_in_afterwards(self, app, client, db):
        sign_up(client)

        other = app.test_client()
        response = other.post("/login", data={"csrf_token": csrf_token(other), "email": "ada@example.com",
                                              "password": STRONG_PASSWORD})
        assert response.status_code == 303


class TestSignupSetting:
    def test_first_is_the_default_and_refuses_a_second_organization(self, app, client, db):
        assert sign_up(client).status_code == 303

        other = app.test_client()
        page = other.get("/signup")
        assert page.status_code == 403
        assert CLOSED_PAGE in page.get_data(as_text=True)
        refused = other.post("/signup", data={"csrf_token": csrf_token(other, "/login"), "org_name": "Beta",
                                              "org_slug": "beta", "name": "Bob Builder", "email": "b@example.com",
                                              "password": STRONG_PASSWORD})
        assert refused.status_code == 403
        assert counts(db)["Organization"] == 1

    @pytest.mark.settings(signup="first")
    def test_first_refuses_once_any_organization_exists(self, client, db):
        OrganizationFactory()

        assert client.get("/signup").status_code == 403

    @pytest.mark.settings(signup="open")
    def test_open_allows_a_second_organization(self, app, client, db):
        assert sign_up(client).status_code == 303

        second = sign_up(app.test_client(), org_slug="beta", org_name="Beta", email="bob@example.com",
                         name="Bob Builder")
        assert second.status_code == 303
        assert counts(db)["Organization"] == 2

    @pytest.mark.settings(signup="closed")
    def test_closed_refuses_even_the_first_organization(self, client, db):
        page = client.get("/signup")
        assert page.status_code == 403
        assert CLOSED_PAGE in page.get_data(as_text=True)

        refused = client.post("/signup", data={"csrf_token": csrf_token(client, "/login"), "org_name": "Acme",
                                               "org_slug": "acme", "name": "Ada Lovelace",
                                               "email": "ada@example.com", "password": STRONG_PASSWORD})
        assert refused.status_code == 403
        assert counts(db) == NOTHING


class TestRefusedSignUpWritesNothing:
    @pytest.mark.parametrize(("password", "problem"), [
        ("short pass", "Use at least 15 characters."),
        ("ada lovelace rocks 1815", "Do not use your name in your password."),
        ("my address is ada at example", "Do not use your email address in your password."),
    ])
    def test_a_password_policy_refusal_names_the_problem_and_writes_no_rows(self, client, db, password, problem):
        response = sign_up(client, password=password)

        assert response.status_code == 400
        assert problem in field_errors(response, "password")
        assert client.get_cookie(COOKIE_NAME) is None
        assert counts(db) == NOTHING

    def test_a_refused_sign_up_keeps_what_was_typed_except_the_password(self, client, db):
        response = sign_up(client, password="short pass")

        page = response.get_data(as_text=True)
        assert 'value="acme"' in page and 'value="Acme"' in page
        assert "short pass" not in page

    @pytest.mark.settings(signup="open")
    def test_a_taken_slug_is_shown_next_to_the_short_name_and_nothing_is_written(self, client, db):
        OrganizationFactory(slug="acme")
        before = counts(db)

        response = sign_up(client, org_slug="acme")

        assert response.status_code == 400
        assert field_errors(response, "org_slug") == ["The short name 'acme' is taken."]
        assert counts(db) == before
        assert db.scalar(select(User).where(User.email == "ada@example.com")) is None

    @pytest.mark.settings(signup="open")
    def test_a_taken_email_is_shown_next_to_the_email_and_no_organization_is_half_written(self, client, db):
        UserFactory(email="ada@example.com")
        before = counts(db)

        response = sign_up(client, org_slug="brand-new", email="ADA@example.com")

        assert response.status_code == 400
        assert field_errors(response, "email") == ["An account with this email already exists."]
        assert counts(db) == before
        assert db.scalar(select(Organization).where(Organization.slug == "brand-new")) is None

    @pytest.mark.parametrize("name", ["Al", "A" * 41, "   Al   "])
    def test_names_shorter_than_3_or_longer_than_40_characters_are_refused(self, client, db, name):
        response = sign_up(client, name=name)

        assert response.status_code == 400
        assert field_errors(response, "name") == ["A name takes 3 to 40 characters."]
        assert counts(db) == NOTHING

    @pytest.mark.parametrize("name", ["Ada", "A" * 40])
    def test_names_of_3_and_40_characters_are_accepted(self, client, db, name):
        assert sign_up(client, name=name, password="violet tractor mango 1987 sunset").status_code == 303

    @pytest.mark.parametrize(("fields", "field", "message"), [
        ({"org_slug": "Not A Slug!"}, "org_slug",
         "The organization's short name takes 1 to 40 lowercase letters, digits and hyphens."),
        ({"org_name": "A"}, "org_name", "The organization's name takes 2 to 80 characters."),
        ({"email": "not-an-email"}, "email", None),
    ])
    def test_other_bad_fields_are_shown_next_to_the_field(self, client, db, fields, field, message):
        response = sign_up(client, **fields)

        assert response.status_code == 400
        errors = field_errors(response, field)
        assert errors and (message is None or errors == [message])
        assert counts(db) == NOTHING
