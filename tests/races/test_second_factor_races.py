"""One authenticator code, or one recovery code, used twice at the same instant signs in once."""

from __future__ import annotations

from datetime import datetime, timezone

import pyotp

from gateway.accounts.models import User
from gateway.mfa import recovery, totp
from tests.races.conftest import at_once

ROUNDS = 10
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)


def _account(make_session, n: int, certs_dir: str) -> tuple[int, str, list[str]]:
    """An account with a confirmed authenticator app and recovery codes: (user id, secret, codes)."""
    with make_session() as db, db.begin():
        user = User(email=f"racer{n}@example.com", name=f"Racer {n}", created_at=NOW)
        db.add(user)
        db.flush()
        enrolment = totp.begin(db, user.id, user.email, certs_dir=certs_dir, now=NOW)
        totp.confirm(db, user.id, pyotp.TOTP(enrolment.secret).at(NOW, counter_offset=-1), certs_dir=certs_dir,
                     now=NOW)
        return user.id, enrolment.secret, recovery.issue(db, user.id, now=NOW)


def test_one_code_used_twice_at_once_lets_exactly_one_through(make_session, tmp_path):
    for n in range(ROUNDS):
        user_id, secret, _ = _account(make_session, n, str(tmp_path))
        code = pyotp.TOTP(secret).at(NOW)

        def use(barrier):
            with make_session() as db:
                barrier.wait()
                with db.begin():
                    return totp.verify(db, user_id, code, certs_dir=str(tmp_path), now=NOW)

        outcomes = at_once(use)
        assert sorted(outcomes) == [False, True], f"round {n}: {outcomes}"


def test_one_recovery_code_used_twice_at_once_lets_exactly_one_through(make_session, tmp_path):
    for n in range(ROUNDS):
        user_id, _, codes = _account(make_session, 100 + n, str(tmp_path))

        def use(barrier):
            with make_session() as db:
                barrier.wait()
                with db.begin():
                    return recovery.use(db, user_id, codes[0], now=NOW)

        outcomes = at_once(use)
        assert sorted(outcomes) == [False, True], f"round {n}: {outcomes}"


def test_one_passkey_challenge_answered_twice_at_once_is_taken_once(make_session):
    from gateway.mfa import passkeys

    for n in range(ROUNDS):
        challenge = f"challenge-{n}".encode()
        with make_session() as db, db.begin():
            passkeys._keep_challenge(db, challenge, passkeys.Purpose.SIGN_IN, session_id=None, now=NOW)

        def take(barrier):
            with make_session() as db:
                barrier.wait()
                try:
                    with db.begin():
                        passkeys._take_challenge(db, challenge, passkeys.Purpose.SIGN_IN, session_id=None, now=NOW)
                    return True
                except passkeys.ChallengeGone:
                    return False

        outcomes = at_once(take)
        assert sorted(outcomes) == [False, True], f"round {n}: {outcomes}"
