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
