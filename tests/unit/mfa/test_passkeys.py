"""gateway.mfa.passkeys: the relying party a base URL gives, and the checks on an answer that the
functional tests reach only through pages (the counter, the user handle, single-use challenges)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from gateway.mfa import passkeys
from gateway.mfa.models import Passkey
from gateway.mfa.passkeys import Purpose, RelyingParty
from tests.factories import MembershipFactory
from tests.helpers.authenticator import SoftwareAuthenticator

NOW = datetime(2026, 12, 10, 9, 0, tzinfo=timezone.utc)
RP = RelyingParty("localhost", "http://localhost:5000")


class TestRelyingParty:
    @pytest.mark.parametrize("base_url, expected", [
        ("https://id.example.com", RelyingParty("id.example.com", "https://id.example.com")),
        ("https://ID.Example.com:8443", RelyingParty("id.example.com", "https://id.example.com:8443")),
        ("http://localhost:5000", RelyingParty("localhost", "http://localhost:5000")),
        # An IP address is no rpId: a loopback one is this machine, which browsers also call localhost.
        ("http://127.0.0.1:5000", RelyingParty("localhost", "http://localhost:5000")),
        ("http://[::1]:8080", RelyingParty("localhost", "http://localhost:8080")),
        ("http://127.0.0.1", RelyingParty("localhost", "http://localhost")),
    ])
    def test_the_rp_id_is_the_base_urls_name(self, base_url, expected):
        assert passkeys.relying_party(base_url) == expected

    @pytest.mark.parametrize("base_url", ["http://192.0.2.10:5000", "https://[2001:db8::1]"])
    def test_another_ip_address_has_no_passkeys(self, base_url):
        assert passkeys.relying_party(base_url) is None

    def test_pages_offer_passkeys_at_the_relying_partys_origin_only(self):
        assert passkeys.offered_at(RP, "http://localhost:5000")
        assert not passkeys.offered_at(RP, "http://127.0.0.1:5000")
        assert not passkeys.offered_at(None, "http://192.0.2.10:5000")


@pytest.fixture
def registered(db):
    """A member with one passkey: (user id, session-less authenticator, the Passkey row)."""
    user = MembershipFactory().user
    db.flush()
    authenticator = SoftwareAuthenticator(origin=RP.origin)
    from gateway.sessions.models import UserSession

    session = UserSession(token_hash="x" * 64, user_id=user.id, org_id=None, restricted=False, amr="pwd",
                          created_at=NOW, last_seen_at=NOW, expires_at=NOW + timedelta(hours=1),
                          idle_expires_at=NOW + timedelta(hours=1))
    db.add(session)
    db.flush()
    asked = passkeys.registration_options(db, user_id=user.id, email=user.email, display_name=user.name,
                                          session_id=session.id, rp=RP, now=NOW)
    passkey = passkeys.register(db, user_id=user.id, session_id=session.id, answer=authenticator.create(asked),
                                name="Laptop", rp=RP, now=NOW)
    return user.id, authenticator, passkey


def _sign_in(db, authenticator, now=NOW, **answer):
    asked = passkeys.authentication_options(db, Purpose.SIGN_IN, rp=RP, now=now)
    return passkeys.authenticate(db, Purpose.SIGN_IN, answer=authenticator.get(asked, **answer), rp=RP, now=now)


class TestAuthenticate:
    def test_a_rising_counter_is_kept_with_the_time_of_use(self, db, registered):
        _, authenticator, passkey = registered

        used = _sign_in(db, authenticator, counter=41)

        assert used.user_verified and used.passkey.id == passkey.id
        db.refresh(passkey)
        assert (passkey.sign_count, passkey.last_used_at) == (41, NOW)

    def test_an_authenticator_that_keeps_no_counter_stays_at_zero(self, db, registered):
        _, authenticator, passkey = registered
        authenticator.counts = False

        _sign_in(db, authenticator)
        _sign_in(db, authenticator)

        db.refresh(passkey)
        assert passkey.sign_count == 0 and passkey.refused_at is None

    @pytest.mark.parametrize("counter", [5, 4, 0])
    def test_a_counter_not_above_the_last_refuses_the_passkey(self, db, registered, counter):
        _, authenticator, passkey = registered
        _sign_in(db, authenticator, counter=5)

        with pytest.raises(passkeys.CounterWentBack) as refused:
            _sign_in(db, authenticator, counter=counter)

        assert refused.value.reason == "counter_went_back"
        db.refresh(passkey)
        assert passkey.refused_at == NOW and passkey.sign_count == 5

    def test_a_signature_by_another_key_is_refused_before_the_counter_is_looked_at(self, db, registered):
        _, authenticator, passkey = registered
        _sign_in(db, authenticator, counter=5)
        forger = SoftwareAuthenticator(origin=RP.origin)
        forger.create({"rp": {"id": "localhost"}, "user": {"id": "AAAA"}, "challenge": "AAAA"})
        forger.credentials[0].id, forger.credentials[0].user_handle = passkey.credential_id, passkey.user_handle

        with pytest.raises(passkeys.PasskeyRefused) as refused:
            _sign_in(db, forger, counter=1)

        assert refused.value.reason == "bad_signature"
        db.refresh(passkey)
        assert passkey.refused_at is None  # a forged answer says nothing about copies of the key

    def test_a_user_handle_other_than_the_passkeys_is_refused(self, db, registered):
        _, authenticator, _ = registered
        authenticator.credentials[0].user_handle = b"someone else"

        with pytest.raises(passkeys.PasskeyRefused) as refused:
            _sign_in(db, authenticator)

        assert refused.value.reason == "wrong_user_handle"

    def test_a_challenge_answers_once_and_not_after_two_minutes(self, db, registered):
        _, authenticator, _ = registered
        asked = passkeys.authentication_options(db, Purpose.SIGN_IN, rp=RP, now=NOW)
        answer = authenticator.get(asked)
        passkeys.authenticate(db, Purpose.SIGN_IN, answer=answer, rp=RP, now=NOW)
        late = passkeys.authentication_options(db, Purpose.SIGN_IN, rp=RP, now=NOW)

        with pytest.raises(passkeys.ChallengeGone):
            passkeys.authenticate(db, Purpose.SIGN_IN, answer=answer, rp=RP, now=NOW)
        with pytest.raises(passkeys.ChallengeGone):
            passkeys.authenticate(db, Purpose.SIGN_IN, answer=authenticator.get(late), rp=RP,
                                  now=NOW + passkeys.CHALLENGE_TTL)

    def test_the_passkey_row_holds_no_private_key(self, db, registered):
        _, authenticator, _ = registered
        private = authenticator.credentials[0].key.private_numbers().private_value.to_bytes(32, "big")
        row = db.scalar(select(Passkey))
        assert private not in row.public_key and private not in row.credential_id
