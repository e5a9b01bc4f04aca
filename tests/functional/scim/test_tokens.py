"""SCIM bearer tokens: shown once, kept hashed, one organization each, revocable, throttled per token."""

from __future__ import annotations

import hashlib
import os
import re

import pytest
from sqlalchemy import select

from gateway.actor import Actor
from gateway.audit.models import AuditEvent
from gateway.scim import tokens
from gateway.scim.models import ScimToken
from tests.factories import MembershipFactory
from tests.functional.scim.conftest import SCIM_JSON


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Bearer    ", "Basic dXNlcjpwYXNz",
                                    "Bearer idgscim_unknown", "Bearer " + "x" * 500])
def test_missing_empty_or_unknown_tokens_are_401(scim, client, header):
    headers = {"Authorization": header} if header is not None else {}
    response = client.get(scim.url("/Users"), headers=headers)
    assert response.status_code == 401 and response.mimetype == SCIM_JSON
    assert response.get_json() == {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "401",
                                   "detail": "A valid SCIM bearer token for this organization is required."}


def test_a_token_reaches_only_its_own_organization(scim, client, db, clock):
    other = MembershipFactory(admin=True).org
    db.flush()
    assert client.get(f"/scim/v2/{other.slug}/Users", headers=scim.headers).status_code == 401
    assert client.get("/scim/v2/no-such-org/Users", headers=scim.headers).status_code == 401
    assert scim.get("/Users").status_code == 200


def test_only_the_hash_is_kept_and_the_creation_is_audited(scim, db):
    row = db.scalar(select(ScimToken).where(ScimToken.org_id == scim.org.id))
    assert row.token_hash == hashlib.sha256(scim.token.encode()).hexdigest()
    assert scim.token not in row.token_hash
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "scim_token:create"))
    assert event.org_id == scim.org.id and scim.token not in str(event.details)


def test_revoked_tokens_stop_at_once_and_last_use_is_recorded(scim, db, clock):
    assert scim.get("/Users").status_code == 200
    db.expire_all()
    row = db.scalar(select(ScimToken).where(ScimToken.org_id == scim.org.id))
    assert row.last_used_at == clock.now()
    tokens.revoke(db, scim.org.id, Actor(), row.id, now=clock.now())
    db.flush()
    assert scim.get("/Users").status_code == 401
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "scim_token:revoke")) is not None


@pytest.mark.settings(scim_limit_token="3 per minute")
def test_each_token_has_its_own_throttle(scim, client, db, clock):
    _row, second = tokens.create(db, scim.org.id, Actor(), name="Second", now=clock.now())
    db.flush()
    assert [scim.get("/Users").status_code for _ in range(4)] == [200, 200, 200, 429]
    throttled = scim.get("/Users")
    assert throttled.mimetype == SCIM_JSON and "Retry-After" in throttled.headers
    assert client.get(scim.url("/Users"), headers={"Authorization": f"Bearer {second}"}).status_code == 200


def test_the_cli_prints_the_token_once_and_it_works(runner, db, client):
    org = MembershipFactory(admin=True).org
    db.flush()
    result = runner.invoke(args=["scim", "token", "create", org.slug, "--name", "Entra ID"])
    assert result.exit_code == 0, result.output
    token = re.search(r"token: (idgscim_\S+)", result.output).group(1)
    assert f"/scim/v2/{org.slug}" in result.output
    response = client.get(f"/scim/v2/{org.slug}/ServiceProviderConfig", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.get_json()["patch"]["supported"] is True
    db.expire_all()
    assert db.scalar(select(ScimToken).where(ScimToken.org_id == org.id)).name == "Entra ID"


def test_the_cli_refuses_an_unknown_organization(runner):
    result = runner.invoke(args=["scim", "token", "create", "nope"])
    assert result.exit_code != 0 and "nope" in result.output


def test_a_database_outage_is_a_scim_503(scim, app, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from gateway.scim import users

    def unavailable(*_args, **_kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(users, "list_users", unavailable)
    response = scim.get("/Users")
    assert response.status_code == 503 and response.mimetype == SCIM_JSON
    assert response.get_json()["status"] == "503" and "Retry-After" in response.headers


# Counted in Redis where given: on PostgreSQL, the counters' Session shares the test's one connection
# with the refused request's, whose rollback takes its count along (deployed, each has its own).
@pytest.mark.settings(scim_limit_token="3 per minute", **({"redis_url": os.environ["IDGATE_TEST_REDIS_URL"]}
                                                         if os.environ.get("IDGATE_TEST_REDIS_URL") else {}))
def test_refused_tokens_are_throttled_too(scim, client):
    import secrets

    wrong = {"Authorization": f"Bearer idgscim_guess{secrets.token_hex(8)}"}  # its own count, run after run
    assert [client.get(scim.url("/Users"), headers=wrong).status_code for _ in range(4)] == [401, 401, 401, 429]
    assert scim.get("/Users").status_code == 200  # the real token's budget is its own
