"""/api/v1/orgs/<slug>/oidc: an admin reads and sets the organization's own OpenID Connect IdP over JSON,
against an IdP no one here wrote (oidc-provider-mock over real HTTP). The client secret goes in and never
comes back out; left out, the one kept stays; an issuer that is not an IdP is refused with nothing kept;
the same domain rule as SAML; auditors read, other members get nothing."""

from __future__ import annotations

import jsonschema_rs
import pytest
from sqlalchemy import func, select

from gateway.actor import Actor
from gateway.audit.models import AuditEvent
from gateway.orgs.models import Role
from gateway.sso import connections, oidc_connections
from gateway.sso.models import OidcIdpConnection
from tests.conftest import Auth, bearer
from tests.factories import MembershipFactory, OrganizationFactory

oidc_provider_mock = pytest.importorskip("oidc_provider_mock")

SECRET = "the-client-s3cret-of-this-org"
UNREACHABLE = "http://127.0.0.1:9"  # nothing listens on the discard port
CONNECTION = {"issuer", "client_id", "client_secret_set", "scopes", "email_claim", "name_claim", "groups_claim",
              "trust_email", "default_role", "admin_groups", "email_domains", "preferred",
              "updated_at"}


@pytest.fixture(scope="module")
def issuer():
    with oidc_provider_mock.run_server_in_thread(require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


def put(api, issuer: str, headers: dict | None = None, **fields):
    """A PUT with the secret unless `client_secret=None` leaves it out; the admin's unless `headers` are given."""
    body = {"issuer": issuer, "client_id": "idgate", "client_secret": SECRET, **fields}
    return api.put("/oidc", json={name: value for name, value in body.items() if value is not None},
                   headers=headers or api.headers)


def sealed(db, org_id: int) -> str:
    db.expire_all()
    return db.scalar(select(OidcIdpConnection.client_secret_sealed).where(OidcIdpConnection.org_id == org_id))


def configure_events(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "oidc_idp:configure"))


def signed_in(app, db, org, role) -> dict:
    membership = MembershipFactory(org=org, role=role)
    db.flush()
    browser = app.test_client()
    assert Auth(browser).login(membership.user.email).status_code == 303
    return bearer(browser)


def test_before_any_connection_it_answers_the_redirect_uri_and_no_connection(api, app):
    response = api.get("/oidc")

    assert response.status_code == 200
    base_url = app.extensions["idgate.settings"].base_url
    assert response.json == {"rp": {"redirect_uri": f"{base_url}/oidc/{api.org.slug}/callback"}, "connection": None}


def test_put_then_get_round_trips_without_the_secret_in_any_answer(api, db, app, issuer):
    response = put(api, issuer, email_domains="Example.org, example.net", admin_groups=["idp-admins"],
                   groups_claim="groups", trust_email=True, default_role="auditor", scopes="openid email")

    assert response.status_code == 200, response.json
    connection = response.json["connection"]
    assert set(connection) == CONNECTION
    assert {name: connection[name] for name in CONNECTION - {"updated_at"}} == {
        "issuer": issuer, "client_id": "idgate", "client_secret_set": True, "scopes": "openid email",
        "email_claim": "email", "name_claim": "name", "groups_claim": "groups", "trust_email": True,
        "default_role": "auditor", "admin_groups": ["idp-admins"], "email_domains": ["example.net", "example.org"],
        "preferred": True}
    read = api.get("/oidc")
    assert read.json == response.json
    for answer in (response, read):
        assert SECRET not in answer.get_data(as_text=True)
    connection_now = oidc_connections.oidc_connection(db, api.org.slug)
    assert oidc_connections.client_secret(connection_now, app.extensions["idgate.settings"].certs_dir) == SECRET
    assert SECRET not in sealed(db, api.org.id)  # sealed at rest, too
    assert configure_events(db) == 1


def test_the_answers_are_the_ones_the_document_describes(api, client, issuer):
    spec = client.get("/api/v1/openapi.json").json
    operations = spec["paths"]["/orgs/{slug}/oidc"]
    answer = {"$ref": "#/components/schemas/OidcIdpAnswer", "components": spec["components"]}
    validator = jsonschema_rs.validator_for(answer, validate_formats=True)

    assert validator.is_valid(api.get("/oidc").json)
    assert validator.is_valid(put(api, issuer).json)
    assert sorted(int(s) for s in operations["put"]["responses"]) == [200, 400, 401, 403, 404, 409, 413, 415, 503]
    body = spec["components"]["schemas"]["OidcIdpSettings"]
    assert body["properties"]["client_secret"]["writeOnly"] is True
    assert set(body["required"]) == {"issuer", "client_id"}
    assert set(spec["components"]["schemas"]["OidcIdpConnection"]["properties"]) == CONNECTION  # no secret


def test_a_first_connection_without_a_secret_is_refused_before_the_idp_is_asked(api, db):
    response = put(api, UNREACHABLE, client_secret=None)  # not idp_unreachable: the IdP was not asked

    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_field"
    assert "client_secret" in response.json["error"]["message"]
    assert oidc_connections.oidc_settings(db, api.org.id) is None
    assert configure_events(db) == 0


@pytest.mark.parametrize("secret", [None, "", "   ", 12345])
def test_a_secret_that_is_no_text_is_refused_even_with_a_connection_to_keep_one(api, db, issuer, secret):
    assert put(api, issuer).status_code == 200
    kept = sealed(db, api.org.id)

    response = api.put("/oidc", json={"issuer": issuer, "client_id": "other", "client_secret": secret})

    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_field"
    assert sealed(db, api.org.id) == kept
    assert oidc_connections.oidc_settings(db, api.org.id).client_id == "idgate"


def test_reconnecting_without_the_secret_keeps_the_sealed_one(api, db, app, issuer):
    assert put(api, issuer).status_code == 200
    kept = sealed(db, api.org.id)

    response = put(api, issuer, client_secret=None, client_id="idgate-renamed", email_domains=["example.org"])

    assert response.status_code == 200, response.json
    assert response.json["connection"]["client_id"] == "idgate-renamed"
    assert response.json["connection"]["email_domains"] == ["example.org"]
    assert sealed(db, api.org.id) == kept  # the very same sealed text, not sealed again
    assert configure_events(db) == 2


def test_a_new_secret_replaces_the_kept_one(api, db, app, issuer):
    assert put(api, issuer).status_code == 200

    assert put(api, issuer, client_secret="a-rotated-s3cret").status_code == 200

    connection = oidc_connections.oidc_connection(db, api.org.slug)
    assert oidc_connections.client_secret(connection, app.extensions["idgate.settings"].certs_dir) == "a-rotated-s3cret"


def test_an_issuer_that_is_no_idp_is_refused_and_the_connection_stays(api, db, issuer):
    first = put(api, UNREACHABLE)
    assert first.status_code == 400 and first.json["error"]["code"] == "idp_unreachable"
    assert oidc_connections.oidc_settings(db, api.org.id) is None
    assert put(api, issuer).status_code == 200
    kept = sealed(db, api.org.id)

    response = put(api, UNREACHABLE, client_secret="another-s3cret")

    assert response.status_code == 400 and response.json["error"]["code"] == "idp_unreachable"
    assert SECRET not in response.get_data(as_text=True) and "another-s3cret" not in response.get_data(as_text=True)
    assert api.get("/oidc").json["connection"]["issuer"] == issuer
    assert sealed(db, api.org.id) == kept
    assert configure_events(db) == 1


def test_a_domain_another_organization_declared_is_a_conflict_and_nothing_is_changed(api, db, app, clock, issuer):
    other = OrganizationFactory()
    db.flush()
    oidc_connections.configure(db, other.id, issuer=issuer, client_id="theirs", client_secret="their-s3cret",
                               certs_dir=app.extensions["idgate.settings"].certs_dir,
                               email_domains=["acme.example.com"], actor=Actor(), now=clock.now())
    db.flush()
    assert put(api, issuer, email_domains=["mine.example"]).status_code == 200

    refused = put(api, issuer, client_id="changed", email_domains=["mine.example", "acme.example.com"])

    assert refused.status_code == 409 and refused.json["error"]["code"] == "domain_taken"
    assert "acme.example.com" in refused.json["error"]["message"]
    connection = api.get("/oidc").json["connection"]
    assert connection["client_id"] == "idgate" and connection["email_domains"] == ["mine.example"]
    assert connections.declared_domains(db, other.id) == ["acme.example.com"]


def test_an_auditor_reads_the_connection_and_changes_nothing(app, api, db, issuer):
    connected = put(api, issuer).json
    auditor = signed_in(app, db, api.org, Role.AUDITOR)

    assert api.get("/oidc", headers=auditor).json == connected
    response = put(api, issuer, client_id="changed", headers=auditor)
    assert response.status_code == 403 and response.json["error"]["code"] == "read_only"
    assert api.get("/oidc").json == connected


def test_a_member_who_is_no_admin_gets_nothing(app, api, db, issuer):
    assert put(api, issuer).status_code == 200
    member = signed_in(app, db, api.org, Role.USER)

    for response in (api.get("/oidc", headers=member), put(api, issuer, client_id="changed", headers=member)):
        assert response.status_code == 403 and response.json["error"]["code"] == "admins_only"
    assert oidc_connections.oidc_settings(db, api.org.id).client_id == "idgate"
