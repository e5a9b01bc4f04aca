"""The authorization code flow through the Flask test client: a member signs in to a client, the
client redeems the code (PKCE S256), reads /userinfo and refreshes; and the refusals on the way."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt as pyjwt
import pytest

from gateway.actor import Actor
from gateway.apps import services as apps
from gateway.oidc import clients
from gateway.orgs.access import AdminScope
from tests.factories import MembershipFactory
from tests.conftest import csrf_token

REDIRECT = "https://grafana.example.com/login/generic_oauth"


@pytest.fixture
def member(db, auth):
    membership = MembershipFactory()
    db.flush()
    return membership


@pytest.fixture
def registered(db, member, clock):
    scope = AdminScope(member.org_id, member.org.slug, member.org.name, Actor())
    client, secret = clients.create_client(db, scope, name="Grafana", redirect_uris=[REDIRECT],
                                           post_logout_redirect_uris=["https://grafana.example.com/"],
                                           now=clock.now())
    db.commit()
    return client, secret


@pytest.fixture
def wiki(db, member, clock):
    """A client with a back-channel logout URI: (row, secret)."""
    scope = AdminScope(member.org_id, member.org.slug, member.org.name, Actor())
    registered = clients.create_client(db, scope, name="Wiki", redirect_uris=[REDIRECT],
                                       backchannel_logout_uri="https://wiki.example.com/logout", now=clock.now())
    db.commit()
    return registered


def pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(client, client_id, challenge, **extra):
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "scope": "openid email profile",
              "state": "st4te", "nonce": secrets.token_urlsafe(8), "code_challenge": challenge,
              "code_challenge_method": "S256", **extra}
    return client.get(f"/oauth/authorize?{urlencode(params)}")


def answer_of(response) -> dict:
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert location.startswith(REDIRECT), location
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def exchange(client, registered, code, verifier, **extra):
    row, secret = registered
    return client.post("/oauth/token", data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                             "code_verifier": verifier, **extra},
                       headers={"Authorization": "Basic " + base64.b64encode(f"{row.client_id}:{secret}".encode()).decode()})


def test_a_signed_in_member_gets_a_code_tokens_and_claims(client, auth, member, registered, app):
    auth.login(member.user.email)
    verifier, challenge = pkce()
    answer = answer_of(authorize(client, registered[0].client_id, challenge, nonce="n0nce"))
    assert answer["state"] == "st4te" and answer["iss"] == app.extensions["idgate.settings"].base_url

    tokens = exchange(client, registered, answer["code"], verifier)
    assert tokens.status_code == 200, tokens.json
    body = tokens.json
    assert body["token_type"].lower() == "bearer" and "refresh_token" not in body
    claims = pyjwt.decode(body["id_token"], options={"verify_signature": False})
    assert pyjwt.get_unverified_header(body["id_token"])["alg"] == "RS256"
    assert claims["sub"] == str(member.user_id) and claims["aud"] == [registered[0].client_id]
    assert claims["nonce"] == "n0nce" and claims["email"] == member.user.email and claims["org"] == member.org.slug
    assert "auth_time" in claims and claims["azp"] == registered[0].client_id

    info = client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 200 and info.json["sub"] == str(member.user_id) and info.json["email"] == member.user.email


def test_a_code_works_once_and_its_replay_revokes_the_tokens(client, auth, member, registered):
    auth.login(member.user.email)
    verifier, challenge = pkce()
    code = answer_of(authorize(client, registered[0].client_id, challenge))["code"]
    first = exchange(client, registered, code, verifier)
    assert first.status_code == 200
    again = exchange(client, registered, code, verifier)
    assert again.status_code == 400 and again.json["error"] == "invalid_grant"
    info = client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {first.json['access_token']}"})
    assert info.status_code == 401


def test_pkce_plain_and_missing_are_refused(client, auth, member, registered):
    auth.login(member.user.email)
    _, challenge = pkce()
    for extra in ({"code_challenge_method": "plain"}, {"code_challenge_method": ""}):
        answer = answer_of(authorize(client, registered[0].client_id, challenge, **extra))
        assert answer["error"] == "invalid_request" and "code" not in answer


def test_a_wrong_verifier_is_refused(client, auth, member, registered):
    auth.login(member.user.email)
    _, challenge = pkce()
    code = answer_of(authorize(client, registered[0].client_id, challenge))["code"]
    assert exchange(client, registered, code, "x" * 50).json["error"] == "invalid_grant"


@pytest.mark.parametrize("uri", [REDIRECT + "/", REDIRECT.upper(), REDIRECT.replace("grafana.example.com", "grafana.example.com:443"),
                                 REDIRECT + "/..;/x", "https://evil.example@grafana.example.com/login/generic_oauth",
                                 REDIRECT + "?x=1", REDIRECT + "#f"])
def test_a_redirect_uri_not_registered_exactly_is_never_redirected_to(client, auth, member, registered, uri):
    auth.login(member.user.email)
    _, challenge = pkce()
    response = authorize(client, registered[0].client_id, challenge, redirect_uri=uri)
    assert response.status_code == 400 and "Location" not in response.headers


def test_without_a_session_the_browser_goes_to_sign_in_and_comes_back(client, auth, member, registered):
    _, challenge = pkce()
    response = authorize(client, registered[0].client_id, challenge)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
    next_url = parse_qs(urlsplit(response.headers["Location"]).query)["next"][0]
    signed_in = auth.login(member.user.email, next=next_url)
    assert signed_in.status_code == 303 and signed_in.headers["Location"].endswith(next_url.split("?", 1)[1])
    assert "code" in answer_of(client.get(signed_in.headers["Location"]))


def test_prompt_none_without_a_session_is_login_required(client, registered):
    _, challenge = pkce()
    assert answer_of(authorize(client, registered[0].client_id, challenge, prompt="none"))["error"] == "login_required"


def test_a_member_the_rule_refuses_gets_access_denied(client, auth, member, registered, db, clock):
    scope = AdminScope(member.org_id, member.org.slug, member.org.name, Actor())
    apps.update_app(db, scope, registered[0].app_id, access="listed", roles_=["admin"], now=clock.now())
    db.commit()
    auth.login(member.user.email)
    _, challenge = pkce()
    assert answer_of(authorize(client, registered[0].client_id, challenge))["error"] == "access_denied"


def test_offline_access_gives_a_refresh_token_that_rotates_and_whose_reuse_revokes_the_family(client, auth, member, registered):
    auth.login(member.user.email)
    verifier, challenge = pkce()
    code = answer_of(authorize(client, registered[0].client_id, challenge, scope="openid offline_access"))["code"]
    first = exchange(client, registered, code, verifier).json
    row, secret = registered
    basic = {"Authorization": "Basic " + base64.b64encode(f"{row.client_id}:{secret}".encode()).decode()}
    second = client.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
                         headers=basic)
    assert second.status_code == 200, second.json
    assert second.json["refresh_token"] != first["refresh_token"]
    reused = client.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
                         headers=basic)
    assert reused.status_code == 400 and reused.json["error"] == "invalid_grant"
    after = client.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": second.json["refresh_token"]},
                        headers=basic)
    assert after.status_code == 400


def test_signing_out_makes_the_tokens_inactive(client, auth, member, registered):
    auth.login(member.user.email)
    verifier, challenge = pkce()
    code = answer_of(authorize(client, registered[0].client_id, challenge))["code"]
    access = exchange(client, registered, code, verifier).json["access_token"]
    auth.logout()
    assert client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {access}"}).status_code == 401


def test_a_wrong_client_secret_is_invalid_client(client, auth, member, registered):
    auth.login(member.user.email)
    verifier, challenge = pkce()
    code = answer_of(authorize(client, registered[0].client_id, challenge))["code"]
    response = exchange(client, (registered[0], "wrong"), code, verifier)
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def test_discovery_names_every_endpoint_and_the_issuer(client, app):
    document = client.get("/.well-known/openid-configuration").json
    base = app.extensions["idgate.settings"].base_url
    assert document["issuer"] == base and document["token_endpoint"] == f"{base}/oauth/token"
    assert document["code_challenge_methods_supported"] == ["S256"] and "RS256" in document["id_token_signing_alg_values_supported"]


def test_signing_out_queues_a_signed_back_channel_logout_that_is_retried_until_delivered(client, auth, member, db, clock,
                                                                                         app, wiki):
    from gateway.oidc import logout
    from gateway.oidc.models import BackchannelLogout

    row, secret = wiki
    auth.login(member.user.email)
    verifier, challenge = pkce()
    code = answer_of(authorize(client, row.client_id, challenge))["code"]
    id_token = exchange(client, (row, secret), code, verifier).json["id_token"]
    sid = pyjwt.decode(id_token, options={"verify_signature": False})["sid"]
    sent = []
    auth.logout()

    class Down:
        status_code = 503

    settings = app.extensions["idgate.settings"]
    make = app.extensions["idgate.sessionmaker"]
    assert logout.deliver_pending(make, settings, clock.now, post=lambda uri, token: Down()) == (0, 1)
    clock.advance(seconds=3600)
    assert logout.deliver_pending(make, settings, clock.now,
                                  post=lambda uri, token: sent.append((uri, token)) or type("Ok", (), {"status_code": 200})()) == (1, 0)
    ((uri, token),) = sent
    claims = pyjwt.decode(token, options={"verify_signature": False})
    assert uri == "https://wiki.example.com/logout" and claims["sid"] == sid and claims["aud"] == row.client_id
    assert "http://schemas.openid.net/event/backchannel-logout" in claims["events"] and "nonce" not in claims
    assert db.query(BackchannelLogout).count() == 0


GARBAGE = ["", "x" * 5000, "\u202e\u0000", "%00", "../..", "a b", "é" * 30, "[]", "{}", "null"]


@pytest.mark.parametrize("value", GARBAGE)
def test_garbage_in_any_parameter_is_a_clear_4xx_never_a_500(client, auth, member, registered, value):
    auth.login(member.user.email)
    _, challenge = pkce()
    base = {"response_type": "code", "client_id": registered[0].client_id, "redirect_uri": REDIRECT,
            "scope": "openid", "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"}
    for name in [*base, "nonce", "prompt", "max_age", "acr_values", "idgate_after"]:
        answer = client.get(f"/oauth/authorize?{urlencode({**base, name: value})}")
        assert answer.status_code in (200, 302, 303, 400), (name, value, answer.status_code)
    for data in ({"grant_type": value}, {"grant_type": "authorization_code", "code": value, "code_verifier": value,
                                          "redirect_uri": value}, {"grant_type": "refresh_token", "refresh_token": value}):
        answer = client.post("/oauth/token", data=data, headers={"Authorization": "Basic " + base64.b64encode(
            f"{registered[0].client_id}:{registered[1]}".encode()).decode()})
        assert 400 <= answer.status_code < 500, (data, answer.status_code)
    assert client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {value}"}).status_code == 401
    assert client.get(f"/oauth/logout?{urlencode({'id_token_hint': value, 'post_logout_redirect_uri': value, 'client_id': value, 'state': value})}"
                      ).status_code in (200, 303)


def test_a_deactivated_members_tokens_are_inactive_at_once(client, auth, member, registered, db, clock, app):
    from gateway.orgs import lifecycle

    auth.login(member.user.email)
    verifier, challenge = pkce()
    code = answer_of(authorize(client, registered[0].client_id, challenge, scope="openid offline_access"))["code"]
    tokens = exchange(client, registered, code, verifier).json
    admin = MembershipFactory(org=member.org, admin=True)
    db.flush()
    scope = AdminScope(member.org_id, member.org.slug, member.org.name, Actor(user_id=admin.user_id))
    lifecycle.deactivate(db, scope, member.user_id, now=clock.now())
    db.commit()
    assert client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 401
    refreshed = client.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                            headers={"Authorization": "Basic " + base64.b64encode(
                                f"{registered[0].client_id}:{registered[1]}".encode()).decode()})
    assert refreshed.status_code == 400 and refreshed.json["error"] == "invalid_grant"


def test_the_id_token_hint_must_be_ours_whatever_its_alg_says(client, auth, member, registered):
    auth.login(member.user.email)
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(b'{"iss":"http://localhost","sid":"1","aud":"x"}').rstrip(b"=").decode()
    answer = client.get(f"/oauth/logout?{urlencode({'id_token_hint': f'{header}.{body}.', 'post_logout_redirect_uri': 'https://grafana.example.com/'})}")
    assert answer.status_code == 200 and "Sign out?" in answer.get_data(as_text=True)  # asks: nobody vouched
    assert client.get("/auth/verify").status_code == 200  # still signed in


@pytest.fixture
def public_client(db, member, clock):
    scope = AdminScope(member.org_id, member.org.slug, member.org.name, Actor())
    row, secret = clients.create_client(db, scope, name="Cli", redirect_uris=[REDIRECT], public=True,
                                        id_token_alg="ES256", now=clock.now())
    db.commit()
    assert secret is None
    return row


def test_a_public_client_signs_in_with_pkce_alone_and_gets_an_es256_id_token(client, auth, member, public_client):
    auth.login(member.user.email)
    verifier, challenge = pkce()
    code = answer_of(authorize(client, public_client.client_id, challenge))["code"]
    tokens = client.post("/oauth/token", data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                               "code_verifier": verifier, "client_id": public_client.client_id})
    assert tokens.status_code == 200, tokens.json
    assert pyjwt.get_unverified_header(tokens.json["id_token"])["alg"] == "ES256"


def test_a_public_client_may_not_claim_a_secret_and_a_confidential_one_must_give_its_own(client, auth, member,
                                                                                         registered, public_client):
    auth.login(member.user.email)
    verifier, challenge = pkce()
    code = answer_of(authorize(client, registered[0].client_id, challenge))["code"]
    # A confidential client that sends no secret is refused, as is one that names itself only.
    no_secret = client.post("/oauth/token", data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                                  "code_verifier": verifier, "client_id": registered[0].client_id})
    assert no_secret.status_code == 401 and no_secret.json["error"] == "invalid_client"
    posted = client.post("/oauth/token", data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                               "code_verifier": verifier, "client_id": registered[0].client_id,
                                               "client_secret": "wrong"})
    assert posted.status_code == 401


def test_the_id_token_verifies_against_the_published_keys(client, auth, member, registered):
    auth.login(member.user.email)
    verifier, challenge = pkce()
    code = answer_of(authorize(client, registered[0].client_id, challenge))["code"]
    id_token = exchange(client, registered, code, verifier).json["id_token"]
    kid = pyjwt.get_unverified_header(id_token)["kid"]
    (key,) = [entry for entry in client.get("/.well-known/jwks.json").json["keys"] if entry["kid"] == kid]
    claims = pyjwt.decode(id_token, pyjwt.PyJWK(key).key, algorithms=["RS256"], audience=registered[0].client_id)
    assert claims["iss"] == client.get("/.well-known/openid-configuration").json["issuer"]


def test_an_access_token_is_active_at_introspection_while_its_session_is(client, auth, member, registered, db, clock):
    from gateway.tokens.introspection import create_client as introspection_client

    introspector, secret = introspection_client(db, "Resource server", now=clock.now())
    db.commit()
    basic = {"Authorization": "Basic " + base64.b64encode(f"{introspector.client_id}:{secret}".encode()).decode()}
    auth.login(member.user.email)
    verifier, challenge = pkce()
    code = answer_of(authorize(client, registered[0].client_id, challenge))["code"]
    access = exchange(client, registered, code, verifier).json["access_token"]
    answer = client.post("/oauth/introspect", data={"token": access}, headers=basic).json
    assert answer["active"] is True and answer["sub"] == str(member.user_id)
    auth.logout()
    assert client.post("/oauth/introspect", data={"token": access}, headers=basic).json == {"active": False}


def test_an_app_that_requires_a_second_factor_steps_up_first(client, auth, member, registered, db, clock):
    scope = AdminScope(member.org_id, member.org.slug, member.org.name, Actor())
    apps.update_app(db, scope, registered[0].app_id, requires_mfa=True, now=clock.now())
    db.commit()
    auth.login(member.user.email)
    _, challenge = pkce()
    response = authorize(client, registered[0].client_id, challenge)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login/verify?next=%2Foauth%2Fauthorize")
    assert answer_of(authorize(client, registered[0].client_id, challenge, prompt="none"))["error"] == "interaction_required"


def test_a_client_that_asks_for_consent_gets_an_answer_from_the_member(client, auth, member, registered, db):
    from tests.conftest import csrf_token_in

    registered[0].require_consent = True
    db.commit()
    auth.login(member.user.email)
    _, challenge = pkce()
    page = authorize(client, registered[0].client_id, challenge)
    assert page.status_code == 200 and "Allow Grafana?" in page.get_data(as_text=True)
    assert "https://grafana.example.com" in page.headers["Content-Security-Policy"]  # the post leads there
    token = csrf_token_in(page.get_data(as_text=True))
    allowed = client.post(page.request.full_path, data={"csrf_token": token, "consent": "allow"})
    assert "code" in answer_of(allowed)
    another = authorize(client, registered[0].client_id, challenge)  # (a nonce is used once)
    denied = client.post(another.request.full_path, data={"csrf_token": token, "consent": "deny"})
    assert answer_of(denied)["error"] == "access_denied"
    assert client.post(another.request.full_path, data={"consent": "allow"}).status_code == 400  # no CSRF token


def test_the_sign_in_page_names_the_app_that_asks(client, member, registered):
    _, challenge = pkce()
    to_sign_in = authorize(client, registered[0].client_id, challenge).headers["Location"]
    page = client.get(to_sign_in)
    assert "to continue to <strong>Grafana</strong>" in page.get_data(as_text=True)
    assert "https://grafana.example.com" in page.headers["Content-Security-Policy"]


def test_a_session_that_runs_out_is_logged_out_of_its_clients_by_housekeeping(client, auth, member, db, clock, wiki):
    from gateway import housekeeping
    from gateway.oidc.models import BackchannelLogout

    row, secret = wiki
    auth.login(member.user.email)
    verifier, challenge = pkce()
    exchange(client, (row, secret), answer_of(authorize(client, row.client_id, challenge))["code"], verifier)
    clock.advance(days=2)  # past the session's limits
    housekeeping.purge_expired(db, now=clock.now(), epoch_now=0)
    assert db.query(BackchannelLogout).filter_by(client_pk=row.id).count() == 1


def test_a_member_working_in_another_organization_is_offered_to_switch_and_continue(client, auth, member, registered,
                                                                                     db):
    from tests.conftest import csrf_token_in

    elsewhere = MembershipFactory(user=member.user)  # their other organization
    db.flush()
    auth.login(member.user.email)
    client.post("/account/switch", data={"org": elsewhere.org.slug, "csrf_token": csrf_token_in(
        client.get("/account").get_data(as_text=True))})
    assert client.get("/auth/verify").headers["X-Auth-Org"] == elsewhere.org.slug
    _, challenge = pkce()
    page = authorize(client, registered[0].client_id, challenge)
    assert page.status_code == 200 and f"Switch to {member.org.name} and continue" in page.get_data(as_text=True)
    switched = client.post("/account/switch", data={"org": member.org.slug, "next": page.request.full_path,
                                                    "csrf_token": csrf_token_in(page.get_data(as_text=True))})
    assert switched.status_code == 303 and switched.headers["Location"].startswith("/oauth/authorize?")
    assert "code" in answer_of(client.get(switched.headers["Location"]))


def test_idgate_outbox_send_delivers_waiting_back_channel_logouts_too(client, auth, member, db, runner, monkeypatch,
                                                                      wiki):
    from gateway.oidc import logout
    from gateway.oidc.models import BackchannelLogout

    row, secret = wiki
    auth.login(member.user.email)
    verifier, challenge = pkce()
    exchange(client, (row, secret), answer_of(authorize(client, row.client_id, challenge))["code"], verifier)
    auth.logout()
    posted = []
    monkeypatch.setattr(logout.requests, "post", lambda uri, **kw: posted.append(uri) or type("Ok", (), {
        "status_code": 200})())
    result = runner.invoke(args=["outbox", "send"])
    assert result.exit_code == 0 and "Back-channel logouts: delivered 1, failed 0, waiting 0." in result.output
    assert posted == ["https://wiki.example.com/logout"] and db.query(BackchannelLogout).count() == 0


@pytest.mark.parametrize("response_type", ["token", "id_token", "code id_token", "code token", "id_token token"])
def test_implicit_and_hybrid_flows_are_not_offered(client, auth, member, registered, response_type):
    auth.login(member.user.email)
    _, challenge = pkce()
    answer = answer_of(authorize(client, registered[0].client_id, challenge, response_type=response_type))
    assert answer["error"] == "unsupported_response_type" and "code" not in answer and "access_token" not in answer


@pytest.mark.parametrize("grant_type", ["password", "client_credentials", "implicit"])
def test_no_other_grant_is_offered(client, registered, grant_type):
    row, secret = registered
    answer = client.post("/oauth/token", data={"grant_type": grant_type, "username": "x", "password": "y"},
                         headers={"Authorization": "Basic " + base64.b64encode(f"{row.client_id}:{secret}".encode()).decode()})
    assert answer.status_code == 400 and answer.json["error"] == "unsupported_grant_type"


def test_a_code_lives_sixty_seconds(client, auth, member, registered, clock):
    auth.login(member.user.email)
    verifier, challenge = pkce()
    code = answer_of(authorize(client, registered[0].client_id, challenge))["code"]
    clock.advance(seconds=61)
    assert exchange(client, registered, code, verifier).json["error"] == "invalid_grant"


def test_userinfo_takes_the_token_in_a_post_too(client, auth, member, registered):
    auth.login(member.user.email)
    verifier, challenge = pkce()
    access = exchange(client, registered, answer_of(authorize(client, registered[0].client_id, challenge))["code"],
                      verifier).json["access_token"]
    answer = client.post("/oauth/userinfo", data={"access_token": access})
    assert answer.status_code == 200 and answer.json["sub"] == str(member.user_id)


def test_logout_follows_only_a_registered_post_logout_redirect_uri(client, auth, member, registered):
    auth.login(member.user.email)
    verifier, challenge = pkce()
    id_token = exchange(client, registered, answer_of(authorize(client, registered[0].client_id, challenge))["code"],
                        verifier).json["id_token"]
    elsewhere = client.get(f"/oauth/logout?{urlencode({'id_token_hint': id_token, 'post_logout_redirect_uri': 'https://evil.example/'})}")
    assert elsewhere.status_code == 303 and elsewhere.headers["Location"] == "/login"  # signed out, not sent there
    auth.login(member.user.email)
    verifier, challenge = pkce()
    id_token = exchange(client, registered, answer_of(authorize(client, registered[0].client_id, challenge))["code"],
                        verifier).json["id_token"]
    home = client.get(f"/oauth/logout?{urlencode({'id_token_hint': id_token, 'post_logout_redirect_uri': 'https://grafana.example.com/', 'state': 'x y'})}")
    assert home.status_code == 303 and home.headers["Location"] == "https://grafana.example.com/?state=x+y"


def test_a_session_that_owes_a_step_of_its_sign_in_takes_it_before_any_code(client, auth, db, registered, member):
    # A temporary password: the session is restricted until it is changed (as one owing a second factor is).
    member.user.must_change_password = True
    db.commit()
    auth.login(member.user.email)
    verifier, challenge = pkce()
    assert answer_of(authorize(client, registered[0].client_id, challenge, prompt="none"))["error"] == "interaction_required"
    response = authorize(client, registered[0].client_id, challenge)
    assert response.status_code == 302 and response.headers["Location"].startswith("/password/change?next=/oauth/authorize?response_type")

    step = response.headers["Location"]
    changed = client.post(step, data={"csrf_token": csrf_token(client, step), "new_password": "a brand new passphrase 2047",
                                      "next": parse_qs(urlsplit(step).query)["next"][0]})
    assert changed.status_code == 303 and changed.headers["Location"].startswith("/oauth/authorize?")
    code = answer_of(client.get(changed.headers["Location"]))["code"]
    assert exchange(client, registered, code, verifier).status_code == 200
