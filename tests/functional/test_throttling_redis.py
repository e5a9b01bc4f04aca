"""With IDGATE_REDIS_URL, sign-in throttling counts across every gateway instance."""

from __future__ import annotations

import os
import uuid

import pytest

from gateway import create_app
from tests.conftest import FAST_HASH, csrf_token

REDIS_URL = os.environ.get("IDGATE_TEST_REDIS_URL")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="IDGATE_TEST_REDIS_URL is not set (.ci/run sets it)")


def _instance(app):
    """A second gateway process, as far as the rate limiter can tell: its own app and storage client."""
    other = create_app({
        "DATABASE_URL": app.extensions["idgate.settings"].database_url, "SECRET_KEY": "test-secret",
        "INSTANCE_PATH": app.extensions["idgate.settings"].instance_path, "TESTING": True,
        "CLOCK": app.extensions["idgate.clock"], "REDIS_URL": REDIS_URL,
        "LOGIN_LIMIT_ACCOUNT": "3 per 15 minutes", "LOGIN_LIMIT_ADDRESS": "10000 per minute", **FAST_HASH,
    })
    other.extensions["idgate.sessionmaker"] = app.extensions["idgate.sessionmaker"]
    return other


def _fail(client, email: str):
    return client.post("/login", data={"csrf_token": csrf_token(client), "email": email, "password": "nope nope"})


@pytest.mark.settings(redis_url=REDIS_URL, login_limit_account="3 per 15 minutes",
                      login_limit_address="10000 per minute")
def test_failed_sign_ins_on_two_instances_share_one_account_limit(app, client):
    email = f"victim-{uuid.uuid4().hex}@example.com"  # Redis outlives this test: a key of its own
    other = _instance(app).test_client()

    assert _fail(client, email).status_code == 401
    assert _fail(other, email).status_code == 401
    assert _fail(client, email).status_code == 401
    throttled = _fail(other, email)
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0
