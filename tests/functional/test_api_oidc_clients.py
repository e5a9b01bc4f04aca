"""/api/v1/orgs/<slug>/oidc-clients: registering OpenID Connect clients over JSON, a secret answered
once (at registration and at each rotation), the same refusals as the console; auditors read,
another organization's clients are not there."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import func, select

from gateway.actor import Actor
from gateway.apps.models import App
from gateway.audit.models import AuditEvent
from gateway.oidc import clients
from gateway.oidc.models import OidcClient
from gateway.orgs.access import AdminScope
from gateway.orgs.models import Role
from tests.conftest import Auth, bearer
from tests.factories import MembershipFactory

CALLBACK = "https://grafana.example.com/login/generic_oauth"
FIELDS = {"id", "app_id", "name", "client_id", "public", "redirect_uris", "post_logout_redirect_uris",
          "backchannel_logout_uri", "id_token_signed_response_alg", "require_consent", "created_at"}


@pytest.fixture
def elsewhere(db, clock):
    """Another organization's client."""
    other = MembershipFactory(admin=True)
    db.flush()
    scope = AdminScope(other.org_id, other.org.slug, other.org.name, Actor(user_id=other.user_id))
    theirs, _ = clients.create_client(db, scope, name="Their app", redirect_uris=[CALLBACK], now=clock.now())
    db.flush()
    return theirs


def _count(db, model=OidcClient) -> int:
    return db.scalar(select(func.count()).select_from(model))


def test_create_list_get_patch_delete(api, db):
    created = api.post("/oidc-clients", json={
        "name": "Grafana", "redirect_uris": [CALLBACK, "http://127.0.0.1:3000/cb"],
        "post_logout_redirect_uris": ["https://grafana.example.com/"], "require_consent": True})
    assert created.status_code == 201, created.json
    client = created.json["oidc_client"]
    secret = created.json["client_secret"]
    assert set(client) == FIELDS
    assert client == {**client, "name": "Grafana", "public": False, "redirect_uris": sorted([CALLBACK, "http://127.0.0.1:3000/cb"]),
                      "post_logout_redirect_uris": ["https://grafana.example.com/"], "backchannel_logout_uri": None,
                      "id_token_signed_response_alg": "RS256", "require_consent": True}
    assert clients.secret_matches(db.get(OidcClient, client["id"]), secret)

    assert api.get("/oidc-clients").json == {"oidc_clients": [client]}
    assert api.get(f"/oidc-clients/{client['id']}").json == {"oidc_client": client}  # the secret: never again
    assert api.get(f"/apps/{client['app_id']}").json["app"]["name"] == "Grafana"  # its rule is its app's

    changed = api.patch(f"/oidc-clients/{client['id']}", json={
        "redirect_uris": ["https://grafana.example.com/new"], "id_token_signed_response_alg": "ES256",
        "backchannel_logout_uri": "https://grafana.example.com/backchannel"})
    assert changed.status_code == 200, changed.json
    assert changed.json["oidc_client"] == {**client, "redirect_uris": ["https://grafana.example.com/new"],
                                           "id_token_signed_response_alg": "ES256",
                                           "backchannel_logout_uri": "https://grafana.example.com/backchannel"}
    cleared = api.patch(f"/oidc-clients/{client['id']}", json={"backchannel_logout_uri": None,
                                                               "post_logout_redirect_uris": []})
    assert cleared.json["oidc_client"]["backchannel_logout_uri"] is None
    assert cleared.json["oidc_client"]["post_logout_redirect_uris"] == []

    deleted = api.delete(f"/oidc-clients/{client['id']}")
    assert deleted.status_code == 204 and deleted.get_data() == b""
    assert api.get(f"/oidc-clients/{client['id']}").json["error"]["code"] == "unknown_client"
    assert api.get(f"/apps/{client['app_id']}").status_code == 404  # the app went with it
    assert api.get("/oidc-clients").json == {"oidc_clients": []}


def test_a_public_client_is_answered_without_a_secret_and_has_none_to_rotate(api, db):
    created = api.post("/oidc-clients", json={"name": "SPA", "redirect_uris": [CALLBACK], "public": True})
    assert created.status_code == 201
    assert created.json["client_secret"] is None and created.json["oidc_client"]["public"] is True
    rotated = api.post(f"/oidc-clients/{created.json['oidc_client']['id']}/secret")
    assert rotated.status_code == 409 and rotated.json["error"]["code"] == "public_client"


def test_rotating_answers_the_new_secret_once(api, db):
    created = api.post("/oidc-clients", json={"name": "Grafana", "redirect_uris": [CALLBACK]}).json
    pk, old = created["oidc_client"]["id"], created["client_secret"]
    rotated = api.post(f"/oidc-clients/{pk}/secret")
    assert rotated.status_code == 200
    assert rotated.json["oidc_client"] == created["oidc_client"]
    new = rotated.json["client_secret"]
    db.expire_all()
    stored = db.get(OidcClient, pk)
    assert clients.secret_matches(stored, new) and not clients.secret_matches(stored, old)
    events = list(db.scalars(select(AuditEvent).where(AuditEvent.action.like("oidc_client:%"))))
    assert {e.action for e in events} == {"oidc_client:create", "oidc_client:secret_rotate"}
    assert all(old not in str(e.details) and new not in str(e.details) for e in events)


@pytest.mark.parametrize("body, code", [
    ({"name": "Bad", "redirect_uris": ["https://*.example.com/cb"]}, "invalid_uri"),
    ({"name": "Bad", "redirect_uris": ["https://app.example.com/cb#frag"]}, "invalid_uri"),
    ({"name": "Bad", "redirect_uris": ["https://ada@app.example.com/cb"]}, "invalid_uri"),
    ({"name": "Bad", "redirect_uris": ["http://app.example.com/cb"]}, "invalid_uri"),
    ({"name": "Bad", "redirect_uris": ["https://app.example.com:99999/cb"]}, "invalid_uri"),
    ({"name": "Bad", "redirect_uris": ["https://app.example.com/caf\u00e9"]}, "invalid_uri"),
    ({"name": "Bad", "redirect_uris": [CALLBACK], "post_logout_redirect_uris": ["/bye"]}, "invalid_uri"),
    ({"name": "Bad", "redirect_uris": [CALLBACK], "backchannel_logout_uri": "http://app.example.com/bc"}, "invalid_uri"),
    ({"name": "Bad", "redirect_uris": [CALLBACK], "id_token_signed_response_alg": "HS256"}, "invalid_alg"),
    ({"name": "Bad", "redirect_uris": [CALLBACK], "id_token_signed_response_alg": ""}, "invalid_alg"),
    ({"name": "   ", "redirect_uris": [CALLBACK]}, "invalid_name"),
    ({"name": "Bad", "redirect_uris": []}, "invalid_field"),
    ({"name": "Bad", "redirect_uris": [CALLBACK] * 11}, "invalid_field"),
    ({"name": "Bad", "redirect_uris": CALLBACK}, "invalid_field"),
    ({"name": "Bad", "redirect_uris": [CALLBACK], "public": "yes"}, "invalid_field"),
    ({"name": "Bad", "redirect_uris": [CALLBACK], "client_secret": "mine"}, "invalid_field"),
    ({"redirect_uris": [CALLBACK]}, "invalid_field"),
])
def test_bad_input_is_a_400_and_nothing_is_written(api, db, body, code):
    response = api.post("/oidc-clients", json=body)
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == code
    assert _count(db) == _count(db, App) == 0


def test_the_longest_uri_is_kept_and_a_longer_one_refused(api):
    # 2000 characters that do not compress: within what PostgreSQL indexes (the key of the client's URIs).
    longest = "https://app.example.com/" + secrets.token_urlsafe(1500)[:2000 - 24]
    created = api.post("/oidc-clients", json={"name": "Long", "redirect_uris": [longest, longest[:-1]]})
    assert created.status_code == 201, created.json
    assert created.json["oidc_client"]["redirect_uris"] == sorted([longest, longest[:-1]])
    too_long = api.post("/oidc-clients", json={"name": "Longer", "redirect_uris": [longest + "x"]})
    assert too_long.status_code == 400 and too_long.json["error"]["code"] == "invalid_uri"


def test_the_name_of_another_app_is_a_409(api, db):
    api.post("/apps", json={"name": "Wiki", "routes": ["wiki.example.com"]})
    response = api.post("/oidc-clients", json={"name": "Wiki", "redirect_uris": [CALLBACK]})
    assert response.status_code == 409 and response.json["error"]["code"] == "app_exists"
    assert _count(db) == 0


def test_patch_refuses_what_post_refuses_and_changes_nothing(api):
    client = api.post("/oidc-clients", json={"name": "Grafana", "redirect_uris": [CALLBACK]}).json["oidc_client"]
    for body, code in [({"redirect_uris": ["http://grafana.example.com/cb"]}, "invalid_uri"),
                       ({"redirect_uris": []}, "invalid_field"), ({"redirect_uris": None}, "invalid_field"),
                       ({"id_token_signed_response_alg": None}, "invalid_field"),
                       ({"name": "Renamed"}, "invalid_field"), ({"public": True}, "invalid_field"),
                       ({"require_consent": True, "id_token_signed_response_alg": "none"}, "invalid_alg")]:
        response = api.patch(f"/oidc-clients/{client['id']}", json=body)
        assert response.status_code == 400 and response.json["error"]["code"] == code, (body, response.json)
    assert api.get(f"/oidc-clients/{client['id']}").json["oidc_client"] == client


def test_another_organizations_client_is_not_found(api, db, elsewhere):
    for method, path, kw in [("get", "", {}), ("patch", "", {"json": {"require_consent": True}}),
                             ("delete", "", {}), ("post", "/secret", {})]:
        response = getattr(api, method)(f"/oidc-clients/{elsewhere.id}{path}", **kw)
        assert response.status_code == 404 and response.json["error"]["code"] == "unknown_client", method
    assert api.get("/oidc-clients").json == {"oidc_clients": []}
    assert api.get("/oidc-clients/not-a-number").json["error"]["code"] == "unknown_client"
    assert api.get("/oidc-clients/99999999999").json["error"]["code"] == "unknown_client"
    db.expire_all()
    assert db.get(OidcClient, elsewhere.id).require_consent is False


def _signed_in(app, db, org, role) -> dict:
    membership = MembershipFactory(org=org, role=role)
    db.flush()
    browser = app.test_client()
    assert Auth(browser).login(membership.user.email).status_code == 303
    return bearer(browser)


def test_an_auditor_reads_the_clients_and_changes_nothing(app, api, db):
    client = api.post("/oidc-clients", json={"name": "Grafana", "redirect_uris": [CALLBACK]}).json["oidc_client"]
    auditor = _signed_in(app, db, api.org, Role.AUDITOR)
    assert api.get("/oidc-clients", headers=auditor).json == {"oidc_clients": [client]}
    assert api.get(f"/oidc-clients/{client['id']}", headers=auditor).json == {"oidc_client": client}
    events = _count(db, AuditEvent)
    for method, path, body in [("post", "", {"name": "Mine", "redirect_uris": [CALLBACK]}),
                               ("patch", f"/{client['id']}", {"require_consent": True}),
                               ("post", f"/{client['id']}/secret", None), ("delete", f"/{client['id']}", None)]:
        response = getattr(api, method)(f"/oidc-clients{path}", headers=auditor, json=body)
        assert response.status_code == 403 and response.json["error"]["code"] == "read_only", (method, path)
    assert _count(db, AuditEvent) == events
    assert api.get(f"/oidc-clients/{client['id']}").json == {"oidc_client": client}


def test_a_member_who_is_no_admin_gets_nothing(app, api, db):
    client = api.post("/oidc-clients", json={"name": "Grafana", "redirect_uris": [CALLBACK]}).json["oidc_client"]
    member = _signed_in(app, db, api.org, Role.USER)
    for method, path in [("get", ""), ("get", f"/{client['id']}"), ("post", f"/{client['id']}/secret")]:
        response = getattr(api, method)(f"/oidc-clients{path}", headers=member)
        assert response.status_code == 403 and response.json["error"]["code"] == "admins_only", (method, path)


def test_the_document_describes_every_operation(client):
    spec = client.get("/api/v1/openapi.json").json
    paths = spec["paths"]
    assert set(paths["/orgs/{slug}/oidc-clients"]) == {"get", "post"}
    assert set(paths["/orgs/{slug}/oidc-clients/{oidc_client_id}"]) == {"get", "patch", "delete"}
    assert set(paths["/orgs/{slug}/oidc-clients/{oidc_client_id}/secret"]) == {"post"}
    create = paths["/orgs/{slug}/oidc-clients"]["post"]
    assert {"201", "400", "409"} <= set(create["responses"])
    assert {"get_oidc_client", "rotate_oidc_client_secret", "get_app"} <= set(create["responses"]["201"]["links"])
    assert "409" in paths["/orgs/{slug}/oidc-clients/{oidc_client_id}/secret"]["post"]["responses"]
