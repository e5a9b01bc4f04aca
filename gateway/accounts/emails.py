"""Email addresses: one normal form, so that uniqueness and comparisons agree."""

from __future__ import annotations

from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from gateway.errors import BadRequest


def normalize_email(address: str) -> str:
    """Return the address's normal form: NFC, IDNA domain, all lowercase.

    :raise BadRequest: when it is not a valid email address.
    """
    # Remembered: every sign-in through an IdP asks again for its claims' address. Only lengths an
    # address can have (RFC 5321: 254) are kept, so typed input cannot fill memory.
    return _normal_form(address) if len(address) <= 254 else _normal_form.__wrapped__(address)


@lru_cache(maxsize=4096)
def _normal_form(address: str) -> str:
    try:
        result = validate_email(address.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise BadRequest(f"Enter a valid email address ({exc}).", code="invalid_email", field="email") from None
    # lower(), not casefold(): casefold would make "straße" and "strasse" one address.
    return f"{result.local_part.lower()}@{result.ascii_domain.lower()}"


def loose_email_key(address: str) -> str:
    """A cheap, never-failing key for throttling sign-in attempts per account."""
    # PostgreSQL refuses NUL in text: the key lands in the audit trail and the rate-limit table.
    return address.replace("\x00", "").strip().casefold()[:320]
