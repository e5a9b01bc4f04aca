"""IdP attributes → email, name and groups."""

from __future__ import annotations

from datetime import datetime, timezone

from saml.mapping import email_of, groups_of, name_of
from saml.sp import SamlAssertion

EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"


def assertion(attributes: dict, name_id="abc123", name_id_format=PERSISTENT) -> SamlAssertion:
    return SamlAssertion(issuer="https://idp", name_id=name_id, name_id_format=name_id_format,
                         session_index=None, assertion_id="_a", in_response_to=None,
                         not_on_or_after=datetime.now(timezone.utc),
                         attributes={k: tuple(v) for k, v in attributes.items()})


def test_email_from_the_usual_attributes_of_okta_entra_google_and_keycloak():
    assert email_of(assertion({"email": ["a@x.org"]})) == "a@x.org"
    assert email_of(assertion({"mail": ["b@x.org"]})) == "b@x.org"
    assert email_of(assertion({"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress":
                               ["c@x.org"]})) == "c@x.org"


def test_email_falls_back_to_an_email_address_name_id_only():
    assert email_of(assertion({}, "d@x.org", EMAIL_FORMAT)) == "d@x.org"
    assert email_of(assertion({}, "not-an-email-id", PERSISTENT)) is None


def test_a_configured_attribute_wins_and_is_the_only_one_read():
    data = {"email": ["wrong@x.org"], "upn": ["right@x.org"]}
    assert email_of(assertion(data), "upn") == "right@x.org"


def test_name_from_display_name_or_given_name_and_surname():
    assert name_of(assertion({"displayName": ["Ada Lovelace"]})) == "Ada Lovelace"
    assert name_of(assertion({"givenName": ["Grace"], "sn": ["Hopper"]})) == "Grace Hopper"
    assert name_of(assertion({"firstName": ["Alan"], "lastName": ["Turing"]})) == "Alan Turing"
    assert name_of(assertion({})) is None


def test_groups_from_the_usual_attributes_or_a_configured_one():
    assert groups_of(assertion({"groups": ["admins", " staff "]})) == {"admins", "staff"}
    assert groups_of(assertion({"memberOf": ["cn=ops"]})) == {"cn=ops"}
    assert groups_of(assertion({"team": ["a"], "groups": ["b"]}), "team") == {"a"}
