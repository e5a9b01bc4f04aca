"""One authorization code, or one refresh token, used twice at the same instant: exactly one use
goes through, and the other finds it spent and revokes the grant (RFC 6749 §4.1.2, RFC 9700 §4.14)."""

from __future__ import annotations

from datetime import datetime, timezone

from gateway.accounts.models import User
from gateway.actor import Actor
from gateway.config import load_settings
from gateway.oidc import clients, grants
from gateway.oidc.models import OidcGrant
from gateway.orgs.access import AdminScope
from gateway.orgs.models import Membership, Organization, Role
from gateway.sessions import services as sessions
from tests.races.conftest import at_once

ROUNDS = 10
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)


def _signed_in(make_session, n: int, settings):
    """A member's session and an OpenID Connect client of their organization: (client pk, context)."""
    with make_session() as db, db.begin():
        org = Organization(slug=f"race-oidc-{n}", name=f"Race {n}", created_at=NOW)
        user = User(email=f"oidc-racer{n}@example.com", name=f"Racer {n}", created_at=NOW)
        db.add_all([org, user])
        db.flush()
        db.add(Membership(user_id=user.id, org_id=org.id, role=Role.USER, joined_at=NOW))
        client, _ = clients.create_client(db, AdminScope(org.id, org.slug, org.name, Actor()), name="Grafana",
                                          redirect_uris=["https://grafana.example.com/cb"], now=NOW)
        token, _ = sessions.start(db, user.id, org_id=org.id, amr="pwd", actor=Actor(), settings=settings, now=NOW)
        ctx = sessions.resolve(db, token, settings=settings, now=NOW)
        return client.id, ctx


def _issue(make_session, client_pk, ctx, code: str) -> None:
    with make_session() as db, db.begin():
        grants.issue_code(db, code, client_pk=client_pk, ctx=ctx, auth_time=NOW, scope="openid offline_access",
                          nonce=None, redirect_uri="https://grafana.example.com/cb", code_challenge="c" * 43, now=NOW)


def test_one_code_redeemed_twice_at_once_is_redeemed_once_and_its_grant_revoked(make_session, tmp_path):
    settings = load_settings({}, {"DATABASE_URL": "sqlite://", "CERTS_DIR": str(tmp_path)})
    for n in range(ROUNDS):
        client_pk, ctx = _signed_in(make_session, n, settings)
        _issue(make_session, client_pk, ctx, f"code-{n}")

        def redeem(barrier, n=n, client_pk=client_pk):
            with make_session() as db:
                barrier.wait()
                with db.begin():
                    found = grants.redeem_code(db, f"code-{n}", client_pk=client_pk, settings=settings, now=NOW)
                    return "redeemed" if found else "refused"

        outcomes = at_once(redeem)
        assert sorted(outcomes) == ["redeemed", "refused"], f"round {n}: {outcomes}"
        with make_session() as db:
            assert db.query(OidcGrant).filter_by(client_pk=client_pk).one().revoked_at is not None


def test_one_refresh_token_used_twice_at_once_is_used_once(make_session, tmp_path):
    settings = load_settings({}, {"DATABASE_URL": "sqlite://", "CERTS_DIR": str(tmp_path)})
    for n in range(ROUNDS):
        client_pk, ctx = _signed_in(make_session, 100 + n, settings)
        _issue(make_session, client_pk, ctx, f"code-r{n}")
        with make_session() as db, db.begin():
            redeemed = grants.redeem_code(db, f"code-r{n}", client_pk=client_pk, settings=settings, now=NOW)
            grants.save_tokens(db, redeemed.grant.id, access_token=f"access-{n}", refresh_token=f"refresh-{n}",
                               refresh_expires_at=ctx.expires_at, now=NOW)

        def use(barrier, n=n, client_pk=client_pk):
            with make_session() as db:
                barrier.wait()
                with db.begin():
                    active = grants.use_refresh_token(db, f"refresh-{n}", client_pk=client_pk, settings=settings,
                                                      now=NOW)
                    return "used" if active else "refused"

        outcomes = at_once(use)
        assert sorted(outcomes) == ["refused", "used"], f"round {n}: {outcomes}"
