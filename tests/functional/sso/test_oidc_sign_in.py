"""Signing in through an organization's own OpenID Connect IdP (issue 21), against an IdP no one here
wrote (oidc-provider-mock over real HTTP): the first sign-in provisions, the next one updates, the
same no-takeover rules as SAML, /sso routes by declared domain, and every refused answer is a page
with a reason (and an audit row), never a 500."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from gateway.accounts.models import User
from gateway.actor import Actor
from gateway.audit.models import AuditEvent
from gateway.orgs.models import Membership, MemberStatus, Role
from gateway.sso import oidc_connections
from tests.conftest import csrf_token
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

oidc_provider_mock = pytest.importorskip("oidc_provider_mock")


@pytest.fixture(scope="module")
def issuer():
    with oidc_provider_mock.run_server_in_thread(require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


def person(issuer: str, sub: str, **claims) -> None:
    assert requests.put(f"{issuer}/users/{sub}", json=claims, timeout=5).status_code == 204


@pytest.fixture
def acme(db, app, clock, issuer):
    org = OrganizationFactory(slug="acme", name="Acme")
    MembershipFactory(org=org, admin=True, user__email="boss@acme.example.com")
    db.flush()
    oidc_connections.configure(db, org.id, issuer=issuer, client_id="idgate", client_secret="s3cret-of-acme",
                               certs_dir=app.extensions["idgate.settings"].certs_dir,
                               email_domains=["acme.example.com"], actor=Actor(), now=clock.now())
    db.flush()
    return org


def at_the_idp(client, sub: str, slug: str = "acme", next_url: str | None = None):
    """The browser goes to our start, on to the IdP, signs in there as `sub`, and comes back: our answer."""
    started = client.get(f"/oidc/{slug}/login" + (f"?next={next_url}" if next_url else ""))
    assert started.status_code == 302, started.get_data(as_text=True)[:300]
    answered = requests.post(started.headers["Location"], data={"sub": sub}, allow_redirects=False, timeout=5)
    assert answered.status_code == 302, answered.text[:300]
    back = urlsplit(answered.headers["Location"])
    return client.get(f"{back.path}?{back.query}")


def test_a_first_sign_in_on_a_declared_domain_creates_an_sso_only_member(client, db, acme, issuer):
    person(issuer, "jane-1", email="jane@acme.example.com", email_verified=True, name="Jane Doe")

    answer = at_the_idp(client, "jane-1")

    assert answer.status_code == 303 and answer.headers["Location"] == "/account"
    user = db.scalar(select(User).where(User.email == "jane@acme.example.com"))
    assert user.name == "Jane Doe" and user.password_hash is None  # SSO-only: no password to guess
    membership = db.scalar(select(Membership).where(Membership.user_id == user.id))
    assert membership.org_id == acme.id and membership.role == Role.USER
    assert client.get("/auth/verify").headers["X-Auth-Email"] == "jane@acme.example.com"


def test_the_next_sign_in_updates_the_name_and_keeps_the_account(client, db, acme, issuer):
    person(issuer, "joe-2", email="joe@acme.example.com", email_verified=True, name="Joe")
    at_the_idp(client, "joe-2")
    person(issuer, "joe-2", email="joe@acme.example.com", email_verified=True, name="Joseph Bloggs")

    assert at_the_idp(app_client := client, "joe-2").status_code == 303
    users = db.scalars(select(User).where(User.email == "joe@acme.example.com")).all()
    assert len(users) == 1
    assert app_client.get("/auth/verify").headers["X-Auth-Name"] == "Joseph Bloggs"


def test_the_person_returns_to_the_page_they_asked_for(client, acme, issuer):
    person(issuer, "ann-3", email="ann@acme.example.com", email_verified=True)
    assert at_the_idp(client, "ann-3", next_url="/account/security").headers["Location"] == "/account/security"


def test_an_unverified_email_creates_no_account(client, db, acme, issuer):
    person(issuer, "eve-4", email="eve@acme.example.com", email_verified=False)

    answer = at_the_idp(client, "eve-4")

    assert answer.status_code == 403
    assert db.scalar(select(User).where(User.email == "eve@acme.example.com")) is None


def test_an_email_naming_an_existing_password_user_does_not_take_the_account_over(client, db, acme, issuer):
    UserFactory(email="victim@elsewhere.example")  # a password account, of no organization here
    db.flush()
    person(issuer, "mallory-5", email="victim@elsewhere.example", email_verified=True)

    answer = at_the_idp(client, "mallory-5")

    assert answer.status_code == 403
    assert "idgate_session" not in answer.headers.get("Set-Cookie", "")


def test_a_deactivated_member_is_refused(client, db, acme, issuer):
    person(issuer, "kim-6", email="kim@acme.example.com", email_verified=True)
    at_the_idp(client, "kim-6")
    user = db.scalar(select(User).where(User.email == "kim@acme.example.com"))
    db.scalar(select(Membership).where(Membership.user_id == user.id)).status = MemberStatus.INACTIVE
    db.flush()
    client.delete_cookie("idgate_session")

    answer = at_the_idp(client, "kim-6")

    assert answer.status_code == 403 and "deactivated" in answer.get_data(as_text=True)


def test_an_sso_only_member_cannot_use_the_password_form(client, db, acme, issuer):
    person(issuer, "lee-7", email="lee@acme.example.com", email_verified=True)
    at_the_idp(client, "lee-7")
    client.delete_cookie("idgate_session")
    answer = client.post("/login", data={"csrf_token": csrf_token(client), "email": "lee@acme.example.com",
                                         "password": "anything at all 2046"})
    assert answer.status_code != 303


def test_a_state_is_good_for_one_answer(client, db, acme, issuer):
    person(issuer, "max-8", email="max@acme.example.com", email_verified=True)
    started = client.get("/oidc/acme/login")
    answered = requests.post(started.headers["Location"], data={"sub": "max-8"}, allow_redirects=False, timeout=5)
    back = urlsplit(answered.headers["Location"])
    assert client.get(f"{back.path}?{back.query}").status_code == 303

    again = client.get(f"{back.path}?{back.query}")

    assert again.status_code == 400 and "unknown_state" in again.get_data(as_text=True)


@pytest.mark.parametrize("tampered", [
    {"state": "not-one-we-sent"},
    {"iss": "https://evil.example"},  # RFC 9207: an answer from another IdP (mix-up)
    {"code": "forged"},
    {"error": "access_denied", "code": None},
])
def test_a_tampered_answer_is_refused_with_a_reason_and_an_audit_row(client, db, acme, issuer, tampered):
    person(issuer, "ned-9", email="ned@acme.example.com", email_verified=True)
    started = client.get("/oidc/acme/login")
    answered = requests.post(started.headers["Location"], data={"sub": "ned-9"}, allow_redirects=False, timeout=5)
    query = {name: values[0] for name, values in parse_qs(urlsplit(answered.headers["Location"]).query).items()}
    query.update(tampered)

    answer = client.get("/oidc/acme/callback", query_string={k: v for k, v in query.items() if v is not None})

    assert answer.status_code in (400, 403)
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "oidc_idp:login_denied")) is not None
    assert db.scalar(select(User).where(User.email == "ned@acme.example.com")) is None


def test_a_callback_of_another_organization_does_not_take_acmes_answer(client, db, acme, issuer, app, clock):
    other = OrganizationFactory(slug="globex", name="Globex")
    db.flush()
    oidc_connections.configure(db, other.id, issuer=issuer, client_id="idgate-globex", client_secret="globex-s3cret",
                               certs_dir=app.extensions["idgate.settings"].certs_dir, email_domains=["globex.example"],
                               actor=Actor(), now=clock.now())
    person(issuer, "ivy-10", email="ivy@acme.example.com", email_verified=True)
    started = client.get("/oidc/acme/login")
    answered = requests.post(started.headers["Location"], data={"sub": "ivy-10"}, allow_redirects=False, timeout=5)
    query = urlsplit(answered.headers["Location"]).query

    assert client.get(f"/oidc/globex/callback?{query}").status_code == 400  # acme's state, not globex's


def test_sso_routes_a_declared_domain_to_the_organizations_oidc_idp(client, acme):
    page = client.post("/sso", data={"csrf_token": csrf_token(client, "/sso"), "who": "someone@acme.example.com"})
    assert page.status_code == 200 and "/oidc/acme/login" in page.get_data(as_text=True)


def test_an_issuer_that_is_no_idp_is_refused_when_configured(db, app, clock):
    org = OrganizationFactory(slug="initech")
    db.flush()
    from gateway.errors import BadRequest
    with pytest.raises(BadRequest) as caught:
        oidc_connections.configure(db, org.id, issuer="http://127.0.0.1:9", client_id="x", client_secret="y",
                                   certs_dir=app.extensions["idgate.settings"].certs_dir, actor=Actor(),
                                   now=clock.now())
    assert caught.value.code == "idp_unreachable"


def test_the_client_secret_is_sealed_at_rest(db, acme):
    from gateway.sso.models import OidcIdpConnection
    row = db.scalar(select(OidcIdpConnection).where(OidcIdpConnection.org_id == acme.id))
    assert "s3cret-of-acme" not in row.client_secret_sealed


def test_an_operator_connects_the_idp_from_the_command_line_and_members_sign_in(runner, client, db, issuer,
                                                                               tmp_path):
    OrganizationFactory(slug="umbrella", name="Umbrella")
    db.flush()
    secret = tmp_path / "secret"
    secret.write_text("umbrella-client-s3cret\n")

    result = runner.invoke(args=["oidc", "idp", "configure", "umbrella", "--issuer", issuer, "--client-id", "idgate",
                                 "--client-secret-file", str(secret), "--email-domain", "umbrella.example",
                                 "--default-role", "auditor"])

    assert result.exit_code == 0, result.output
    assert "/oidc/umbrella/callback" in result.output and "umbrella-client-s3cret" not in result.output
    person(issuer, "ada-11", email="ada@umbrella.example", email_verified=True)
    assert at_the_idp(client, "ada-11", slug="umbrella").status_code == 303
    assert client.get("/auth/verify").headers["X-Auth-Role"] == "auditor"


def test_the_command_line_refuses_an_issuer_that_is_no_idp(runner, db, tmp_path):
    OrganizationFactory(slug="hooli")
    db.flush()
    (tmp_path / "secret").write_text("x")
    result = runner.invoke(args=["oidc", "idp", "configure", "hooli", "--issuer", "http://127.0.0.1:9", "--client-id",
                                 "x", "--client-secret-file", str(tmp_path / "secret")])
    assert result.exit_code != 0 and "could not be fetched" in result.output
