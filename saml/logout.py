"""Single logout on the redirect binding: our LogoutRequests, and the IdP's LogoutRequests to us."""

from __future__ import annotations

import base64
import binascii
import zlib
from dataclasses import dataclass

from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request

from saml import errors, settings
from saml.config import IdentityProvider, ServiceProvider
from saml.request_data import request_data

# A redirect-binding payload is DEFLATEd: inflate with a hard cap before anything
# parses it, so that a few kilobytes cannot expand into gigabytes.
MAX_INFLATED_BYTES = 64 * 1024
MAX_ENCODED_BYTES = 16 * 1024


@dataclass(frozen=True)
class IdpLogout:
    """An IdP's valid LogoutRequest: whose sessions to end, and where to send the browser back."""

    name_id: str
    session_indexes: tuple[str, ...]
    response_url: str


def inflate(encoded: str | None) -> bytes:
    """:raise LogoutError: missing, not base64, not DEFLATE, or larger than the cap."""
    if not encoded or len(encoded) > MAX_ENCODED_BYTES:
        raise errors.LogoutError("The logout message is missing or too large.")
    try:
        compressed = base64.b64decode(encoded, validate=True)
        inflater = zlib.decompressobj(-15)
        xml = inflater.decompress(compressed, MAX_INFLATED_BYTES + 1)
    except (binascii.Error, ValueError, zlib.error):
        raise errors.LogoutError("The logout message is not valid DEFLATE data.") from None
    if len(xml) > MAX_INFLATED_BYTES or inflater.unconsumed_tail:
        raise errors.LogoutError("The logout message inflates beyond the size limit.")
    if b"<!DOCTYPE" in xml.upper() or b"<!ENTITY" in xml.upper():
        raise errors.LogoutError("The logout message must not contain a DTD.")
    return xml


def start_logout(sp: ServiceProvider, idp: IdentityProvider, *, name_id: str, name_id_format: str | None,
                 session_index: str | None, relay_state: str) -> str:
    """A signed LogoutRequest to the IdP's SLO endpoint; returns the URL to send the browser to."""
    auth = OneLogin_Saml2_Auth(request_data(sp.sls_url), settings.for_pair(sp, idp, logout=True))
    return auth.logout(return_to=relay_state, name_id=name_id, session_index=session_index,
                       name_id_format=name_id_format)


def read_idp_logout_request(sp: ServiceProvider, idp: IdentityProvider, query: dict) -> IdpLogout:
    """Validate an IdP-initiated LogoutRequest (it must be signed) and build our LogoutResponse.

    :raise LogoutError:
    """
    inflate(query.get("SAMLRequest"))
    auth = OneLogin_Saml2_Auth(request_data(sp.sls_url, get=query), settings.for_pair(sp, idp, logout=True))
    try:
        response_url = auth.process_slo(keep_local_session=True)
        xml = auth.get_last_request_xml()
    except Exception as exc:
        raise errors.LogoutError(f"The logout request was rejected ({type(exc).__name__}).") from None
    if auth.get_errors() or not response_url:
        raise errors.LogoutError(f"The logout request was rejected: {', '.join(auth.get_errors())}.")
    name_id = OneLogin_Saml2_Logout_Request.get_nameid(xml)
    indexes = tuple(OneLogin_Saml2_Logout_Request.get_session_indexes(xml))
    return IdpLogout(name_id=name_id, session_indexes=indexes, response_url=response_url)


def read_idp_logout_response(sp: ServiceProvider, idp: IdentityProvider, query: dict) -> None:
    """Accept the IdP's signed answer to our LogoutRequest. :raise LogoutError:"""
    inflate(query.get("SAMLResponse"))
    auth = OneLogin_Saml2_Auth(request_data(sp.sls_url, get=query), settings.for_pair(sp, idp, logout=True))
    try:
        auth.process_slo(keep_local_session=True)
    except Exception as exc:
        raise errors.LogoutError(f"The logout response was rejected ({type(exc).__name__}).") from None
    if auth.get_errors():
        raise errors.LogoutError(f"The logout response was rejected: {', '.join(auth.get_errors())}.")
