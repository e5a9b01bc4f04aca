"""Neutral configuration of one SP/IdP pair; hashable, so settings can be cached."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ServiceProvider:
    entity_id: str          # our metadata URL, by convention
    acs_url: str
    sls_url: str
    cert_pem: str
    key_pem: str = field(repr=False)  # the SP's private key


@dataclass(frozen=True)
class IdentityProvider:
    entity_id: str
    sso_url: str
    slo_url: str | None
    signing_certs: tuple[str, ...]  # several during a certificate rollover
