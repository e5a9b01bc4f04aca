"""The claims a scope gives, the same in the ID token and at /userinfo."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from gateway.oidc import claims
from gateway.sessions.services import SessionContext

CTX = SessionContext(1, 42, "ada@example.com", "Ada", 7, "acme", "Acme", "editor", False,
                     datetime(2026, 12, 4, tzinfo=timezone.utc), amr=("pwd",), groups=("ops", "wiki"))


def test_openid_alone_names_the_account_only():
    assert claims.of(CTX, "openid") == {"sub": "42"}


def test_each_scope_adds_its_claims():
    assert claims.of(CTX, "openid profile") == {"sub": "42", "name": "Ada", "preferred_username": "ada@example.com",
                                               "org": "acme", "role": "editor"}
    assert claims.of(CTX, "openid groups")["groups"] == ["ops", "wiki"]


def test_an_address_is_verified_only_once_proven():
    assert claims.of(CTX, "openid email")["email_verified"] is False
    assert claims.of(replace(CTX, email_verified=True), "openid email")["email_verified"] is True


def test_acr_says_whether_a_second_factor_was_used():
    assert claims.acr_of(("pwd",)) == claims.ACR_ONE_FACTOR
    assert claims.acr_of(("pwd", "otp", "mfa")) == claims.ACR_MFA
