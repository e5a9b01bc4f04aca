"""One SAML assertion posted twice at the same instant signs in once: the replay row decides."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from gateway.db import insert_if_absent
from gateway.sso.models import SeenAssertion
from tests.races.conftest import at_once

ROUNDS = 20
LATER = datetime.now(timezone.utc) + timedelta(minutes=5)


def test_two_simultaneous_uses_of_one_assertion_id_let_exactly_one_through(make_session):
    for n in range(ROUNDS):
        def use(barrier):
            with make_session() as db:
                barrier.wait()
                with db.begin():
                    return insert_if_absent(db, SeenAssertion, issuer="https://idp.example.org",
                                            assertion_id=f"_assertion-{n}", expires_at=LATER)

        outcomes = at_once(use)
        assert sorted(outcomes) == [False, True], f"round {n}: {outcomes}"
