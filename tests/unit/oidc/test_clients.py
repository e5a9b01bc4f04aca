"""Registering OpenID Connect clients: redirect URIs kept as written and matched exactly (no wildcard,
fragment, user or plain http beyond loopback), a secret shown once and kept as a hash, and a client
that is its organization's app, created and deleted with it."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gateway.actor import Actor
from gateway.apps import services as apps
from gateway.apps.models import App
from gateway.audit.models import AuditEvent
from gateway.errors import BadRequest, Conflict, NotFound
from gateway.oidc import clients
from gateway.oidc.models import (
    OidcClient,
    OidcClientUri,
    OidcGrant,
    OidcToken,
    SigningAlg,
    TokenKind,
)
from gateway.orgs.access import AdminScope
from gateway.sessions.models import UserSession
from tests.factories import MembershipFactory, OrganizationFactory

CALLBACK = "https://app.example.com/callback"


def scope_of(membership) -> AdminScope:
    org = membership.org
    return AdminScope(org.id, org.slug, org.name, Actor(user_id=membership.user_id))


@pytest.fixture
def admin(db):
    return MembershipFactory(org=OrganizationFactory(slug="acme", name="Acme"), admin=True)


@pytest.fixture
def scope(admin):
    return scope_of(admin)


@pytest.fixture
def register(db, scope, clock):
    def register(name="Grafana", redirect_uris=(CALLBACK,), **kw):
        client, secret = clients.create_client(db, scope, name=name, redirect_uris=list(redirect_uris),
                                               now=clock.now(), **kw)
        db.flush()
        return client, secret
    return register


def _count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


class TestRedirectUris:
    @pytest.mark.parametrize("uri", [
        "https://*.example.com/callback", "https://app.example.com/*", "https://app.example.com/cb*",
    ])
    def test_a_wildcard_is_refused_each_uri_is_matched_exactly(self, register, db, uri):
        with pytest.raises(BadRequest) as refused:
            register(redirect_uris=[uri])
        assert (refused.value.code, refused.value.field) == ("invalid_uri", "redirect_uris")
        assert "wildcard" in refused.value.message
        assert _count(db, OidcClient) == _count(db, App) == 0

    @pytest.mark.parametrize("uri", ["https://app.example.com/callback#done", "https://app.example.com/#"])
    def test_a_fragment_is_refused(self, register, uri):
        with pytest.raises(BadRequest, match="fragment"):
            register(redirect_uris=[uri])

    @pytest.mark.parametrize("uri", ["https://ada@app.example.com/callback", "https://ada:secret@app.example.com/cb"])
    def test_user_info_is_refused(self, register, uri):
        with pytest.raises(BadRequest, match="must not name a user"):
            register(redirect_uris=[uri])

    @pytest.mark.parametrize("uri", ["http://app.example.com/callback", "http://127.0.0.2/cb", "http://localhost.evil.example/cb",
                                     "http://10.0.0.1:8080/cb"])
    def test_plain_http_is_refused_beyond_loopback(self, register, uri):
        with pytest.raises(BadRequest, match="must use https"):
            register(redirect_uris=[uri])

    @pytest.mark.parametrize("uri", ["http://127.0.0.1:8765/callback", "http://localhost/cb", "http://[::1]:9000/cb"])
    def test_plain_http_on_loopback_is_taken_for_local_tools(self, register, db, uri):
        client, _ = register(redirect_uris=[uri])
        assert clients.view(db, client).redirect_uris == [uri]

    @pytest.mark.parametrize("uri", [
        "", "   ", "/callback", "app.example.com/callback", "javascript:alert(1)", "ftp://app.example.com/",
        "https://", "https://app.example.com:99999/cb", "https://app.example.com:port/cb", "https://[::1/cb",
        "https://app.example.com/a b", "https://app.example.com/\x00", "https://app.example.com/caf\u00e9",
        "https://app.example.com/" + "x" * clients.MAX_URI_LENGTH,
    ])
    def test_anything_but_an_absolute_https_uri_is_refused(self, register, uri):
        with pytest.raises(BadRequest) as refused:
            register(redirect_uris=[uri])
        assert refused.value.code == "invalid_uri"

    def test_a_uri_is_kept_exactly_as_written_and_repeats_count_once(self, register, db):
        written = ["HTTPS://App.Example.com/Callback/", "https://app.example.com/callback?tenant=1", CALLBACK,
                   f"  {CALLBACK}  "]
        client, _ = register(redirect_uris=written)
        assert clients.view(db, client).redirect_uris == sorted(
            ["HTTPS://App.Example.com/Callback/", "https://app.example.com/callback?tenant=1", CALLBACK])

    def test_a_client_needs_a_redirect_uri(self, register):
        with pytest.raises(BadRequest) as refused:
            register(redirect_uris=[])
        assert refused.value.code == "no_redirect_uri"

    def test_more_than_ten_are_too_many_as_given(self, register, db):
        with pytest.raises(BadRequest) as refused:
            register(redirect_uris=[f"https://app.example.com/cb{n}" for n in range(clients.MAX_URIS + 1)])
        assert refused.value.code == "too_many_uris"
        with pytest.raises(BadRequest) as refused:  # counted before repeats are dropped, as the API documents it
            register(redirect_uris=[CALLBACK] * (clients.MAX_URIS + 1))
        assert refused.value.code == "too_many_uris"
        assert register(redirect_uris=[CALLBACK] * clients.MAX_URIS)[0] is not None

    def test_logout_uris_are_checked_alike_and_may_be_none(self, register, db):
        with pytest.raises(BadRequest) as refused:
            register(post_logout_redirect_uris=["http://app.example.com/bye"])
        assert refused.value.field == "post_logout_redirect_uris"
        with pytest.raises(BadRequest) as refused:
            register(backchannel_logout_uri="https://app.example.com/logout#now")
        assert refused.value.field == "backchannel_logout_uri"
        client, _ = register(post_logout_redirect_uris=["https://app.example.com/bye"],
                             backchannel_logout_uri="https://app.example.com/backchannel")
        view = clients.view(db, client)
        assert view.post_logout_redirect_uris == ["https://app.example.com/bye"]
        assert view.backchannel_logout_uri == "https://app.example.com/backchannel"
        assert view.redirect_uris == [CALLBACK]  # each kind keeps its own


class TestSecret:
    def test_a_confidential_clients_secret_is_shown_once_and_kept_as_a_hash(self, register, db):
        client, secret = register()
        assert len(secret) >= 43  # 256 random bits
        assert client.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
        stored = db.execute(select(OidcClient.__table__)).one()
        assert secret not in [str(value) for value in stored]
        assert clients.secret_matches(client, secret)
        assert not clients.secret_matches(client, secret[:-1]) and not clients.secret_matches(client, None)

    def test_the_audit_trail_never_holds_the_secret(self, register, db):
        _, secret = register()
        (event,) = db.scalars(select(AuditEvent).where(AuditEvent.action == "oidc_client:create"))
        assert event.details["public"] is False and secret not in str(event.details)

    def test_a_public_client_has_none(self, register):
        client, secret = register(public=True)
        assert secret is None and client.secret_hash is None
        assert not clients.secret_matches(client, "")

    def test_rotating_gives_a_new_secret_and_the_old_one_stops_working(self, register, db, scope, clock):
        client, old = register()
        new = clients.rotate_secret(db, scope, client.id, now=clock.now())
        assert new != old
        assert clients.secret_matches(client, new) and not clients.secret_matches(client, old)

    def test_a_public_client_has_no_secret_to_rotate(self, register, db, scope, clock):
        client, _ = register(public=True)
        with pytest.raises(Conflict) as refused:
            clients.rotate_secret(db, scope, client.id, now=clock.now())
        assert refused.value.code == "public_client" and client.secret_hash is None


class TestTheClientsApp:
    def test_a_client_is_an_app_without_routes_named_as_the_client(self, register, db, scope):
        client, _ = register(name="  Grafana   Cloud ")
        app = apps.view(db, apps.get_app(db, scope.org_id, client.app_id))
        assert (app.name, app.routes, app.access) == ("Grafana Cloud", [], "everyone")
        assert clients.view(db, client).name == "Grafana Cloud"

    def test_the_name_of_another_app_is_taken_and_nothing_is_written(self, register, db, scope, clock):
        apps.create_app(db, scope, name="Wiki", routes=["wiki.example.com"], now=clock.now())
        with pytest.raises(Conflict) as refused:
            register(name="Wiki")
        assert refused.value.code == "app_exists"
        assert _count(db, OidcClient) == 0 and _count(db, App) == 1

    def test_delete_removes_the_app_and_everything_the_client_was_given(self, register, db, scope, admin, clock):
        client, _ = register(post_logout_redirect_uris=["https://app.example.com/bye"])
        now = clock.now()
        session = UserSession(token_hash="0" * 64, user_id=admin.user_id, org_id=scope.org_id, created_at=now,
                              last_seen_at=now, expires_at=now + timedelta(hours=1),
                              idle_expires_at=now + timedelta(hours=1))
        db.add(session)
        db.flush()
        grant = OidcGrant(client_pk=client.id, session_id=session.id, user_id=admin.user_id, scope="openid",
                          auth_time=now, created_at=now)
        db.add(grant)
        db.flush()
        db.add(OidcToken(token_hash="1" * 64, grant_id=grant.id, kind=TokenKind.ACCESS, expires_at=now))
        db.flush()
        pk, app_id = client.id, client.app_id

        clients.delete_client(db, scope, pk, now=now)
        db.flush()
        db.expire_all()
        for model in (OidcClient, OidcClientUri, OidcGrant, OidcToken):
            assert _count(db, model) == 0, model.__name__
        assert db.get(App, app_id) is None
        with pytest.raises(NotFound):
            clients.get_client(db, scope.org_id, pk)
        assert {e.action for e in db.scalars(select(AuditEvent))} >= {"oidc_client:delete", "app:delete"}


class TestUpdate:
    def test_what_is_given_changes_and_the_rest_stays(self, register, db, scope, clock):
        client, _ = register(post_logout_redirect_uris=["https://app.example.com/bye"], require_consent=True)
        clients.update_client(db, scope, client.id, redirect_uris=["https://app.example.com/new"],
                              id_token_alg="ES256", now=clock.now())
        view = clients.view(db, client)
        assert view.redirect_uris == ["https://app.example.com/new"] and view.id_token_alg == "ES256"
        assert view.post_logout_redirect_uris == ["https://app.example.com/bye"] and view.require_consent

    def test_an_empty_backchannel_uri_removes_it(self, register, db, scope, clock):
        client, _ = register(backchannel_logout_uri="https://app.example.com/backchannel")
        clients.update_client(db, scope, client.id, backchannel_logout_uri="", now=clock.now())
        assert clients.view(db, client).backchannel_logout_uri is None

    def test_a_refused_change_writes_nothing(self, register, db, scope, clock):
        client, _ = register(backchannel_logout_uri="https://app.example.com/backchannel")
        with pytest.raises(BadRequest) as refused:
            clients.update_client(db, scope, client.id, backchannel_logout_uri="https://app.example.com/other",
                                  id_token_alg="HS256", now=clock.now())
        assert refused.value.code == "invalid_alg"
        assert client.backchannel_logout_uri == "https://app.example.com/backchannel"
        assert client.id_token_alg == SigningAlg.RS256

    def test_the_algorithm_is_rs256_unless_asked(self, register):
        assert register()[0].id_token_alg == SigningAlg.RS256
        with pytest.raises(BadRequest) as refused:
            register(name="Other", id_token_alg="")
        assert refused.value.code == "invalid_alg"

    def test_another_organizations_client_is_not_found(self, register, db, clock):
        client, _ = register()
        elsewhere = scope_of(MembershipFactory(org=OrganizationFactory(), admin=True))
        for attempt in (lambda: clients.get_client(db, elsewhere.org_id, client.id),
                        lambda: clients.update_client(db, elsewhere, client.id, require_consent=True, now=clock.now()),
                        lambda: clients.rotate_secret(db, elsewhere, client.id, now=clock.now()),
                        lambda: clients.delete_client(db, elsewhere, client.id, now=clock.now())):
            with pytest.raises(NotFound) as refused:
                attempt()
            assert refused.value.code == "unknown_client"
        assert clients.list_clients(db, elsewhere.org_id) == []
