"""The round trip's fast path (gateway.oidc.fast) answers as the Flask views would, and leaves them
whatever it is not sure of."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

from werkzeug.test import Client

from tests.functional.oidc.test_code_flow import (  # noqa: F401 (member, registered: fixtures)
    REDIRECT,
    answer_of,
    authorize,
    exchange,
    member,
    pkce,
    registered,
)

# Values that differ from one answer to the next by design.
_VARYING = {"x-request-id", "location", "content-length"}


def _headers(response) -> dict:
    return {name.lower(): value for name, value in response.headers.items() if name.lower() not in _VARYING}


def _flask_only(app) -> Client:
    """A client of the Flask app behind the fast path (and nothing else)."""
    return Client(app.extensions["idgate.fast_oidc"].next, use_cookies=False)


def _never(*_args, **_kwargs):
    raise AssertionError("the Flask view was reached")


def test_the_round_trip_is_answered_before_flask(client, auth, member, registered, monkeypatch, app):
    auth.login(member.user.email)
    for name in ("authorize", "token", "userinfo"):
        monkeypatch.setitem(app.view_functions, f"oidc.{name}", _never)
    verifier, challenge = pkce()
    answer = answer_of(authorize(client, registered[0].client_id, challenge))
    tokens = exchange(client, registered, answer["code"], verifier)
    assert tokens.status_code == 200 and tokens.json["id_token"]
    info = client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {tokens.json['access_token']}"})
    assert info.status_code == 200 and info.json["sub"] == str(member.user_id)


def test_its_answers_carry_what_the_views_answers_carry(client, auth, member, registered, app):
    auth.login(member.user.email)
    cookie = f"idgate_session={client.get_cookie('idgate_session').value}"
    flask = _flask_only(app)
    answers = {}
    for name, through in (("fast", client), ("flask", flask)):
        verifier, challenge = pkce()
        params = {"response_type": "code", "client_id": registered[0].client_id, "redirect_uri": REDIRECT,
                  "scope": "openid email profile", "state": "s", "nonce": name, "code_challenge": challenge,
                  "code_challenge_method": "S256"}
        authorized = through.get(f"/oauth/authorize?{urlencode(params)}", headers={"Cookie": cookie})
        code = answer_of(authorized)["code"]
        row, secret = registered
        basic = "Basic " + base64.b64encode(f"{row.client_id}:{secret}".encode()).decode()
        tokens = through.post("/oauth/token", headers={"Authorization": basic}, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier})
        bearer = {"Authorization": f"Bearer {tokens.json['access_token']}"}
        info = through.get("/oauth/userinfo", headers=bearer)
        refused = through.get("/oauth/userinfo", headers={"Authorization": "Bearer not-a-token"})
        answers[name] = [(r.status_code, _headers(r)) for r in (authorized, tokens, info, refused)] + [info.get_data()]
    assert answers["fast"] == answers["flask"]


def test_what_it_is_not_sure_of_goes_on_to_the_views(client, auth, member, registered, monkeypatch, app):
    reached = []
    original = app.view_functions["oidc.authorize"]
    monkeypatch.setitem(app.view_functions, "oidc.authorize", lambda: reached.append(1) or original())
    _verifier, challenge = pkce()
    # Nobody signed in: the view sends the browser to sign in.
    assert authorize(client, registered[0].client_id, challenge).headers["Location"].startswith("/login?")
    auth.login(member.user.email)
    # A refusal: the view words it (here, back to the client with the RFC's error and `iss`).
    refused = answer_of(authorize(client, registered[0].client_id, challenge, code_challenge_method="plain"))
    assert refused["error"] == "invalid_request" and "iss" in refused
    assert len(reached) == 2


def test_a_token_request_that_is_no_plain_form_goes_on_to_flask(client, member, registered):
    row, secret = registered
    basic = "Basic " + base64.b64encode(f"{row.client_id}:{secret}".encode()).decode()
    answer = client.post("/oauth/token", headers={"Authorization": basic, "Content-Type": "application/json"},
                         data='{"grant_type": "authorization_code"}')
    assert answer.status_code == 415  # Flask's own check of every form
    answer = client.post("/oauth/token", headers={"Authorization": basic,
                                                  "Content-Type": "application/x-www-form-urlencoded"},
                         data=b"grant_type=authorization_code&code=x%FF")
    assert answer.status_code == 400 and answer.json["error"]["message"] == "The form is not valid UTF-8."


def test_work_queued_for_after_the_commit_runs_once_the_answer_is_sent(client, auth, member, registered, monkeypatch):
    from gateway.oidc import grants

    ran, save_tokens = [], grants.save_tokens

    def save_and_queue(db, *args, **kwargs):
        save_tokens(db, *args, **kwargs)
        db.info.setdefault("after_commit", []).append(lambda app: ran.append(app.name))

    monkeypatch.setattr(grants, "save_tokens", save_and_queue)
    auth.login(member.user.email)
    verifier, challenge = pkce()
    tokens = exchange(client, registered, answer_of(authorize(client, registered[0].client_id, challenge))["code"],
                      verifier)
    assert tokens.status_code == 200 and ran == []
    tokens.close()  # (the server closes the answer once sent)
    assert ran == ["gateway"]
