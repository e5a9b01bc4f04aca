"""/admin/sso, its OpenID Connect form: an admin connects the organization's own OIDC IdP (an IdP no one
here wrote, oidc-provider-mock over real HTTP); the secret never comes back into a page, a wrong issuer
is named on its field and nothing is kept, and only an admin with this browser's CSRF token changes it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from gateway.actor import Actor
from gateway.audit.models import AuditEvent
from gateway.orgs.models import Role
from gateway.sso import connections, oidc_connections, routing
from tests.conftest import Auth, csrf_token
from tests.factories import MembershipFactory
from tests.functional.test_csrf import BAD_TOKENS, assert_refused_for_csrf
from tests.helpers.idp import TestIdP

oidc_provider_mock = pytest.importorskip("oidc_provider_mock")

SECRET = "the-client-s3cret-of-this-org"
UNREACHABLE = "http://127.0.0.1:9"  # nothing listens on the discard port


@pytest.fixture(scope="module")
def issuer():
    with oidc_provider_mock.run_server_in_thread(require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def org(signed_in_admin):
    return signed_in_admin.org


def post(client, issuer: str, token: str | None = "from the page", **fields):
    """The OIDC form as a browser sends it (its fields are named "oidc-…"), with this browser's token."""
    data = {"issuer": issuer, "client_id": "idgate", "client_secret": SECRET, "default_role": "user",
            "email_domains": "example.org", **fields}
    data = {f"oidc-{name}": value for name, value in data.items() if value is not None}
    if token == "from the page":
        token = csrf_token(client, "/admin/sso")
    if token is not None:
        data["oidc-csrf_token"] = token
    return client.post("/admin/sso/oidc", data=data)


def configure_events(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "oidc_idp:configure"))


def sealed_secret(db, app, slug: str) -> str:
    return oidc_connections.client_secret(oidc_connections.oidc_connection(db, slug),
                                          app.extensions["idgate.settings"].certs_dir)


def test_the_page_shows_the_redirect_uri_to_register_at_the_idp(client, app, org):
    settings = app.extensions["idgate.settings"]
    page = client.get("/admin/sso").get_data(as_text=True)

    assert f"<code>{settings.base_url}/oidc/{org.slug}/callback</code>" in page
    assert 'action="/admin/sso/oidc"' in page and 'type="password"' in page


def test_an_admin_connects_the_idp_through_the_form(client, db, app, org, issuer):
    response = post(client, issuer, email_domains="example.org, example.net", admin_groups="idp-admins",
                    groups_claim="groups", trust_email="y", default_role="admin")

    assert response.status_code == 303 and response.headers["Location"] == "/admin/sso"
    saved = oidc_connections.oidc_settings(db, org.id)
    assert (saved.issuer, saved.client_id, saved.scopes) == (issuer, "idgate", oidc_connections.DEFAULT_SCOPES)
    assert (saved.email_claim, saved.name_claim, saved.groups_claim) == ("email", "name", "groups")
    assert saved.trust_email is True and saved.default_role == Role.ADMIN
    assert saved.admin_groups == ["idp-admins"] and saved.email_domains == ["example.net", "example.org"]
    assert sealed_secret(db, app, org.slug) == SECRET
    assert configure_events(db) == 1

    page = client.get("/admin/sso").get_data(as_text=True)
    assert f"Connected to <code>{issuer}</code>" in page
    assert f"Sign-ins of {org.name} go to your OpenID Connect IdP" in page
    assert f'href="/oidc/{org.slug}/login"' in page
    assert 'id="oidc-email_domains"' in page and 'value="example.net, example.org"' in page
    assert SECRET not in page


def test_a_wrong_issuer_is_named_on_its_field_and_nothing_is_kept(client, db, org):
    response = post(client, UNREACHABLE)

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    issuer_input = re.search(r'<input[^>]*id="oidc-issuer"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in issuer_input and 'aria-describedby="oidc-issuer-hint oidc-issuer-errors"' in issuer_input
    assert re.search(r'<ul class="errors" id="oidc-issuer-errors">\s*<li>[^<]+</li>', page)
    assert SECRET not in page  # not even on the page that gives the form back
    assert f'value="{UNREACHABLE}"' in page  # what they typed, to correct it
    assert oidc_connections.oidc_settings(db, org.id) is None
    assert connections.declared_domains(db, org.id) == []
    assert configure_events(db) == 0


def test_an_issuer_that_is_left_empty_is_asked_for(client, db, org):
    response = post(client, "")

    assert response.status_code == 400
    assert "Enter your IdP&#39;s issuer URL." in response.get_data(as_text=True)
    assert oidc_connections.oidc_settings(db, org.id) is None


def test_a_first_connection_needs_a_secret(client, db, org, issuer):
    response = post(client, issuer, client_secret="")

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert re.search(r'id="oidc-client_secret-errors">\s*<li>[^<]+</li>', page)
    assert oidc_connections.oidc_settings(db, org.id) is None


def test_saving_again_with_an_empty_secret_keeps_it(client, db, app, org, issuer):
    assert post(client, issuer).status_code == 303

    response = post(client, issuer, client_secret="", client_id="idgate-renamed", scopes="openid email")

    assert response.status_code == 303
    saved = oidc_connections.oidc_settings(db, org.id)
    assert saved.client_id == "idgate-renamed" and saved.scopes == "openid email"
    assert sealed_secret(db, app, org.slug) == SECRET
    assert configure_events(db) == 2


def test_a_new_secret_replaces_the_old_one(client, db, app, org, issuer):
    assert post(client, issuer).status_code == 303

    assert post(client, issuer, client_secret="a-rotated-s3cret").status_code == 303

    assert sealed_secret(db, app, org.slug) == "a-rotated-s3cret"


def test_both_forms_show_the_organizations_one_list_of_domains(client, db, org, issuer, clock, tmp_path):
    saml_idp = TestIdP(tmp_path / "idp")
    connections.configure(db, org.id, metadata_xml=saml_idp.metadata_xml(), email_domains=["a.example", "b.example"],
                          actor=Actor(), now=clock.now())
    db.flush()
    page = client.get("/admin/sso").get_data(as_text=True)
    assert page.count('value="a.example, b.example"') == 2  # the SAML form's and the OIDC form's
    assert f"Sign-ins of {org.name} go to your SAML IdP" in page

    assert post(client, issuer, email_domains="a.example, b.example", preferred="y").status_code == 303

    page = client.get("/admin/sso").get_data(as_text=True)
    assert page.count('value="a.example, b.example"') == 2
    assert f"Sign-ins of {org.name} go to your OpenID Connect IdP rather than the SAML IdP" in page
    assert connections.idp_settings(db, org.id).email_domains == ["a.example", "b.example"]


def test_while_both_are_connected_the_admin_keeps_sign_ins_with_saml_until_the_move_is_done(
        client, db, org, issuer, clock, tmp_path):
    connections.configure(db, org.id, metadata_xml=TestIdP(tmp_path / "idp").metadata_xml(),
                          email_domains=["a.example"], actor=Actor(), now=clock.now())
    db.flush()

    assert post(client, issuer, email_domains="a.example").status_code == 303  # the box left unticked

    page = client.get("/admin/sso").get_data(as_text=True)
    assert f"Sign-ins of {org.name} go to your SAML IdP rather than the OpenID Connect IdP" in page
    assert f"/oidc/{org.slug}/login" in page  # where to try the new IdP meanwhile
    assert routing.protocol_of(db, org.slug) == "saml"

    assert post(client, issuer, email_domains="a.example", preferred="y").status_code == 303

    assert routing.protocol_of(db, org.slug) == "oidc"


def test_without_a_saml_idp_there_is_nothing_to_choose_and_the_choice_is_carried_through_a_save(
        client, db, org, issuer):
    hidden = 'type="hidden" name="oidc-preferred" value="y"'
    assert hidden in client.get("/admin/sso").get_data(as_text=True)  # a new connection will take sign-ins

    assert post(client, issuer, preferred="y").status_code == 303  # as the browser sends the page

    assert hidden in client.get("/admin/sso").get_data(as_text=True)
    assert oidc_connections.oidc_settings(db, org.id).preferred is True
