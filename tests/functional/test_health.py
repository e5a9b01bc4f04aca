"""The health endpoints load balancers and orchestrators poll."""

from __future__ import annotations

import os

from tests.conftest import csrf_token
from tests.factories import UserFactory, member


def test_healthz_answers_200_while_the_process_is_alive(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json == {"status": "ok", "worker": os.getpid()}  # which process of `idgate serve`


def test_readyz_answers_200_when_the_database_is_reachable(client, db):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "invalidation": "in_step"}


def test_readyz_says_when_the_invalidation_channel_is_out_of_step(app, client, monkeypatch):
    # Still ready: every answer then comes from the database, slower and never stale.
    monkeypatch.setattr(app.extensions["idgate.verify_cache"].channel, "generation", lambda: None)
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json["invalidation"] == "out_of_step"


def test_health_needs_no_session_and_sets_no_cookie(client):
    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers


def test_health_stays_reachable_for_a_session_that_owes_a_password_change(auth, client, db):
    user = member(user=UserFactory(temporary=True))
    assert auth.login(user.email).headers["Location"] == "/password/change"

    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_health_answers_only_get(client):
    assert client.post("/healthz", data={"csrf_token": csrf_token(client)}).status_code == 405
