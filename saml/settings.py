"""python3-saml settings for one SP/IdP pair: strict, signed assertions required, SHA-256 only."""

from __future__ import annotations

from functools import lru_cache

from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from saml.config import IdentityProvider, ServiceProvider

# Our own checks in sp.py apply the configured clock skew; the library's fixed
# allowance (300 s) is the outer bound.
LIBRARY_CLOCK_DRIFT = C.ALLOWED_CLOCK_DRIFT


def _sp_section(sp: ServiceProvider) -> dict:
    return {
        "entityId": sp.entity_id,
        "assertionConsumerService": {"url": sp.acs_url, "binding": C.BINDING_HTTP_POST},
        "singleLogoutService": {"url": sp.sls_url, "binding": C.BINDING_HTTP_REDIRECT},
        "NameIDFormat": C.NAMEID_EMAIL_ADDRESS,
        "x509cert": sp.cert_pem,
        "privateKey": sp.key_pem,
    }


_SECURITY = {
    "authnRequestsSigned": True,
    "logoutRequestSigned": True,
    "logoutResponseSigned": True,
    # An unsigned assertion is never accepted, even inside a signed response.
    "wantAssertionsSigned": True,
    "wantNameId": True,
    "wantAttributeStatement": False,
    "rejectDeprecatedAlgorithm": True,  # no SHA-1 signatures or digests
    "signatureAlgorithm": C.RSA_SHA256,
    "digestAlgorithm": C.SHA256,
    "requestedAuthnContext": False,  # let the IdP choose (passwords, MFA, passkeys)
    "allowRepeatAttributeName": False,
}


@lru_cache(maxsize=256)
def for_pair(sp: ServiceProvider, idp: IdentityProvider, *, logout: bool = False) -> OneLogin_Saml2_Settings:
    """Settings for signing requests and validating answers between sp and idp.

    `logout=True` also demands signed messages: on the redirect binding a
    LogoutRequest carries its signature in the query. (For sign-in the
    assertion's signature is what counts; many IdPs do not sign the Response.)
    """
    idp_section = {
        "entityId": idp.entity_id,
        "singleSignOnService": {"url": idp.sso_url, "binding": C.BINDING_HTTP_REDIRECT},
        "x509certMulti": {"signing": list(idp.signing_certs)},
    }
    if idp.slo_url:
        idp_section["singleLogoutService"] = {"url": idp.slo_url, "binding": C.BINDING_HTTP_REDIRECT}
    return OneLogin_Saml2_Settings({
        "strict": True,
        "debug": False,
        "sp": _sp_section(sp),
        "idp": idp_section,
        "security": dict(_SECURITY, wantMessagesSigned=logout),
    })


@lru_cache(maxsize=256)
def for_sp_only(sp: ServiceProvider) -> OneLogin_Saml2_Settings:
    """Settings enough to publish SP metadata before an IdP is connected."""
    return OneLogin_Saml2_Settings({"strict": True, "sp": _sp_section(sp), "security": dict(_SECURITY)},
                                   sp_validation_only=True)
