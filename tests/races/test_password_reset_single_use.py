"""Two uses of one "forgot password" link at the same instant: exactly one sets its password."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from gateway.accounts import recovery
from gateway.accounts.models import PasswordReset, User
from gateway.actor import Actor
from gateway.config import Settings
from gateway.errors import GatewayError
from gateway.orgs.models import Membership, Organization, Role
from tests.races.conftest import FAST_PASSWORDS, PASSWORD, at_once

ROUNDS = 15
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
CHOSEN = ("first chosen passphrase 7781 amber", "second chosen passphrase 9902 cobalt")


def test_two_simultaneous_uses_of_one_link_set_one_password(make_session):
    settings = Settings()
    for n in range(ROUNDS):
        code = f"reset-race-{n}-" + "y" * 30
        with make_session() as db, db.begin():
            org = Organization(slug=f"reset-race-{n}", name="Reset Race", created_at=NOW)
            user = User(email=f"forgetful{n}@race.example.com", name="For Getful",
                        password_hash=FAST_PASSWORDS.hash(PASSWORD), created_at=NOW)
            db.add_all([org, user])
            db.flush()
            db.add(Membership(org_id=org.id, user_id=user.id, role=Role.USER, joined_at=NOW))
            db.add(PasswordReset(user_id=user.id, code_hash=recovery.hash_code(code), created_at=NOW,
                                 expires_at=NOW + timedelta(hours=1)))
            user_id = user.id
        chosen = list(CHOSEN)

        def use(barrier):
            password = chosen.pop()
            with make_session() as db:
                barrier.wait()
                try:
                    with db.begin():
                        recovery.reset_password(db, code, new_password=password, passwords=FAST_PASSWORDS,
                                                actor=Actor(), settings=settings, now=NOW)
                    return password
                except GatewayError as exc:
                    return exc.code

        outcomes = at_once(use)
        assert outcomes.count("reset_link_invalid") == 1, f"round {n}: {outcomes}"
        [winner] = [o for o in outcomes if o in CHOSEN]
        with make_session() as db:
            stored = db.scalar(select(User.password_hash).where(User.id == user_id))
            assert FAST_PASSWORDS.verify(stored, winner)  # the password of the one that went on, not the other's
            assert db.scalar(select(PasswordReset.used_at).where(PasswordReset.user_id == user_id)) is not None
