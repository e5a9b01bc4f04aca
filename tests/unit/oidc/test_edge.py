"""What the provider's two edges (the views, the fast path) read alike from a request."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from authlib.oauth2.rfc6749.errors import AccessDeniedError, InvalidRequestError

from gateway.oidc import edge


def grant_of(**data):
    payload = SimpleNamespace(data=data, state=data.get("state"))
    return SimpleNamespace(request=SimpleNamespace(payload=payload), redirect_uri="https://app.example.com/cb")


def test_the_bearer_header_wins_over_the_forms_token():
    assert edge.bearer("Bearer abc ", "form") == "abc"
    assert edge.bearer("bearer abc", None) == "abc"
    assert edge.bearer("Basic abc", "form") == "form"
    assert edge.bearer(None) is None


def test_a_long_parameter_or_a_control_character_is_unreadable():
    assert edge.readable({"state": "x" * edge.MAX_PARAMETER})
    assert not edge.readable({"state": "x" * (edge.MAX_PARAMETER + 1)})
    assert not edge.readable({"nonce": "a\x00b"})


def test_the_requests_demands_are_read_once_for_both_edges():
    asked = edge.asked(grant_of(prompt="login consent", max_age="0", acr_values="urn:idgate:acr:mfa"),
                       method="GET", form={})
    assert asked.prompt == {"login", "consent"} and asked.max_age == 0 and asked.acr_values == {"urn:idgate:acr:mfa"}
    assert not asked.consented
    assert edge.asked(grant_of(), method="POST", form={"consent": "allow"}).consented


def test_an_unreadable_max_age_and_a_refused_consent_are_the_rfcs_errors():
    with pytest.raises(InvalidRequestError):
        edge.asked(grant_of(max_age="-1"), method="GET", form={})
    with pytest.raises(AccessDeniedError):
        edge.asked(grant_of(state="s"), method="POST", form={"consent": "deny"})
