"""SAML failures, each named after what failed; `code` goes into the audit log."""

from __future__ import annotations


class SamlError(Exception):
    code = "invalid_response"
    message = "The identity provider's answer could not be accepted."

    def __init__(self, message: str | None = None, *, code: str | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.code = code or self.code


class MissingResponse(SamlError):
    code, message = "missing_response", "No SAML response was sent."


class MalformedResponse(SamlError):
    code, message = "malformed_response", "The SAML response is not well-formed base64-encoded XML."


class InvalidResponse(SamlError):
    code = "invalid_response"


class InvalidSignature(SamlError):
    code, message = "invalid_signature", "The SAML response is not signed by the organization's identity provider."


class MismatchedRequestId(SamlError):
    code, message = "unknown_in_response_to", "The SAML response does not answer a sign-in this gateway started."


class IdpInitiatedNotAllowed(SamlError):
    code, message = "idp_initiated_not_allowed", "Sign-in must start at this gateway for this organization."


class WrongRecipient(SamlError):
    code, message = "wrong_recipient", "The SAML response was made for another service provider or endpoint."


class Expired(SamlError):
    code, message = "expired", "The SAML response has expired or is not valid yet. Sign in again."


class Replayed(SamlError):
    code, message = "replayed", "This SAML response was used already. Sign in again."


class UnsupportedNameId(SamlError):
    code, message = "unsupported_name_id", "The identity provider sent no usable NameID."


class MetadataError(SamlError):
    code, message = "invalid_metadata", "The identity provider metadata could not be read."


class LogoutError(SamlError):
    code, message = "invalid_logout", "The logout message could not be accepted."
