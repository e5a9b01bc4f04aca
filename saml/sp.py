"""Starting a sign-in and consuming the answer: python3-saml in strict mode, then our own checks.

The checks after the library's `is_valid` exist because python3-saml 1.16
accepts a missing InResponseTo, Audience, Recipient or Destination, compares
Recipient and Destination by substring or prefix, and applies a fixed 300 s
clock drift with its own clock.
"""

from __future__ import annotations

import base64
import binascii
import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.errors import OneLogin_Saml2_ValidationError as V
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from saml import compiled, errors, settings
from saml.config import IdentityProvider, ServiceProvider
from saml.request_data import request_data

# Refused before parsing: a real response is a few kilobytes.
MAX_RESPONSE_BYTES = 256 * 1024
# DTDs bring entity expansion and external entities; SAML never needs one.
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_UTC = timezone.utc
ACCEPTED_NAME_ID_FORMATS = {C.NAMEID_EMAIL_ADDRESS, C.NAMEID_PERSISTENT, C.NAMEID_UNSPECIFIED}


@dataclass(frozen=True)
class SamlAssertion:
    """What the IdP vouched for, after every check passed."""

    issuer: str
    name_id: str
    name_id_format: str
    session_index: str | None
    assertion_id: str
    in_response_to: str | None
    not_on_or_after: datetime
    attributes: dict[str, tuple[str, ...]]
    # The AuthnStatement's AuthnContextClassRef values: how the IdP says the person authenticated.
    authn_contexts: tuple[str, ...] = ()


def start_login(sp: ServiceProvider, idp: IdentityProvider, relay_state: str) -> tuple[str, str]:
    """A signed AuthnRequest on the redirect binding; returns (IdP URL, request ID)."""
    auth = OneLogin_Saml2_Auth(request_data(sp.entity_id), settings.for_pair(sp, idp))
    url = auth.login(return_to=relay_state)
    return url, auth.get_last_request_id()


def decode_response(encoded: str | None) -> bytes:
    """The response's XML, or a clear refusal for what is missing, oversized, not base64 or has a DTD.

    :raise MissingResponse, MalformedResponse:
    """
    if not encoded:
        raise errors.MissingResponse()
    if len(encoded) > MAX_RESPONSE_BYTES:
        raise errors.MalformedResponse("The SAML response is too large.")
    try:
        xml = base64.b64decode("".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError):
        raise errors.MalformedResponse() from None
    if _DTD.search(xml):
        raise errors.MalformedResponse("The SAML response must not contain a DTD.")
    return xml


_LIBRARY_CODES = {
    V.INVALID_SIGNATURE: errors.InvalidSignature,
    V.NO_SIGNATURE_FOUND: errors.InvalidSignature,
    V.NO_SIGNED_ASSERTION: errors.InvalidSignature,
    V.WRONG_INRESPONSETO: errors.MismatchedRequestId,
    V.WRONG_DESTINATION: errors.WrongRecipient,
    V.WRONG_AUDIENCE: errors.WrongRecipient,
    V.WRONG_SUBJECTCONFIRMATION: errors.WrongRecipient,
    V.ASSERTION_EXPIRED: errors.Expired,
    V.ASSERTION_TOO_EARLY: errors.Expired,
    V.SESSION_EXPIRED: errors.Expired,
    V.WRONG_ISSUER: errors.InvalidResponse,
    V.NO_NAMEID: errors.UnsupportedNameId,
    V.EMPTY_NAMEID: errors.UnsupportedNameId,
}


@contextmanager
def _library_errors():
    """python3-saml's refusals as our errors, each named by the check that failed."""
    try:
        yield
    except V as exc:
        raise _LIBRARY_CODES.get(exc.code, errors.InvalidResponse)(f"SAML response rejected: {exc}") from None
    except Exception as exc:  # lxml, xmlsec and the library raise many kinds on hostile XML
        raise errors.InvalidResponse(f"SAML response rejected: {type(exc).__name__}") from None


def _parsed(sp, idp, encoded: str) -> OneLogin_Saml2_Response:
    """The response as python3-saml reads it (an encrypted assertion is decrypted here)."""
    with _library_errors():
        return OneLogin_Saml2_Response(settings.for_pair(sp, idp), encoded)


def _library_validation(response, sp, expected_request_id: str | None) -> None:
    """python3-saml's strict validation: schema, signatures (no SHA-1), issuer, conditions."""
    with _library_errors():
        response.is_valid(request_data(sp.acs_url), expected_request_id, raise_exceptions=True)


def _check_in_response_to(response, expected_request_id: str | None, allow_idp_initiated: bool) -> str | None:
    in_response_to = response.get_in_response_to()
    if expected_request_id is None:
        if in_response_to is not None:
            # Unsolicited responses must not claim to answer a request we never made.
            raise errors.MismatchedRequestId()
        if not allow_idp_initiated:
            raise errors.IdpInitiatedNotAllowed()
        return None
    if in_response_to != expected_request_id:
        raise errors.MismatchedRequestId()
    return in_response_to


def _check_destination_and_audience(response, sp: ServiceProvider) -> None:
    if response.document.get("Destination") != sp.acs_url:
        raise errors.WrongRecipient("The SAML response names no or another Destination.")
    if sp.entity_id not in response.get_audiences():
        raise errors.WrongRecipient("The SAML assertion names no or another Audience.")


def _bearer_confirmations(response) -> list:
    nodes = response._query_assertion("/saml:Subject/saml:SubjectConfirmation")  # the signed assertion only
    data = (node.find("saml:SubjectConfirmationData", namespaces=C.NSMAP)
            for node in nodes if node.get("Method") == C.CM_BEARER)
    return [found for found in data if found is not None]


def _check_recipient(response, sp: ServiceProvider, in_response_to: str | None):
    for data in _bearer_confirmations(response):
        if data.get("Recipient") == sp.acs_url and data.get("InResponseTo") == in_response_to:
            return data
    raise errors.WrongRecipient("No bearer SubjectConfirmation names this gateway's ACS as Recipient.")


def _time(value: str | None) -> datetime | None:
    """A SAML time (UTC, SAML core 1.3.3).

    :raise InvalidResponse: for a valid xs:dateTime no clock can compare (hour 24, year 10000 and
        on); the Response's own IssueInstant is outside the signature, so anyone can send one.
    """
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)  # C-fast, and takes the "Z" and any fraction
        return parsed.replace(tzinfo=_UTC) if parsed.tzinfo is None else parsed.astimezone(_UTC)
    except OverflowError:  # a year-9999 time with an offset: no UTC time to compare with
        raise errors.InvalidResponse("The SAML response carries a time that cannot be read.") from None
    except ValueError:
        pass
    try:
        return datetime.fromtimestamp(OneLogin_Saml2_Utils.parse_SAML_to_time(value), tz=_UTC)
    except Exception:  # the library raises a bare Exception for a format it does not know
        raise errors.InvalidResponse("The SAML response carries a time that cannot be read.") from None


def _check_times(response, confirmation, now: datetime, skew: timedelta) -> datetime:
    """Every time condition with our clock and skew; an expiry must be present."""
    conditions = response._query_assertion("/saml:Conditions")
    condition = conditions[0] if conditions else None
    not_before = [_time(confirmation.get("NotBefore"))]
    not_after = [_time(confirmation.get("NotOnOrAfter"))]
    if condition is not None:
        not_before.append(_time(condition.get("NotBefore")))
        not_after.append(_time(condition.get("NotOnOrAfter")))
    session_expiry = response.get_session_not_on_or_after()  # epoch seconds or None
    if session_expiry:
        try:
            not_after.append(datetime.fromtimestamp(session_expiry, tz=_UTC))
        except (OverflowError, OSError, ValueError):
            raise errors.InvalidResponse("The SAML response carries a time that cannot be read.") from None
    not_before, not_after = [t for t in not_before if t], [t for t in not_after if t]
    if not not_after:
        raise errors.Expired("The SAML assertion carries no NotOnOrAfter.")
    if any(now + skew < t for t in not_before) or any(now - skew >= t for t in not_after):
        raise errors.Expired()
    issued = _time(response.document.get("IssueInstant"))
    if issued and issued > now + skew:
        raise errors.Expired()
    return min(not_after)


def _check_issuer(response, idp: IdentityProvider) -> str:
    issuers = response.get_issuers()
    if not issuers or any(issuer != idp.entity_id for issuer in issuers):
        raise errors.InvalidResponse("The SAML response comes from another identity provider.")
    return idp.entity_id


def _check_name_id(response) -> tuple[str, str]:
    try:
        data = response.get_nameid_data()
    except V:
        raise errors.UnsupportedNameId() from None
    value = (data.get("Value") or "").strip()
    name_format = data.get("Format") or C.NAMEID_UNSPECIFIED
    if not value or len(value) > 256:
        raise errors.UnsupportedNameId()
    if name_format not in ACCEPTED_NAME_ID_FORMATS:
        # A transient NameID changes every time: nothing could be linked to it.
        raise errors.UnsupportedNameId(f"NameID format {name_format} is not supported; use emailAddress or persistent.")
    return value, name_format


def _check_session_index(response) -> str | None:
    """The IdP's SessionIndex, which single logout names again; as long as a NameID at the most."""
    session_index = response.get_session_index()
    if session_index is not None and len(session_index) > 256:
        raise errors.InvalidResponse("The SAML assertion's SessionIndex is longer than 256 characters.")
    return session_index


def _attributes(response) -> dict[str, tuple[str, ...]]:
    """The assertion's attributes; one Name given twice is refused (`is_valid` does not look)."""
    with _library_errors():
        attributes = response.get_attributes()
    return {name: tuple(v for v in values if isinstance(v, str)) for name, values in attributes.items()}


def _authn_contexts(response) -> tuple[str, ...]:
    with _library_errors():
        found = response.get_authn_contexts()
    return tuple(value.strip()[:256] for value in found if isinstance(value, str) and value.strip())[:8]


def consume(
    sp: ServiceProvider, idp: IdentityProvider, encoded: str | None, *, expected_request_id: str | None,
    allow_idp_initiated: bool, now: datetime, clock_skew: timedelta,
    remember_assertion: Callable[[str, datetime], bool],
) -> SamlAssertion:
    """Validate a posted SAMLResponse as a pipeline of named checks.

    `remember_assertion(id, not_on_or_after)` records the assertion ID and
    answers False when it was seen before (a shared, atomic replay cache).

    :raise SamlError: subclasses name the check that failed.
    """
    decode_response(encoded)
    response = _parsed(sp, idp, encoded)
    with compiled.reading_one_response():
        _library_validation(response, sp, expected_request_id)
        in_response_to = _check_in_response_to(response, expected_request_id, allow_idp_initiated)
        _check_destination_and_audience(response, sp)
        confirmation = _check_recipient(response, sp, in_response_to)
        not_on_or_after = _check_times(response, confirmation, now, clock_skew)
        issuer = _check_issuer(response, idp)
        name_id, name_id_format = _check_name_id(response)
        attributes = _attributes(response)
        session_index = _check_session_index(response)
        authn_contexts = _authn_contexts(response)
        # Remembered last, once everything in the assertion was read and accepted.
        assertion_id = response.get_assertion_id()
        if not assertion_id or not remember_assertion(assertion_id, not_on_or_after):
            raise errors.Replayed()
    return SamlAssertion(
        issuer=issuer, name_id=name_id, name_id_format=name_id_format, session_index=session_index,
        assertion_id=assertion_id, in_response_to=in_response_to, not_on_or_after=not_on_or_after,
        attributes=attributes, authn_contexts=authn_contexts,
    )
