"""Two organizations registering one host at the same instant: one has it, the other a clear 409."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from gateway.actor import Actor
from gateway.apps import services as apps
from gateway.apps.models import AppHost, AppRoute
from gateway.errors import GatewayError
from gateway.orgs.access import AdminScope
from gateway.orgs.models import Organization
from tests.races.conftest import at_once

ROUNDS = 10
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_one_of_two_organizations_registering_a_host_at_once_has_it(make_session):
    with make_session() as db, db.begin():
        orgs = [Organization(slug=f"race-host-{n}", name=f"Race {n}", created_at=NOW) for n in range(2)]
        db.add_all(orgs)
        db.flush()
        scopes = [AdminScope(org.id, org.slug, org.name, Actor()) for org in orgs]

    for n in range(ROUNDS):
        host, turn = f"round{n}.example.com", iter(scopes)

        def register(barrier):
            scope = next(turn)
            with make_session() as db:
                try:
                    with db.begin():
                        barrier.wait()
                        apps.create_app(db, scope, name=f"App {n}", routes=[host, f"{host}/docs"], now=NOW)
                    return "registered"
                except GatewayError as exc:
                    return f"{exc.status} {exc.code}"

        outcomes = at_once(register)

        assert sorted(outcomes) == ["409 host_taken", "registered"], f"round {n}: {outcomes}"
        with make_session() as db:
            owners = db.scalars(select(AppHost.org_id).where(AppHost.host == host)).all()
            routed_by = set(db.scalars(select(AppRoute.app_id).where(AppRoute.host == host)))
            assert len(owners) == 1 and len(routed_by) == 1
