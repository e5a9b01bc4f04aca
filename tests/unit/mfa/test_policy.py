"""What a session owes, and the RFC 8176 methods it carries."""

from __future__ import annotations

import pytest

from gateway.mfa import policy
from gateway.sso.saml_protocol import amr_of


@pytest.mark.parametrize("amr, added, expected", [
    ((), ("pwd",), "pwd"),
    (("pwd",), ("otp",), "pwd otp mfa"),
    (("pwd", "otp", "mfa"), ("pwd",), "pwd otp mfa"),
    (("otp",), (), "otp"),
    (("pwd",), ("hwk",), "pwd hwk mfa"),  # a passkey after the password
    ((), ("hwk", "user"), "hwk user mfa"),  # a passkey alone, its holder verified on the authenticator
    ((), ("hwk",), "hwk"),
])
def test_mfa_is_claimed_once_two_kinds_of_factor_were_used(amr, added, expected):
    assert policy.with_methods(amr, *added) == expected


def test_an_idps_authn_context_becomes_methods_and_an_unknown_one_claims_nothing():
    ac = "urn:oasis:names:tc:SAML:2.0:ac:classes:"
    assert amr_of([f"{ac}PasswordProtectedTransport"]) == "pwd"
    assert amr_of(["https://refeds.org/profile/mfa", f"{ac}Password"]) == "mfa pwd"
    assert amr_of(["urn:example:something-else"]) == ""


def test_the_password_change_comes_before_the_factor(db):
    from tests.factories import MembershipFactory

    membership = MembershipFactory(user__must_change_password=True)
    db.flush()
    assert policy.owed(db, membership.user, membership.org_id, ("pwd",)) is policy.Owed.PASSWORD_CHANGE


def test_an_organization_that_requires_a_factor_asks_an_account_without_one_to_add_it(db):
    from tests.factories import MembershipFactory

    membership = MembershipFactory(org__mfa_required=True)
    db.flush()
    assert policy.owed(db, membership.user, membership.org_id, ("pwd",)) is policy.Owed.FACTOR_ENROLLMENT
    assert policy.owed(db, membership.user, None, ("pwd",)) is None
