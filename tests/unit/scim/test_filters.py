"""The SCIM filter grammar (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2)."""

from __future__ import annotations

import pytest

from gateway.scim.errors import ScimError
from gateway.scim.filters import (And, AttrPath, Compare, Not, Or, Present, ValuePath, matches, parse_filter,
                                  parse_patch_path)


def test_the_rfcs_examples_parse():
    assert parse_filter('userName Eq "john"') == Compare(AttrPath("username"), "eq", "john")
    assert parse_filter('title pr and userType eq "Employee"') == And(
        Present(AttrPath("title")), Compare(AttrPath("usertype"), "eq", "Employee"))
    assert parse_filter('userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")') == \
        And(Compare(AttrPath("usertype"), "eq", "Employee"),
            Or(Compare(AttrPath("emails"), "co", "example.com"), Compare(AttrPath("emails", "value"), "co", "example.org")))
    assert parse_filter('emails[type eq "work" and value co "@example.com"]') == ValuePath(
        AttrPath("emails"), And(Compare(AttrPath("type"), "eq", "work"), Compare(AttrPath("value"), "co", "@example.com")))
    assert parse_filter('meta.lastModified gt "2011-05-13T04:42:34Z"').value == "2011-05-13T04:42:34Z"
    assert parse_filter("not (active eq false)") == Not(Compare(AttrPath("active"), "eq", False))
    assert parse_filter('urn:ietf:params:scim:schemas:core:2.0:User:name.familyName co "O\'Malley"').path == \
        AttrPath("name", "familyname", "urn:ietf:params:scim:schemas:core:2.0:user")


def test_and_binds_tighter_than_or():
    assert parse_filter("a eq 1 or b eq 2 and c eq 3") == Or(
        Compare(AttrPath("a"), "eq", 1), And(Compare(AttrPath("b"), "eq", 2), Compare(AttrPath("c"), "eq", 3)))


def test_values():
    assert parse_filter('x eq "a \\"quoted\\" \\u00e9"').value == 'a "quoted" é'
    assert parse_filter("x eq null").value is None
    assert parse_filter("x gt 1.5").value == 1.5


@pytest.mark.parametrize("text", ["", "   ", "userName", "userName eq", 'userName like "x"', '(a eq "b"', 'a eq "b")',
                                  'a eq "b" or', 'a[b eq "c"', 'a.b.c eq "x"', 'urn:x:y:attr eq "z"', "a eq 'single'",
                                  '"x" eq a', "not a eq 1", "a eq 1 2", "x" * 3000])
def test_malformed_filters_are_invalid_filter(text):
    with pytest.raises(ScimError) as caught:
        parse_filter(text)
    assert caught.value.scim_type == "invalidFilter" and caught.value.status == 400


def test_deep_nesting_is_refused_not_a_recursion_error():
    with pytest.raises(ScimError):
        parse_filter("(" * 500 + 'a eq "b"' + ")" * 500)


def test_patch_paths():
    path = parse_patch_path('members[value eq "2819c223-7f76-453a-919d-413861904646"]')
    assert path.attr == AttrPath("members") and path.sub is None
    assert matches(path.filter, {"value": "2819c223-7f76-453a-919d-413861904646"})
    typed = parse_patch_path('emails[type eq "work"].value')
    assert typed.sub == "value" and matches(typed.filter, {"type": "Work"})
    with pytest.raises(ScimError) as caught:
        parse_patch_path('emails[type eq ].value')
    assert caught.value.scim_type == "invalidPath"
