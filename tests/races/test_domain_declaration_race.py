"""Two organizations declaring one email domain at the same instant: one has it, the other a clear 409."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from gateway.actor import Actor
from gateway.errors import GatewayError
from gateway.orgs.models import Organization
from gateway.sso import connections
from gateway.sso.models import SsoEmailDomain
from tests.helpers.idp import TestIdP
from tests.races.conftest import at_once

ROUNDS = 10
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_one_of_two_organizations_declaring_a_domain_at_once_has_it(make_session, tmp_path):
    metadata = TestIdP(tmp_path / "idp").metadata_xml()
    with make_session() as db, db.begin():
        orgs = [Organization(slug=f"race-domain-{n}", name=f"Race {n}", created_at=NOW) for n in range(2)]
        db.add_all(orgs)
        db.flush()
        org_ids = [org.id for org in orgs]

    for n in range(ROUNDS):
        domain, turn = f"round{n}.example.com", iter(org_ids)

        def declare(barrier):
            org_id = next(turn)
            with make_session() as db:
                try:
                    with db.begin():
                        barrier.wait()
                        connections.configure(db, org_id, metadata_xml=metadata, email_domains=[domain],
                                              actor=Actor(), now=NOW)
                    return "declared"
                except GatewayError as exc:
                    return f"{exc.status} {exc.code}"

        outcomes = at_once(declare)

        assert sorted(outcomes) == ["409 domain_taken", "declared"], f"round {n}: {outcomes}"
        with make_session() as db:
            assert len(db.scalars(select(SsoEmailDomain).where(SsoEmailDomain.domain == domain)).all()) == 1
