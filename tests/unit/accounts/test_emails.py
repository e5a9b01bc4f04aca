"""One normal form for email addresses, so that uniqueness and comparisons agree."""

from __future__ import annotations

import unicodedata

import pytest

from gateway.accounts.emails import loose_email_key, normalize_email
from gateway.errors import BadRequest


class TestNormalizeEmail:
    @pytest.mark.parametrize("given, normal", [
        ("Ada@Example.COM", "ada@example.com"),
        ("  ada@example.com\n", "ada@example.com"),
        ("ÉLODIE@example.com", "élodie@example.com"),
    ])
    def test_lowercases_and_trims(self, given, normal):
        assert normalize_email(given) == normal

    def test_composes_the_local_part_with_nfc(self):
        decomposed = unicodedata.normalize("NFD", "élodie@example.com")
        assert decomposed != "élodie@example.com"
        normal = normalize_email(decomposed)
        assert normal == "élodie@example.com"
        assert unicodedata.is_normalized("NFC", normal)

    @pytest.mark.parametrize("given", ["user@bücher.example", "user@BÜCHER.example", "user@xn--bcher-kva.example"])
    def test_writes_the_domain_in_idna(self, given):
        assert normalize_email(given) == "user@xn--bcher-kva.example"

    def test_lowercases_without_casefolding(self):
        # casefold() would make "straße" and "strasse" one mailbox; they are two.
        assert normalize_email("Straße@example.com") == "straße@example.com"

    def test_keeps_plus_addresses_distinct(self):
        assert normalize_email("a+x@example.com") == "a+x@example.com"
        assert normalize_email("a+x@example.com") != normalize_email("a@example.com")

    @pytest.mark.parametrize("given", [
        "", "not-an-email", "a@", "@example.com", "a@b", "a b@example.com", "a@@example.com", "a@localhost",
        "a@exa mple.com",
    ])
    def test_refuses_invalid_addresses_with_a_coded_error(self, given):
        with pytest.raises(BadRequest) as caught:
            normalize_email(given)
        assert caught.value.code == "invalid_email"
        assert caught.value.status == 400


def test_the_loose_key_never_fails_and_is_bounded():
    assert loose_email_key("  Ada@Example.COM ") == "ada@example.com"
    assert loose_email_key("not an email") == "not an email"
    assert len(loose_email_key("x" * 1000)) == 320
