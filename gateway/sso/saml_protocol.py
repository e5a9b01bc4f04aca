"""The SAML side of an IdP connection: our service provider, the IdP as python3-saml sees it, and
an IdP's answer read into the protocol-neutral identity that provisioning decides on.

`saml/` proves what the IdP says; this module is the one place a connection meets it. A second
protocol (OpenID Connect) brings an adapter of its own beside this one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy.orm import Session

from gateway.accounts.provisioning import ExternalIdentity
from gateway.config import SAML_MAX_CLOCK_SKEW, Settings
from gateway.db import insert_if_absent
from gateway.sso.connections import IdpConnection, organization
from gateway.sso.keys import sp_keypair
from gateway.sso.models import SeenAssertion
from saml import mapping
from saml import sp as saml_sp
from saml.config import IdentityProvider, ServiceProvider
from saml.metadata import sp_metadata


@dataclass(frozen=True)
class IdpSession:
    """What the IdP said of its own session: single logout names it back."""

    name_id: str
    name_id_format: str | None
    session_index: str | None
    amr: str = ""  # RFC 8176 values for what the AuthnContext says


_AC = "urn:oasis:names:tc:SAML:2.0:ac:classes:"
# AuthnContextClassRef → RFC 8176 methods. A class not listed claims nothing.
_METHODS = {
    f"{_AC}Password": ("pwd",), f"{_AC}PasswordProtectedTransport": ("pwd",),
    f"{_AC}TimeSyncToken": ("otp",), f"{_AC}X509": ("hwk",), f"{_AC}Smartcard": ("sc",),
    f"{_AC}SmartcardPKI": ("sc", "pin"), f"{_AC}SoftwarePKI": ("swk",),
    f"{_AC}MobileTwoFactorContract": ("mfa",), f"{_AC}MobileTwoFactorUnregistered": ("mfa",),
    "https://refeds.org/profile/mfa": ("mfa",), "http://schemas.microsoft.com/claims/multipleauthn": ("mfa",),
}


def amr_of(authn_contexts) -> str:
    return " ".join(dict.fromkeys(method for ref in authn_contexts for method in _METHODS.get(ref, ())))


def service_provider(settings: Settings, slug: str) -> ServiceProvider:
    """Our SP for one organization; its entity ID is its metadata URL."""
    key_pem, cert_pem = sp_keypair(settings.certs_dir)
    base = f"{settings.base_url}/saml/{slug}"
    return ServiceProvider(entity_id=f"{base}/metadata", acs_url=f"{base}/acs", sls_url=f"{base}/sls",
                           cert_pem=cert_pem, key_pem=key_pem)


def identity_provider(connection: IdpConnection) -> IdentityProvider:
    return IdentityProvider(entity_id=connection.idp_entity_id, sso_url=connection.sso_url,
                            slo_url=connection.slo_url, signing_certs=tuple(connection.signing_certs))


def metadata_for(db: Session, settings: Settings, slug: str) -> str:
    """:raise NotFound: no organization has that slug."""
    organization(db, slug)
    return sp_metadata(service_provider(settings, slug))


def authn_request(settings: Settings, slug: str, connection: IdpConnection, relay_state: str) -> tuple[str, str]:
    """(the IdP URL that carries our AuthnRequest, its request ID)."""
    return saml_sp.start_login(service_provider(settings, slug), identity_provider(connection), relay_state)


# An IdP may sign an expiry in the year 9999; the replay row is kept until then all the same.
_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=timezone.utc)


def _replay_guard(db: Session, issuer: str):
    def remember(assertion_id: str, not_on_or_after: datetime) -> bool:
        # A unique row, kept while the assertion could still pass the time checks (its expiry plus the
        # largest skew allowed): the database decides, on every instance.
        return insert_if_absent(db, SeenAssertion, issuer=issuer, assertion_id=assertion_id[:256],
                                expires_at=min(not_on_or_after, _FAR_FUTURE) + SAML_MAX_CLOCK_SKEW)
    return remember


def read_answer(db: Session, slug: str, connection: IdpConnection, saml_response: str | None, *,
                expected_request_id: str | None, settings: Settings,
                now: datetime) -> tuple[ExternalIdentity, IdpSession]:
    """The identity a SAMLResponse vouches for, each assertion used once.

    :raise saml.errors.SamlError: a protocol check failed (its code names it).
    """
    assertion = saml_sp.consume(
        service_provider(settings, slug), identity_provider(connection), saml_response,
        expected_request_id=expected_request_id, allow_idp_initiated=connection.allow_idp_initiated, now=now,
        clock_skew=settings.saml_clock_skew, remember_assertion=_replay_guard(db, connection.idp_entity_id),
    )
    identity = ExternalIdentity(
        org_id=connection.org_id, issuer=assertion.issuer, subject=assertion.name_id,
        email=mapping.email_of(assertion, connection.email_attribute),
        name=mapping.name_of(assertion, connection.name_attribute),
        groups=mapping.groups_of(assertion, connection.group_attribute),
    )
    return identity, IdpSession(assertion.name_id, assertion.name_id_format, assertion.session_index,
                                amr_of(assertion.authn_contexts))
