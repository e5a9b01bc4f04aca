"""PATCH operations applied to a resource's JSON, in the spellings IdPs send."""

from __future__ import annotations

import pytest

from gateway.scim import patch
from gateway.scim.errors import ScimError

MULTI = {"emails", "members"}


def _apply(document, *operations):
    return patch.apply(document, patch.operations({"Operations": list(operations)}), multi_valued=MULTI)


def test_entra_capitalised_ops_and_typed_email():
    user = {"userName": "a", "emails": [{"value": "a@x.example", "type": "work"}]}
    _apply(user, {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "b@x.example"},
           {"op": "Add", "path": "displayName", "value": "A B"})
    assert user == {"userName": "a", "emails": [{"value": "b@x.example", "type": "work"}], "displayName": "A B"}


def test_add_with_a_filter_creates_the_value_it_describes():
    user = {"emails": []}
    _apply(user, {"op": "add", "path": 'emails[type eq "work"].value', "value": "w@x.example"})
    assert user["emails"] == [{"type": "work", "value": "w@x.example"}]


def test_okta_replace_without_a_path_and_extension_attributes():
    user = {"active": True}
    _apply(user, {"op": "replace", "value": {"active": False, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
                                             {"department": "Sales"}}})
    assert user == {"active": False}


def test_remove_by_filter_and_by_value_list():
    group = {"members": [{"value": "1"}, {"value": "2"}, {"value": "3"}]}
    _apply(group, {"op": "remove", "path": 'members[value eq "2"]'})
    _apply(group, {"op": "Remove", "path": "members", "value": [{"value": "3"}]})
    assert group["members"] == [{"value": "1"}]


def test_add_to_a_multi_valued_attribute_appends_without_duplicates():
    group = {"members": [{"value": "1"}]}
    _apply(group, {"op": "add", "path": "members", "value": [{"value": "1"}, {"value": "2"}]})
    assert group["members"] == [{"value": "1"}, {"value": "2"}]


@pytest.mark.parametrize("body, scim_type", [
    ({}, "invalidSyntax"), ({"Operations": []}, "invalidSyntax"), ({"Operations": [{"op": "move"}]}, "invalidSyntax"),
    ({"Operations": [{"op": "remove"}]}, "noTarget"), ({"Operations": [{"op": "add", "path": "x"}]}, "invalidSyntax"),
    ({"Operations": [{"op": "add", "value": 3}]}, "invalidSyntax"),
    ({"schemas": ["urn:wrong"], "Operations": [{"op": "add", "path": "x", "value": 1}]}, "invalidSyntax"),
    ({"Operations": [{"op": "add", "path": "a[", "value": 1}]}, "invalidPath"),
])
def test_malformed_operations(body, scim_type):
    with pytest.raises(ScimError) as caught:
        patch.operations(body)
    assert caught.value.scim_type == scim_type


def test_replace_with_a_filter_that_matches_nothing_and_describes_nothing_is_no_target():
    with pytest.raises(ScimError) as caught:
        _apply({"emails": []}, {"op": "replace", "path": 'emails[value co "x"].type', "value": "home"})
    assert caught.value.scim_type == "noTarget"
