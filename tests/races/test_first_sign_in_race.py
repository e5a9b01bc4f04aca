"""Two first SSO sign-ins of one new user at the same instant: one account, and a clear 409 for the other."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, select

from gateway.accounts import provisioning
from gateway.accounts.models import FederatedIdentity, User
from gateway.accounts.provisioning import ConcurrentSignIn, DomainClaim, ExternalIdentity
from gateway.orgs.models import Organization, Role
from tests.races.conftest import at_once

ROUNDS = 10
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
DOMAIN_DECLARED_HERE = DomainClaim(here=True, elsewhere=False, declares_any=True)


def test_simultaneous_first_sign_ins_enroll_one_user_and_refuse_the_other_clearly(make_session):
    with make_session() as db, db.begin():
        org = Organization(slug="race-jit", name="Race", created_at=NOW)
        db.add(org)
        db.flush()
        org_id = org.id

    for n in range(ROUNDS):
        identity = ExternalIdentity(org_id=org_id, issuer="https://idp.example.org", subject=f"new{n}@example.org",
                                    email=f"new{n}@example.org", name="New Person")

        def sign_in(barrier):
            with make_session() as db:
                try:
                    with db.begin():
                        decision = provisioning.decide(db, identity, domain_claim=lambda _domain: DOMAIN_DECLARED_HERE)
                        barrier.wait()  # both decided ENROLL before either inserts
                        provisioning.apply(db, decision, identity, default_role=Role.USER, admin_groups=[],
                                           now=NOW)
                    return "enrolled"
                except ConcurrentSignIn as exc:
                    return exc.status

        outcomes = at_once(sign_in)
        assert sorted(map(str, outcomes)) == ["409", "enrolled"], f"round {n}: {outcomes}"

    with make_session() as db:
        assert db.scalar(select(func.count()).select_from(User)) == ROUNDS
        assert db.scalar(select(func.count()).select_from(FederatedIdentity)) == ROUNDS
