"""The console's OpenID Connect clients, as an admin uses them: registering one (its secret shown
once), its URIs, a new secret, deleting it; auditors read, members get nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from gateway.actor import Actor
from gateway.apps import services as apps
from gateway.audit.models import AuditEvent
from gateway.oidc import clients
from gateway.oidc.models import OidcClient
from gateway.orgs.access import AdminScope
from gateway.orgs.models import Role
from tests.conftest import Auth, csrf_token
from tests.factories import MembershipFactory, OrganizationFactory

CALLBACK = "https://grafana.example.com/login/generic_oauth"


def scope_of(admin) -> AdminScope:
    return AdminScope(admin.org.id, admin.org.slug, admin.org.name, Actor(user_id=admin.user_id))


def post(client, path, **data):
    return client.post(path, data={"csrf_token": csrf_token(client, "/account"), **data})


def follow(client, response) -> str:
    assert response.status_code == 303, response.status_code
    return client.get(response.headers["Location"]).get_data(as_text=True)


def change_forms(page: str) -> list[str]:
    """Where the page's posting forms lead, but for signing out (in every page's header)."""
    return [action for action in re.findall(r'<form method="post" action="([^"]*)"', page) if action != "/logout"]


def shown_secret(page: str) -> str:
    return re.search(r'<code id="client-secret">([^<]+)</code>', page).group(1)


@pytest.fixture
def scope(signed_in_admin):
    return scope_of(signed_in_admin)


@pytest.fixture
def grafana(db, scope, clock):
    client, _ = clients.create_client(db, scope, name="Grafana", redirect_uris=[CALLBACK], now=clock.now())
    db.flush()
    return client


def test_an_admin_registers_a_confidential_client_and_sees_its_secret_once(app, client, db, scope):
    response = post(client, "/admin/oidc-clients", name="Grafana",
                    redirect_uris=f"{CALLBACK}\r\nhttp://127.0.0.1:3000/login/generic_oauth\r\n",
                    post_logout_redirect_uris="https://grafana.example.com/\r\n",
                    backchannel_logout_uri="https://grafana.example.com/backchannel", id_token_alg="ES256",
                    require_consent="y")
    page = response.get_data(as_text=True)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    secret = shown_secret(page)
    [registered] = clients.list_clients(db, scope.org_id)
    assert registered.client_id in page and "/.well-known/openid-configuration" in page
    assert "will not be shown again" in page
    assert (registered.name, registered.public, registered.id_token_alg, registered.require_consent) == (
        "Grafana", False, "ES256", True)
    assert registered.redirect_uris == sorted([CALLBACK, "http://127.0.0.1:3000/login/generic_oauth"])
    assert registered.post_logout_redirect_uris == ["https://grafana.example.com/"]
    assert registered.backchannel_logout_uri == "https://grafana.example.com/backchannel"
    assert db.scalar(select(OidcClient.secret_hash)) == clients.hash_secret(secret)

    # Never again: not on its page, not in the list, not in the audit trail.
    for path in ("/admin/oidc-clients", f"/admin/oidc-clients/{registered.id}", "/admin/audit"):
        assert secret not in client.get(path).get_data(as_text=True), path
    assert all(secret not in str(event.details) for event in db.scalars(select(AuditEvent)))
    listing = client.get("/admin/oidc-clients").get_data(as_text=True)
    assert "Grafana" in listing and registered.client_id in listing and "Confidential" in listing


def test_a_public_client_has_no_secret_to_show(client, db, scope):
    response = post(client, "/admin/oidc-clients", name="Dashboard SPA", public="y",
                    redirect_uris="https://spa.example.com/callback", id_token_alg="RS256")
    page = follow(client, response)
    assert "a public client, without a secret" in page and "Rotate the secret" not in page
    [registered] = clients.list_clients(db, scope.org_id)
    assert registered.public and registered.client_id in page


@pytest.mark.parametrize("uris, message", [
    ("https://*.example.com/callback", "must not hold a wildcard"),
    ("https://grafana.example.com/cb#x", "must not have a fragment"),
    ("https://ada@grafana.example.com/cb", "must not name a user"),
    ("http://grafana.example.com/cb", "must use https"),
    ("", "at least one redirect URI"),
])
def test_a_bad_redirect_uri_is_shown_on_the_form_and_nothing_is_written(client, db, scope, uris, message):
    response = post(client, "/admin/oidc-clients", name="Grafana", redirect_uris=uris, id_token_alg="RS256")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in page and 'id="redirect_uris-errors"' in page
    assert 'value="Grafana"' in page  # what they typed stays in the form
    assert clients.list_clients(db, scope.org_id) == []


def test_a_name_another_app_has_is_refused_on_the_form(client, db, scope, grafana):
    response = post(client, "/admin/oidc-clients", name="Grafana", redirect_uris=CALLBACK, id_token_alg="RS256")
    assert response.status_code == 400
    assert "has an application named Grafana already" in response.get_data(as_text=True)
    assert len(clients.list_clients(db, scope.org_id)) == 1


def test_the_client_page_shows_how_to_connect_and_where_its_rule_is(client, app, grafana):
    page = client.get(f"/admin/oidc-clients/{grafana.id}").get_data(as_text=True)
    base = app.extensions["idgate.settings"].base_url
    assert grafana.client_id in page and f"{base}/.well-known/openid-configuration" in page
    assert f'href="/admin/apps/{grafana.app_id}"' in page
    assert f"{CALLBACK}</textarea>" in page


def test_an_admin_edits_the_uris(client, db, scope, grafana):
    response = post(client, f"/admin/oidc-clients/{grafana.id}",
                    redirect_uris="https://grafana.example.com/new\nhttps://grafana.example.com/other",
                    post_logout_redirect_uris="https://grafana.example.com/", backchannel_logout_uri="",
                    id_token_alg="ES256")
    assert "Saved" in follow(client, response)
    db.expire_all()
    view = clients.view(db, clients.get_client(db, scope.org_id, grafana.id))
    assert view.redirect_uris == ["https://grafana.example.com/new", "https://grafana.example.com/other"]
    assert view.post_logout_redirect_uris == ["https://grafana.example.com/"]
    assert (view.id_token_alg, view.require_consent, view.backchannel_logout_uri) == ("ES256", False, None)


def test_a_refused_edit_keeps_the_client_as_it_was(client, db, scope, grafana):
    response = post(client, f"/admin/oidc-clients/{grafana.id}", redirect_uris="https://grafana.example.com/ok",
                    backchannel_logout_uri="http://grafana.example.com/backchannel", id_token_alg="RS256")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "must use https" in page and 'id="backchannel_logout_uri-errors"' in page
    db.expire_all()
    assert clients.view(db, clients.get_client(db, scope.org_id, grafana.id)).redirect_uris == [CALLBACK]


def test_rotating_the_secret_shows_the_new_one_once_and_the_old_one_stops_working(client, db, scope, clock):
    registered, old = clients.create_client(db, scope, name="Grafana", redirect_uris=[CALLBACK], now=clock.now())
    db.flush()
    detail = client.get(f"/admin/oidc-clients/{registered.id}").get_data(as_text=True)
    assert f'action="/admin/oidc-clients/{registered.id}/secret"' in detail
    response = post(client, f"/admin/oidc-clients/{registered.id}/secret")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    new = shown_secret(response.get_data(as_text=True))
    db.expire_all()
    stored = db.get(OidcClient, registered.id)
    assert clients.secret_matches(stored, new) and not clients.secret_matches(stored, old)
    assert new not in client.get(f"/admin/oidc-clients/{registered.id}").get_data(as_text=True)


def test_a_public_client_has_no_secret_to_rotate(client, db, scope, clock):
    public, _ = clients.create_client(db, scope, name="SPA", redirect_uris=[CALLBACK], public=True, now=clock.now())
    db.flush()
    page = follow(client, post(client, f"/admin/oidc-clients/{public.id}/secret"))
    assert "A public client has no secret" in page


def test_a_form_without_its_csrf_token_is_refused(client, db, scope, grafana):
    assert client.post("/admin/oidc-clients", data={"name": "Other", "redirect_uris": CALLBACK}).status_code == 400
    assert client.post(f"/admin/oidc-clients/{grafana.id}/secret").status_code == 400
    assert client.post(f"/admin/oidc-clients/{grafana.id}/delete").status_code == 400
    assert len(clients.list_clients(db, scope.org_id)) == 1


def test_deleting_a_client_is_confirmed_first_and_takes_its_app(client, db, scope, grafana):
    confirm = client.get(f"/admin/oidc-clients/{grafana.id}/delete").get_data(as_text=True)
    assert "Delete Grafana?" in confirm and grafana.client_id in confirm
    page = follow(client, post(client, f"/admin/oidc-clients/{grafana.id}/delete"))
    assert "Grafana is deleted" in page and "No clients yet" in page
    assert clients.list_clients(db, scope.org_id) == []
    assert client.get(f"/admin/apps/{grafana.app_id}").status_code == 404


def test_another_organizations_client_is_not_found(client, db, signed_in_admin, clock):
    other = MembershipFactory(org=OrganizationFactory(), admin=True)
    db.flush()
    theirs, _ = clients.create_client(db, scope_of(other), name="Theirs", redirect_uris=[CALLBACK], now=clock.now())
    db.flush()
    for path in (f"/admin/oidc-clients/{theirs.id}", f"/admin/oidc-clients/{theirs.id}/delete",
                 "/admin/oidc-clients/99999"):
        assert client.get(path).status_code == 404, path
    assert post(client, f"/admin/oidc-clients/{theirs.id}", redirect_uris=CALLBACK).status_code == 404
    assert post(client, f"/admin/oidc-clients/{theirs.id}/secret").status_code == 404
    assert post(client, f"/admin/oidc-clients/{theirs.id}/delete").status_code == 404
    assert [c.name for c in clients.list_clients(db, other.org.id)] == ["Theirs"]


def test_an_auditor_reads_the_client_pages_and_changes_nothing(app, db, signed_in_admin, grafana):
    auditor = MembershipFactory(org=signed_in_admin.org, role=Role.AUDITOR)
    db.flush()
    browser = app.test_client()
    Auth(browser).login(auditor.user.email)
    pages = ("/admin/oidc-clients", f"/admin/oidc-clients/{grafana.id}", f"/admin/oidc-clients/{grafana.id}/delete")
    for path in pages:
        response = browser.get(path)
        page = response.get_data(as_text=True)
        assert response.status_code == 200, path
        assert change_forms(page) == [], path
        assert "only admins can change it" in page
    detail = browser.get(f"/admin/oidc-clients/{grafana.id}").get_data(as_text=True)
    assert CALLBACK in detail and grafana.client_id in detail and "<textarea" not in detail
    for path, data in (("/admin/oidc-clients", {"name": "Mine", "redirect_uris": CALLBACK}),
                       (f"/admin/oidc-clients/{grafana.id}", {"redirect_uris": "https://elsewhere.example/cb"}),
                       (f"/admin/oidc-clients/{grafana.id}/secret", {}),
                       (f"/admin/oidc-clients/{grafana.id}/delete", {})):
        assert post(browser, path, **data).status_code == 403, path
    db.expire_all()
    [unchanged] = clients.list_clients(db, signed_in_admin.org.id)
    assert unchanged.redirect_uris == [CALLBACK] and db.get(OidcClient, grafana.id).secret_hash == grafana.secret_hash


def test_a_member_who_is_not_an_admin_is_refused_the_client_pages(app, db, signed_in_admin, grafana):
    plain = MembershipFactory(org=signed_in_admin.org)
    db.flush()
    browser = app.test_client()
    Auth(browser).login(plain.user.email)
    for path in ("/admin/oidc-clients", f"/admin/oidc-clients/{grafana.id}", f"/admin/oidc-clients/{grafana.id}/delete"):
        assert browser.get(path).status_code == 403, path
    assert post(browser, f"/admin/oidc-clients/{grafana.id}/secret").status_code == 403
    assert "OIDC clients" not in browser.get("/account").get_data(as_text=True)


def test_the_console_links_to_the_clients_beside_the_apps(client, signed_in_admin):
    page = client.get("/admin/apps").get_data(as_text=True)
    assert page.index('href="/admin/apps"') < page.index('href="/admin/oidc-clients"')


def test_who_may_sign_in_is_set_on_its_app_page_which_needs_no_route(client, db, scope, grafana):
    response = post(client, f"/admin/apps/{grafana.app_id}", name="Grafana", routes="", access="listed",
                    roles=["admin"])
    assert "Saved" in follow(client, response)
    db.expire_all()
    app = apps.view(db, apps.get_app(db, scope.org_id, grafana.app_id))
    assert (app.routes, app.access, app.roles) == ([], "listed", ["admin"])


def test_the_apps_pages_say_which_app_is_an_oidc_client(client, grafana):
    link = f'href="/admin/oidc-clients/{grafana.id}"'
    assert link in client.get("/admin/apps").get_data(as_text=True)
    assert link in client.get(f"/admin/apps/{grafana.app_id}").get_data(as_text=True)
    deleting = client.get(f"/admin/apps/{grafana.app_id}/delete").get_data(as_text=True)
    assert "It is an OpenID Connect client: the client goes with it" in deleting and "Its routes" not in deleting


def test_deleting_a_clients_app_is_audited_as_the_clients_deletion_too(client, db, grafana):
    post(client, f"/admin/apps/{grafana.app_id}/delete")
    actions = {event.action for event in db.query(AuditEvent)}
    assert {"app:delete", "oidc_client:delete"} <= actions
