"""The API's declared shapes say what the services accept: a value the document allows is never
refused, and what a service refuses the document does not allow."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import jsonschema_rs
import pytest
from email_validator import SPECIAL_USE_DOMAIN_NAMES
from pydantic import ValidationError

from gateway.accounts.emails import normalize_email
from gateway.accounts.services import validate_name
from gateway.api.schemas import (
    NAME_LENGTH,
    AppChange,
    AuditQuery,
    NewApp,
    NewGroup,
    NewOidcClient,
    NewRole,
    NewUser,
    OidcClientChange,
    RoleChange,
)
from gateway.errors import BadRequest
from gateway.groups import services as groups
from gateway.oidc import clients
from gateway.oidc.models import SigningAlg
from gateway.orgs import roles


def _property(model, name):
    return jsonschema_rs.validator_for(model.model_json_schema()["properties"][name], validate_formats=True)


def _accepted(check, value) -> bool:
    try:
        check(value)
    except BadRequest:
        return False
    return True


class TestName:
    @pytest.mark.parametrize("name", [
        "Ada", "Ada Lovelace", "x" * NAME_LENGTH[1], "Zoë Ölçek", "李小龍", "a\tb", "a \n\x85 b", "a\u3000b",
        "O'Brien-Smith", "a b",
    ])
    def test_a_name_the_document_allows_is_taken(self, name):
        assert _property(NewUser, "name").is_valid(name)
        assert _accepted(validate_name, name)

    @pytest.mark.parametrize("name", [
        "Al", "x" * (NAME_LENGTH[1] + 1), "a\x00b", "ab\u200b", "a\ue000b", "a\U00041cc2b", "a\u202eb", "ab\x1b",
    ])
    def test_a_name_the_service_refuses_the_document_does_not_allow(self, name):
        assert not _accepted(validate_name, name)
        assert not _property(NewUser, "name").is_valid(name)

    def test_surrounding_spaces_are_the_services_to_drop(self):
        # Narrower than the service, never wider: " Ada " is taken as "Ada", but not advertised.
        assert _accepted(validate_name, " Ada ") and not _property(NewUser, "name").is_valid(" Ada ")


class TestRoleName:
    """A member's role is a built-in role or one of the organization's own; which exist, the service says."""

    @pytest.mark.parametrize("name", ["admin", "auditor", "user", "editor", "x", "team-lead.eu_2", "a" * 40])
    def test_a_role_name_the_document_allows_is_a_name_roles_have(self, name):
        assert _property(NewUser, "role").is_valid(name) and _property(RoleChange, "role").is_valid(name)
        assert _accepted(roles.parse_name, name)

    @pytest.mark.parametrize("name", ["", "-lead", "two words", "a,b", "a" * 41, "édition", "a/b"])
    def test_a_name_no_role_can_have_the_document_does_not_allow(self, name):
        assert not _accepted(roles.parse_name, name)
        assert not _property(NewUser, "role").is_valid(name)

    @pytest.mark.parametrize("name", ["admin", "auditor", "user"])
    def test_a_custom_role_is_never_named_as_a_built_in_one(self, name):
        assert not _property(NewRole, "name").is_valid(name) and _property(NewRole, "name").is_valid(name + "s")


class TestGroupName:
    @pytest.mark.parametrize("name", ["ops", "a", "team:eu-west.1", "x" * 64])
    def test_a_group_name_the_document_allows_is_taken(self, name):
        assert _property(NewGroup, "name").is_valid(name)
        assert _accepted(groups.parse_name, name)

    @pytest.mark.parametrize("name", ["", "Ops Team", "a,b", "x" * 65, ":ops"])
    def test_a_group_name_the_service_refuses_the_document_does_not_allow(self, name):
        assert not _accepted(groups.parse_name, name)
        assert not _property(NewGroup, "name").is_valid(name)


class TestAppName:
    def test_the_whitespace_a_name_collapses_is_pythons(self):
        every = "".join(map(chr, range(0x110000)))
        pattern = NewApp.model_json_schema()["properties"]["name"]["pattern"]
        assert {c for c in every if c.isspace()} == set(every) - set(re.findall(pattern, every))

    @pytest.mark.parametrize("name, allowed", [("Grafana", True), ("  Grafana  Cloud ", True), ("\u3000x", True),
                                               ("", False), ("   ", False), ("\t\x1c\x85\u2028", False)])
    def test_a_name_needs_something_that_is_not_whitespace(self, name, allowed):
        assert _property(NewApp, "name").is_valid(name) is allowed
        assert _property(AppChange, "name").is_valid(name) is allowed

    def test_a_change_shows_no_default_for_what_it_leaves_alone(self):
        properties = AppChange.model_json_schema()["properties"]
        assert not any("default" in field for field in properties.values())
        assert "required" not in AppChange.model_json_schema()



_BMP = tuple(chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF)  # every character but a lone surrogate


def _uri_items(model, name):
    return jsonschema_rs.validator_for(model.model_json_schema()["properties"][name]["items"])


class TestOidcClientUri:
    """A client's URI: the document allows every one the service takes (gateway.oidc.clients.check_uri);
    the service refuses every one the document does not allow."""

    @pytest.mark.parametrize("where", ["https://app{}.example.com/", "{}https://a/", "https://a/{}"])
    def test_every_character_the_service_takes_the_document_allows(self, where):
        document = _uri_items(NewOidcClient, "redirect_uris")
        refused = [hex(ord(c)) for c in _BMP
                   if _accepted(clients.check_uri, where.format(c)) and not document.is_valid(where.format(c))]
        assert refused == []

    @pytest.mark.parametrize("where", ["https://a/{}", "https://a/x{}y", "https://a/?q={}"])
    def test_in_the_path_and_query_a_character_is_taken_by_both_or_by_neither(self, where):
        document = _uri_items(NewOidcClient, "redirect_uris")
        differ = [hex(ord(c)) for c in _BMP
                  if document.is_valid(where.format(c)) != _accepted(clients.check_uri, where.format(c))]
        assert differ == []

    @pytest.mark.parametrize("uri", ["https://app.example.com/callback", "HTTPS://App.Example.com/cb/",
                                     "http://127.0.0.1:8765/cb", "http://[::1]/cb", "https://a/cb?x=1&y=@",
                                     " https://app.example.com/cb\n"])
    def test_a_uri_the_service_takes_the_document_allows(self, uri):
        assert _accepted(clients.check_uri, uri)
        for model, name in ((NewOidcClient, "redirect_uris"), (NewOidcClient, "post_logout_redirect_uris"),
                            (OidcClientChange, "redirect_uris")):
            assert _uri_items(model, name).is_valid(uri)
        assert _property(NewOidcClient, "backchannel_logout_uri").is_valid(uri)

    @pytest.mark.parametrize("uri", ["", "   ", "/callback", "app.example.com/cb", "https:/a", "https://",
                                     "ftp://a/", "javascript:alert(1)", "https://a/#x", "https://*.a/", "https://a/b c",
                                     "https://a/caf\u00e9", "https://a\u3000b/"])
    def test_a_uri_the_document_refuses_the_service_refuses(self, uri):
        assert not _uri_items(NewOidcClient, "redirect_uris").is_valid(uri)
        assert not _accepted(clients.check_uri, uri)

    def test_an_empty_or_null_back_channel_uri_is_none_to_both(self):
        for value in ("", None):
            assert _property(NewOidcClient, "backchannel_logout_uri").is_valid(value)
        assert not _property(NewOidcClient, "backchannel_logout_uri").is_valid("  ")
        assert not _accepted(clients.check_uri, "  ")

    def test_the_lists_are_as_long_as_the_service_takes_counted_as_sent(self):
        schema = NewOidcClient.model_json_schema()["properties"]
        assert schema["redirect_uris"]["maxItems"] == schema["post_logout_redirect_uris"]["maxItems"] == clients.MAX_URIS
        assert schema["redirect_uris"]["minItems"] == 1 and "uniqueItems" not in schema["redirect_uris"]

    def test_the_algorithms_are_the_services(self):
        allowed = NewOidcClient.model_json_schema()["properties"]["id_token_signed_response_alg"]["enum"]
        assert allowed == [alg.value for alg in SigningAlg]

    def test_a_change_shows_no_default_for_what_it_leaves_alone(self):
        properties = OidcClientChange.model_json_schema()["properties"]
        assert not any("default" in field for field in properties.values())
        assert "required" not in OidcClientChange.model_json_schema()


class TestEmail:
    @pytest.mark.parametrize("domain", SPECIAL_USE_DOMAIN_NAMES)
    def test_special_use_domains_are_refused_by_both(self, domain):
        address = f"ada@lab.{domain.upper()}"
        assert not _accepted(normalize_email, address)
        assert not _property(NewUser, "email").is_valid(address)

    def test_an_ordinary_address_is_allowed_by_both(self):
        assert _accepted(normalize_email, "ada@contest.example.com")
        assert _property(NewUser, "email").is_valid("ada@contest.example.com")


class TestAuditTimes:
    @pytest.mark.parametrize("given, read", [
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=timezone.utc)),
        ("2026-03-01T10:00:00+01:00", datetime(2026, 3, 1, 9, tzinfo=timezone.utc)),
        ("2026-03-01t10:00:00z", datetime(2026, 3, 1, 10, tzinfo=timezone.utc)),  # RFC 3339 allows lowercase
        ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, tzinfo=timezone.utc)),  # a leap second
        ("2026-03-01T10:00:00", datetime(2026, 3, 1, 10, tzinfo=timezone.utc)),  # no offset: UTC
    ])
    def test_reads_iso_8601_dates_and_times_as_utc(self, given, read):
        assert AuditQuery.model_validate({"since": given}).since == read

    @pytest.mark.parametrize("given", ["0.5", "1700000000", "yesterday", "0001-01-01T00:00:00+14:00"])
    def test_refuses_anything_else(self, given):
        # pydantic alone would read 0.5 as half a second after 1970 (schemathesis sent `until=0.5`).
        with pytest.raises(ValidationError):
            AuditQuery.model_validate({"until": given})
