"""IdP attribute names → email, name and groups, with per-connection overrides.

The defaults cover what Okta, Entra ID, Google Workspace and Keycloak send.
"""

from __future__ import annotations

from onelogin.saml2.constants import OneLogin_Saml2_Constants as C

from saml.sp import SamlAssertion

_CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
EMAIL_ATTRIBUTES = ("email", "mail", "emailAddress", f"{_CLAIMS}emailaddress", "urn:oid:0.9.2342.19200300.100.1.3")
NAME_ATTRIBUTES = ("displayName", "name", "http://schemas.microsoft.com/identity/claims/displayname",
                   f"{_CLAIMS}name", "urn:oid:2.16.840.1.113730.3.1.241")
GIVEN_NAME_ATTRIBUTES = ("givenName", "firstName", "given_name", f"{_CLAIMS}givenname", "urn:oid:2.5.4.42")
SURNAME_ATTRIBUTES = ("sn", "surname", "lastName", "family_name", f"{_CLAIMS}surname", "urn:oid:2.5.4.4")
GROUP_ATTRIBUTES = ("groups", "memberOf", "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
                    "Role", "roles")


def _first(assertion: SamlAssertion, names) -> str | None:
    for name in names:
        for value in assertion.attributes.get(name, ()):
            if value.strip():
                return value.strip()
    return None


def email_of(assertion: SamlAssertion, attribute: str | None = None) -> str | None:
    """The configured attribute, else the usual ones, else an emailAddress NameID."""
    email = _first(assertion, (attribute,) if attribute else EMAIL_ATTRIBUTES)
    if email is None and assertion.name_id_format == C.NAMEID_EMAIL_ADDRESS:
        email = assertion.name_id
    return email


def name_of(assertion: SamlAssertion, attribute: str | None = None) -> str | None:
    name = _first(assertion, (attribute,) if attribute else NAME_ATTRIBUTES)
    if name is None and not attribute:
        parts = [_first(assertion, GIVEN_NAME_ATTRIBUTES), _first(assertion, SURNAME_ATTRIBUTES)]
        name = " ".join(p for p in parts if p) or None
    return name


def groups_of(assertion: SamlAssertion, attribute: str | None = None) -> frozenset[str]:
    names = (attribute,) if attribute else GROUP_ATTRIBUTES
    return frozenset(v.strip() for name in names for v in assertion.attributes.get(name, ()) if v.strip())
