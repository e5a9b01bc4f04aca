"""SP metadata to publish, IdP metadata to read."""

from __future__ import annotations

from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

from saml import errors, settings
from saml.config import IdentityProvider, ServiceProvider

MAX_METADATA_BYTES = 1024 * 1024


def sp_metadata(sp: ServiceProvider) -> str:
    """Our EntityDescriptor: entity ID, ACS (POST), SLS (redirect), NameID format, signing certificate.

    :raise MetadataError: if the library finds it invalid (it never should).
    """
    sp_settings = settings.for_sp_only(sp)
    xml = sp_settings.get_sp_metadata()
    problems = sp_settings.validate_metadata(xml)
    if problems:
        raise errors.MetadataError(f"SP metadata invalid: {', '.join(problems)}")
    return xml.decode() if isinstance(xml, bytes) else xml


def parse_idp_metadata(xml: str | bytes) -> IdentityProvider:
    """Entity ID, redirect-binding SSO and SLO URLs and every signing certificate (rollover).

    :raise MetadataError: with a message that says what is missing or wrong.
    """
    if not xml or not str(xml).strip():
        raise errors.MetadataError("The IdP metadata is empty.")
    if len(xml) > MAX_METADATA_BYTES:
        raise errors.MetadataError("The IdP metadata is larger than 1 MiB.")
    raw = xml.encode() if isinstance(xml, str) else xml
    if b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
        raise errors.MetadataError("The IdP metadata must not contain a DTD.")
    try:
        data = OneLogin_Saml2_IdPMetadataParser.parse(
            raw, required_sso_binding=C.BINDING_HTTP_REDIRECT, required_slo_binding=C.BINDING_HTTP_REDIRECT)
    except Exception as exc:  # lxml syntax errors and the parser's own
        raise errors.MetadataError(f"The IdP metadata is not readable XML ({type(exc).__name__}).") from None
    idp = data.get("idp") or {}
    entity_id = idp.get("entityId")
    sso_url = (idp.get("singleSignOnService") or {}).get("url")
    slo_url = (idp.get("singleLogoutService") or {}).get("url")
    certs = list((idp.get("x509certMulti") or {}).get("signing") or [])
    if not certs and idp.get("x509cert"):
        certs = [idp["x509cert"]]
    if not entity_id:
        raise errors.MetadataError("The IdP metadata has no IDPSSODescriptor with an entityID.")
    if not sso_url:
        raise errors.MetadataError("The IdP metadata has no SingleSignOnService with the HTTP-Redirect binding.")
    if not certs:
        raise errors.MetadataError("The IdP metadata has no signing certificate.")
    for url in (sso_url, slo_url):
        if url and not url.lower().startswith(("https://", "http://")):
            raise errors.MetadataError(f"The IdP metadata has an endpoint that is not an http(s) URL: {url}")
    return IdentityProvider(entity_id=entity_id, sso_url=sso_url, slo_url=slo_url or None,
                            signing_certs=tuple("".join(c.split()) for c in certs))
