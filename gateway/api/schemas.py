"""The API's JSON shapes, each declared once (pydantic): request bodies and query strings are
checked against them on every request, answers are serialized through them, and
/api/v1/openapi.json describes the same declarations, so the description and the checks cannot drift.

A body's types and names are checked here (a wrong type or an unknown field is a 400 naming it);
what the values mean (a valid email, a known role) is the services' to say, with their own codes.
Where a rule can be written in JSON Schema (the roles that exist, a name's length), the schema says
it from the same constant the service checks against, so that a client built from the document
sends what is accepted.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Annotated, Any, ClassVar, Literal

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from gateway.orgs.models import MemberStatus, Role
from gateway.orgs.team import PAGE_SIZE, TeamMember
from gateway.params import MAX_ROW_ID
from gateway.sso.connections import IdpSettings

# -- requests ------------------------------------------------------------------------------------

# The roles a member can have; the service (orgs.lifecycle.parse_role) decides, from the same enum.
_ROLES = {"enum": [role.value for role in Role]}
# What accounts.services.validate_name accepts, as far as a pattern can say it: 3 to 40 characters,
# none of them a control or format character (Unicode category C) but the whitespace it collapses,
# and not starting or ending with whitespace (the service drops spaces around a name, so it takes
# those too: a name the schema allows is never refused). tests/unit/api/test_schemas.py pins the two.
NAME_LENGTH = (3, 40)
_NAME = {"minLength": NAME_LENGTH[0], "maxLength": NAME_LENGTH[1],
         "pattern": r"^[^\p{C}\s](?:[^\p{C}]|[\t\n\v\f\r\x1c-\x1f\x85])*[^\p{C}\s]$"}


def _any_case(name: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in name)


# An address, as accounts.emails.normalize_email reads it (email-validator): no mail goes to a
# special-use domain (RFC 6761: `.test`, `.local`, …), so those are refused too.
_EMAIL = {"format": "email", "not": {"pattern": "@(?:.*\\.)?(?:" + "|".join(
    _any_case(name) for name in SPECIAL_USE_DOMAIN_NAMES) + ")$"}}


class _Body(BaseModel):
    # Strict: "name": [null, null] is not a name, and 1 is not "1".
    model_config = ConfigDict(extra="forbid", strict=True)


class NewUser(_Body):
    """A person created in the organization with a temporary password."""

    email: str = Field(json_schema_extra=_EMAIL)
    name: str = Field(json_schema_extra=_NAME)
    role: str = Field("user", json_schema_extra=_ROLES)


class RoleChange(_Body):
    role: str = Field(json_schema_extra=_ROLES)


class NewInvitation(_Body):
    email: str = Field(json_schema_extra=_EMAIL)
    role: str = Field("user", json_schema_extra=_ROLES)
    send_email: bool = False


# gateway.sso.connections: at most 100 names of at most 256 characters; an attribute name as long.
_NAMES = {"anyOf": [{"type": "array", "items": {"type": "string", "maxLength": 256}, "maxItems": 100},
                    {"type": "string", "description": "Names separated by commas or spaces"}]}
_ATTRIBUTE = {"maxLength": 256}


class SamlSettings(_Body):
    """The IdP's metadata and how its answers are read (lists also as comma-separated text).

    Whether the metadata is an IdP's, and its domains domain names nobody else declared, is the
    service's to say (`invalid_metadata`, `invalid_domain`, `domain_taken`).
    """

    metadata_xml: str = Field(description="The IdP's SAML 2.0 metadata (an EntityDescriptor with an "
                                          "IDPSSODescriptor)",
                              json_schema_extra={"contentMediaType": "application/samlmetadata+xml"})
    default_role: str = Field("user", json_schema_extra=_ROLES)
    allow_idp_initiated: bool = False
    email_domains: list[str] | str = Field([], json_schema_extra=_NAMES)
    admin_groups: list[str] | str = Field([], json_schema_extra=_NAMES)
    group_attribute: str | None = Field(None, json_schema_extra=_ATTRIBUTE)
    email_attribute: str | None = Field(None, json_schema_extra=_ATTRIBUTE)
    name_attribute: str | None = Field(None, json_schema_extra=_ATTRIBUTE)


class SettingsChange(_Body):
    """What an organization's admins set for everyone in it."""

    mfa_required: bool = Field(description="Members who sign in with a password must pass a second factor "
                                           "(from their next sign-in); SSO members are asked by their IdP")


BODIES = (NewUser, RoleChange, NewInvitation, SamlSettings, SettingsChange)


class _Query(BaseModel):
    """A query string: text converted to the declared types (`limit=20` is 20); parameters not
    declared are ignored. `refusal` is the error code of a value that does not fit, by parameter."""

    model_config = ConfigDict(extra="ignore")
    refusal: ClassVar[dict[str, str]] = {}


RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]


def _time(value) -> datetime:
    """An ISO 8601 time or date (a date: its midnight; no offset: UTC) as an aware UTC time.

    RFC 3339 spells a few the way Python does not read: a lowercase `t` or `z`, a leap second (read
    as the second before). A time outside the years 1 to 9999 in UTC is refused, as the database
    holds none.
    """
    if not isinstance(value, str):
        raise ValueError("an ISO 8601 date or time")
    text = value.strip()
    text = re.sub(r"(?<=\d)[tT](?=\d)", "T", text)
    text = re.sub(r"(?<=[\d.])z$", "Z", text)
    text = re.sub(r"(T\d\d:\d\d):60", r"\1:59", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("an ISO 8601 date or time") from None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first year
        raise ValueError("a time within the years 1 to 9999 in UTC") from None


IsoTime = Annotated[datetime, BeforeValidator(_time), WithJsonSchema(
    {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}]})]


class TeamQuery(_Query):
    """Filters, search and keyset paging of the team list."""

    refusal: ClassVar[dict[str, str]] = {"after": "bad_cursor"}

    status: Literal["active", "inactive", "invited"] | None = Field(None, description="`invited` lists nobody: "
                                                                    "see the invitations")
    role: Role | None = None
    q: str | None = Field(None, description="A part of the name or the email address")
    after: RowId | None = Field(None, description="`next_cursor` of the previous page")
    limit: int = Field(PAGE_SIZE, description="Members a page, 1 to 200 (beyond: the nearest)")


class AuditQuery(_Query):
    """Filters and keyset paging of the audit log."""

    refusal: ClassVar[dict[str, str]] = {"format": "bad_format"}

    actor: str | None = Field(None, description="A part of the acting person's email address")
    action: str | None = Field(None, description="An action (`user:deactivate`), or all of a subject (`user:`)")
    since: IsoTime | None = Field(None, description="From this time on (ISO 8601, in the years 1 to 9999 UTC; "
                                                    "a date: its midnight UTC)")
    until: IsoTime | None = Field(None, description="Before this time")
    format: Literal["json", "csv"] = Field("json", description="`csv`: all matching events, as a spreadsheet")
    before: RowId | None = Field(None, description="`next_before` of the previous page")
    limit: int = Field(100, description="Events a page, 1 to 1000 (beyond: the nearest)")


# -- answers -------------------------------------------------------------------------------------


def _iso(value: datetime) -> str:
    return value.isoformat()


# ISO 8601 with the offset, as datetime.isoformat() writes it (`2026-01-01T12:00:00+00:00`).
Timestamp = Annotated[datetime, PlainSerializer(_iso, return_type=str),
                      WithJsonSchema({"type": "string", "format": "date-time"})]


class _Answer(BaseModel):
    # Every field is always there (null when empty), and nothing else is.
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


class User(_Answer):
    """A member of the organization, as the team list shows them."""

    id: int
    name: str
    email: str
    role: Role
    status: MemberStatus
    sign_in_method: Literal["password", "sso"]
    joined_at: Timestamp
    last_login_at: Timestamp | None
    last_seen_at: Timestamp | None

    @classmethod
    def of(cls, member: TeamMember) -> User:
        return cls(id=member.user_id, name=member.name, email=member.email, role=member.role,
                   status=member.status, sign_in_method=member.sign_in_method, joined_at=member.joined_at,
                   last_login_at=member.last_login_at, last_seen_at=member.last_seen_at)


class UserAnswer(_Answer):
    """A member."""

    user: User


class UserWithPassword(_Answer):
    """A member and their new temporary password: shown this once, never stored."""

    user: User
    temporary_password: str


class Deactivated(_Answer):
    """The member, deactivated, and how many sessions that ended."""

    user: User
    sessions_ended: int


class UserDeleted(_Answer):
    """The member is gone from the organization."""

    deleted: Literal[True]
    account_deleted: bool = Field(description="The account went too (it belonged to no other organization)")


class UserPage(_Answer):
    """A page of the team list, newest first."""

    users: list[User]
    next_cursor: int | None = Field(description="`after` for the next page; null on the last")


class Settings(_Answer):
    """The organization's settings."""

    mfa_required: bool


class FactorsReset(_Answer):
    """The member's second factors are gone, and how many of their sessions that ended."""

    user: User
    sessions_ended: int


class Invitation(_Answer):
    id: int
    email: str
    role: Role
    status: Literal["invited", "expired"]
    created_at: Timestamp
    expires_at: Timestamp

    @classmethod
    def of(cls, invitation, now: datetime) -> Invitation:
        return cls(id=invitation.id, email=invitation.email, role=invitation.role,
                   status="expired" if now >= invitation.expires_at else "invited",
                   created_at=invitation.created_at, expires_at=invitation.expires_at)


class InvitationList(_Answer):
    """Pending and expired invitations, newest first."""

    invitations: list[Invitation]


class IssuedInvitation(_Answer):
    """An invitation and its magic link: shown this once, only its hash is stored."""

    invitation: Invitation
    link: str


class InvitationDeleted(_Answer):
    """The invitation is gone; its link no longer works."""

    deleted: Literal[True]


class ServiceProvider(_Answer):
    """Our side of the SAML connection: what the IdP is given."""

    entity_id: str
    metadata_url: str
    acs_url: str
    sls_url: str


class SamlConnection(_Answer):
    """The organization's IdP as configured (the metadata itself is not echoed back)."""

    idp_entity_id: str
    sso_url: str
    slo_url: str | None
    signing_certificates: int = Field(description="How many signing certificates the metadata carries")
    default_role: Role
    allow_idp_initiated: bool
    email_domains: list[str]
    admin_groups: list[str]
    group_attribute: str | None
    email_attribute: str | None
    name_attribute: str | None
    updated_at: Timestamp

    @classmethod
    def of(cls, connection: IdpSettings) -> SamlConnection:
        return cls(signing_certificates=len(connection.signing_certs), **{
            name: getattr(connection, name) for name in cls.model_fields if name != "signing_certificates"})


class SamlAnswer(_Answer):
    """The SP's URLs and the organization's SAML connection."""

    sp: ServiceProvider
    connection: SamlConnection | None = Field(description="null until an IdP is connected")


class AuditEvent(_Answer):
    """One row of the audit trail; actor and target are copied in, so they outlive a deletion."""

    id: int
    occurred_at: Timestamp
    action: str
    actor_id: int | None
    actor_email: str | None
    target_id: int | None
    target_email: str | None
    ip: str | None
    user_agent: str | None
    details: dict[str, Any]

    @classmethod
    def of(cls, event) -> AuditEvent:
        return cls(id=event.id, occurred_at=event.occurred_at, action=event.action, actor_id=event.actor_id,
                   actor_email=event.actor_email, target_id=event.target_id, target_email=event.target_email,
                   ip=event.ip, user_agent=event.user_agent, details=event.details or {})


class AuditPage(_Answer):
    """A page of audit events, newest first."""

    events: list[AuditEvent]
    next_before: int | None = Field(description="`before` for the next page; null on the last")

