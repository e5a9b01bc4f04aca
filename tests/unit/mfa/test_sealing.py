"""Second-factor secrets are sealed with keys kept beside the signing keys; a rotation reseals them."""

from __future__ import annotations

import stat

import pytest

from gateway.mfa import sealing


def test_a_sealed_secret_opens_with_the_same_keys_only(tmp_path):
    sealed = sealing.seal(str(tmp_path / "a"), "JBSWY3DPEHPK3PXP")

    assert "JBSWY3DPEHPK3PXP" not in sealed
    assert sealing.unseal(str(tmp_path / "a"), sealed) == "JBSWY3DPEHPK3PXP"
    with pytest.raises(sealing.InvalidToken):
        sealing.unseal(str(tmp_path / "b"), sealed)


def test_the_key_file_is_the_owners_alone(tmp_path):
    sealing.seal(str(tmp_path), "x")
    assert stat.S_IMODE((tmp_path / sealing.KEYS).stat().st_mode) == 0o600


def test_after_a_new_key_old_seals_open_and_reseal_with_the_new_one(tmp_path):
    certs = str(tmp_path)
    old = sealing.seal(certs, "secret")
    sealing.add_key(certs)

    resealed = sealing.reseal(certs, old)
    sealing.keep_newest(certs, 1)

    assert sealing.unseal(certs, resealed) == "secret"
    with pytest.raises(sealing.InvalidToken):
        sealing.unseal(certs, old)


def test_a_key_file_another_process_replaced_is_read_again(tmp_path):
    # Each worker keeps the keys it read, for as long as the file is the one it read them from.
    from cryptography.fernet import Fernet

    from gateway import keyfiles

    certs = str(tmp_path)
    sealing.seal(certs, "secret")
    theirs = Fernet.generate_key()
    keyfiles.write(tmp_path / sealing.KEYS, theirs + b"\n")

    assert Fernet(theirs).decrypt(sealing.seal(certs, "secret").encode()) == b"secret"


def test_keys_rotate_seals_every_stored_secret_again_and_they_still_work(runner, db, app, clock):
    import pyotp
    from sqlalchemy import select

    from gateway.mfa import totp
    from gateway.mfa.models import TotpFactor
    from tests.factories import UserFactory

    certs = app.extensions["idgate.settings"].certs_dir
    user = UserFactory()
    db.flush()
    enrolment = totp.begin(db, user.id, user.email, certs_dir=certs, now=clock.now())
    totp.confirm(db, user.id, pyotp.TOTP(enrolment.secret).at(clock.now()), certs_dir=certs, now=clock.now())
    db.flush()
    before = db.scalar(select(TotpFactor.secret_sealed))

    result = runner.invoke(args=["keys", "rotate"])

    assert result.exit_code == 0 and "1 sealed again" in result.output
    db.expire_all()
    assert db.scalar(select(TotpFactor.secret_sealed)) != before
    clock.advance(seconds=30)
    assert totp.verify(db, user.id, pyotp.TOTP(enrolment.secret).at(clock.now()), certs_dir=certs, now=clock.now())
