"""Two redemptions of one invitation link at the same instant yield exactly one membership."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from gateway.accounts.models import User
from gateway.actor import Actor
from gateway.config import Settings
from gateway.errors import GatewayError
from gateway.invitations import services as invitations
from gateway.invitations.models import Invitation
from gateway.orgs.models import Membership, Organization, Role
from tests.races.conftest import FAST_PASSWORDS, PASSWORD, at_once

ROUNDS = 15
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_two_simultaneous_redemptions_make_one_membership(make_session):
    settings = Settings()
    for n in range(ROUNDS):
        code = f"race-code-{n}-" + "x" * 30
        with make_session() as db, db.begin():
            org = Organization(slug=f"invite-race-{n}", name="Invite Race", created_at=NOW)
            user = User(email=f"invitee{n}@race.example.com", name="In Vitee",
                        password_hash=FAST_PASSWORDS.hash(PASSWORD), created_at=NOW)
            db.add_all([org, user])
            db.flush()
            db.add(Invitation(org_id=org.id, email=user.email, role=Role.USER,
                              code_hash=invitations.hash_code(code), created_at=NOW,
                              expires_at=NOW + timedelta(hours=24)))
            org_id, email = org.id, user.email

        def redeem(barrier):
            with make_session() as db:
                barrier.wait()
                try:
                    with db.begin():
                        invitations.accept_with_password(db, code, email=email, password=PASSWORD,
                                                         passwords=FAST_PASSWORDS, actor=Actor(), settings=settings,
                                                         now=NOW)
                    return "ok"
                except GatewayError as exc:
                    return exc.code

        outcomes = at_once(redeem)
        assert sorted(outcomes) == ["invitation_invalid", "ok"], f"round {n}: {outcomes}"
        with make_session() as db:
            assert db.scalar(select(func.count()).select_from(Membership)
                             .where(Membership.org_id == org_id)) == 1
