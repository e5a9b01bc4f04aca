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
from datetime import date, datetime, timezone
from typing import Annotated, Any, ClassVar, Literal

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from gateway.apps import services as apps
from gateway.apps.models import Access
from gateway.groups import services as groups
from gateway.oidc import clients
from gateway.oidc.models import SigningAlg
from gateway.orgs import roles
from gateway.orgs.models import MemberStatus, Role
from gateway.orgs.team import PAGE_SIZE, TeamMember
from gateway.params import MAX_ROW_ID
from gateway.sso.connections import IdpSettings
from gateway.sso.oidc_connections import DEFAULT_SCOPES, OidcSettings

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


# A member's role: a built-in one or one of the organization's own, by the name gateway.orgs.roles
# gives every role. Which custom roles exist is the organization's, not the document's: a name of
# this shape that names none is refused by the service (400 `unknown_role`).
_ROLE_NAME = {"pattern": roles.NAME.pattern,
              "description": "admin, auditor, user, or the name of one of the organization's roles"}
# A custom role's own name: never a built-in one (the service: 400 `built_in_role`).
_CUSTOM_ROLE_NAME = {"pattern": roles.NAME.pattern, "not": {"enum": [str(role) for role in Role]}}
# A group's name, as apps receive it in X-Auth-Groups (gateway.groups.services.NAME).
_GROUP_NAME = {"pattern": groups.NAME.pattern}
# What str.split() takes for whitespace (str.isspace()): an application's name collapses its runs.
_WHITESPACE = r"\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
APP_NAME_LENGTH = (1, 80)
# gateway.apps.services: 1 to 80 characters once runs of whitespace are one space. A pattern cannot
# count after collapsing, so the document says only what every accepted name has (some text that is
# not whitespace) and the service refuses a longer one (400 `invalid_name`).
_APP_NAME = {"pattern": f"[^{_WHITESPACE}]",
             "description": f"{APP_NAME_LENGTH[0]} to {APP_NAME_LENGTH[1]} characters, runs of whitespace "
                            "counting as one space"}
# A route is `host[:port][/path-prefix]`. Whether a text is one (an IDNA host, a canonical IPv4
# address, a path prefix that decodes one way) is gateway.apps.urls' to say (400 `invalid_route`).
_ROUTES = {"description": "Where the application is: `host[:port][/path-prefix]` (`wiki.example.com`, "
                          "`example.com/wiki`, `10.0.0.5:8080`); a host is one organization's"}
_ROUTE = {"minLength": 1}
_ACCESS = {"enum": [access.value for access in Access],
           "description": "`everyone` in the organization, or only the `listed` roles and groups"}
DESCRIPTION_LENGTH = 200  # gateway.groups.services and gateway.orgs.roles
SSO_NAME_LENGTH = 256
# The role a group's members take (gateway.groups.roles); null: none.
_GROUP_ROLE = {**_ROLE_NAME, "description": "The role its members take (admin, auditor, user or one of the "
                                            "organization's roles; of several groups, the most privileged); "
                                            "null: none, members keep the role they are given"}
_SSO_NAME = {"description": "The IdP's name of the group: members it lists at sign-in are put in this group, and "
                            "taken out when it no longer does; null: members are added by hand"}


def _unless_given(extra: dict | None = None):
    """A field of a partial change: left out is unchanged (the document shows no default for it)."""
    def schema(field: dict) -> None:
        field.pop("default", None)
        field.update(extra or {})
    return schema


class NewUser(_Body):
    """A person created in the organization with a temporary password."""

    email: str = Field(json_schema_extra=_EMAIL)
    name: str = Field(json_schema_extra=_NAME)
    role: str = Field("user", json_schema_extra=_ROLE_NAME)


class RoleChange(_Body):
    role: str = Field(json_schema_extra=_ROLE_NAME)


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


# gateway.sso.oidc_connections: the connection's columns hold this much (longer is refused, never cut).
ISSUER_LENGTH, CLIENT_ID_LENGTH, CLIENT_SECRET_LENGTH = 512, 255, 4096
_CLAIM = {"description": "The claim's name (null: the standard one)"}


# One sentence for the request and the answer: gateway.sso.routing.protocol_of decides by it.
_PREFERRED = ("While the organization has a SAML IdP too: whether \"continue with SSO\" (/sso) sends sign-ins to "
              "this IdP (false: to the SAML one, until this one is ready). Kept, and unused, without a SAML IdP")


class OidcIdpSettings(_Body):
    """The organization's OpenID Connect IdP: where it is, the client it registered for the gateway, and
    how its claims are read (lists also as comma-separated text).

    Whether the issuer is an IdP is the service's to say: it reads the issuer's discovery document
    (`idp_unreachable`, `bad_discovery`); so are the domains (`invalid_domain`, `domain_taken`).
    """

    issuer: str = Field(min_length=1, max_length=ISSUER_LENGTH,
                        description="The IdP's issuer: an https URL (http only on loopback), where "
                                    "/.well-known/openid-configuration is found")
    client_id: str = Field(min_length=1, max_length=CLIENT_ID_LENGTH)
    # Write-only: no answer ever carries it, and left out it stays as it is (there must be one to keep).
    client_secret: str = Field(None, min_length=1, max_length=CLIENT_SECRET_LENGTH, json_schema_extra=_unless_given({
        "writeOnly": True, "description": "The client's secret at the IdP; left out, the one kept stays (required "
                                          "to connect a first IdP). Never answered back"}))
    scopes: list[str] | str = Field(DEFAULT_SCOPES, json_schema_extra={**_NAMES, "description": "Scopes asked for "
                                    "(openid is always added)"})
    email_claim: str | None = Field(None, max_length=256, json_schema_extra=_CLAIM)
    name_claim: str | None = Field(None, max_length=256, json_schema_extra=_CLAIM)
    groups_claim: str | None = Field(None, max_length=256, json_schema_extra={
        "description": "The claim listing the member's groups (null: groups are not read)"})
    trust_email: bool = Field(False, description="The IdP verifies every email it issues: take its `email` "
                                                 "even without `email_verified`")
    default_role: str = Field("user", json_schema_extra=_ROLES)
    admin_groups: list[str] | str = Field([], json_schema_extra=_NAMES)
    email_domains: list[str] | str = Field([], json_schema_extra=_NAMES)
    preferred: bool = Field(True, description=_PREFERRED)


class SettingsChange(_Body):
    """What an organization's admins set for everyone in it."""

    mfa_required: bool = Field(description="Members who sign in with a password must pass a second factor "
                                           "(from their next sign-in); SSO members are asked by their IdP")


class NewApp(_Body):
    """An application behind the gateway: where it is, and who may reach it.

    The roles and groups are the organization's, by name (400 `unknown_role`, `unknown_group`).
    """

    name: str = Field(json_schema_extra=_APP_NAME)
    routes: list[Annotated[str, Field(json_schema_extra=_ROUTE)]] = Field(
        min_length=1, max_length=apps.MAX_ROUTES, json_schema_extra=_ROUTES)
    access: str = Field("everyone", json_schema_extra=_ACCESS)
    roles: list[Annotated[str, Field(json_schema_extra=_ROLE_NAME)]] = Field(
        [], description="With `listed`: members with one of these roles")
    groups: list[Annotated[str, Field(json_schema_extra=_GROUP_NAME)]] = Field(
        [], description="With `listed`: members in one of these groups")
    requires_mfa: bool = Field(False, description="Members reach it only from a session that passed a second "
                                                  "factor")


class AppChange(_Body):
    """What changes of an application; whatever is left out stays as it is."""

    name: str = Field(None, json_schema_extra=_unless_given(_APP_NAME))
    routes: list[Annotated[str, Field(json_schema_extra=_ROUTE)]] = Field(
        None, min_length=1, max_length=apps.MAX_ROUTES, json_schema_extra=_unless_given(_ROUTES))
    access: str = Field(None, json_schema_extra=_unless_given(_ACCESS))
    roles: list[Annotated[str, Field(json_schema_extra=_ROLE_NAME)]] = Field(None, json_schema_extra=_unless_given())
    groups: list[Annotated[str, Field(json_schema_extra=_GROUP_NAME)]] = Field(
        None, json_schema_extra=_unless_given())
    requires_mfa: bool = Field(None, json_schema_extra=_unless_given())


class NewGroup(_Body):
    """A group of the organization's members, filled by hand or from the IdP."""

    name: str = Field(json_schema_extra=_GROUP_NAME)
    description: str = Field("", max_length=DESCRIPTION_LENGTH)
    sso_name: str | None = Field(None, max_length=SSO_NAME_LENGTH, json_schema_extra=_SSO_NAME)
    role: str | None = Field(None, json_schema_extra=_GROUP_ROLE)


class GroupChange(_Body):
    """What changes of a group; whatever is left out stays as it is."""

    name: str = Field(None, json_schema_extra=_unless_given(_GROUP_NAME))
    description: str = Field(None, max_length=DESCRIPTION_LENGTH, json_schema_extra=_unless_given())
    sso_name: str | None = Field(None, max_length=SSO_NAME_LENGTH, json_schema_extra=_unless_given(_SSO_NAME))
    role: str | None = Field(None, json_schema_extra=_unless_given(_GROUP_ROLE))


def _integral(value):
    # JSON has numbers, not integers: 5.0 is the integer 5 (JSON Schema says so too); 5.5 and "5" are not.
    return int(value) if isinstance(value, float) and value.is_integer() else value


class NewGroupMember(_Body):
    """A member of the organization, put in the group by hand."""

    user_id: Annotated[int, Field(ge=1, le=MAX_ROW_ID), BeforeValidator(_integral)]


class NewRole(_Body):
    """A role of the organization's own: apps receive its name in X-Auth-Role, and rules can name it.

    In the console its members have a user's rights.
    """

    name: str = Field(json_schema_extra=_CUSTOM_ROLE_NAME)
    description: str = Field("", max_length=DESCRIPTION_LENGTH)


class CustomRoleChange(_Body):
    """A custom role's description (its name is what apps and rules know it by: it stays)."""

    description: str = Field(max_length=DESCRIPTION_LENGTH)


# An OpenID Connect client's URI, as gateway.oidc.clients.check_uri takes it: what every URI it
# takes has, within the whitespace it drops around one. An http or https scheme (in any case: the
# scheme is read case-blind), an authority after `//`, and printable ASCII but for a space, `#` (a
# fragment) and `*` (a wildcard). That http is for loopback hosts only, a port a number, no user
# named, at most 2000 characters: the service says (400 `invalid_uri`).
_URI_TEXT = "[!\"$-)+-~]"
_URI = f"[{_WHITESPACE}]*[hH][tT][tT][pP][sS]?://{_URI_TEXT}+[{_WHITESPACE}]*"
_REDIRECT_URI = {"pattern": f"^{_URI}$"}
_REDIRECT_URIS = {"description": "Absolute https URIs (http only on 127.0.0.1, [::1] or localhost), without "
                                 "fragment or user; matched exactly as written, no wildcard"}
_LOGOUT_URIS = {"description": "Where a client may send a browser after signing it out (RP-initiated logout)"}
_BACKCHANNEL_URI = {"pattern": f"^(?:{_URI})?$"}  # empty is none, as null is
_BACKCHANNEL = {"description": "Where the gateway posts a logout token when a member's session ends (OIDC "
                               "Back-Channel Logout 1.0); null or empty: none"}
_SIGNING_ALG = {"enum": [alg.value for alg in SigningAlg],
                "description": "How its ID tokens are signed; RS256 is what every client accepts"}
_CONSENT = {"description": "Members are asked to agree before the client first receives their identity"}
RedirectUri = Annotated[str, Field(json_schema_extra=_REDIRECT_URI)]
BackchannelUri = Annotated[str, Field(json_schema_extra=_BACKCHANNEL_URI)]


class NewOidcClient(_Body):
    """An OpenID Connect client: an application of the organization (named `name`, open to everyone in
    it until its rule says otherwise) that signs members in through the gateway."""

    name: str = Field(json_schema_extra=_APP_NAME)
    redirect_uris: list[RedirectUri] = Field(min_length=1, max_length=clients.MAX_URIS,
                                             json_schema_extra=_REDIRECT_URIS)
    public: bool = Field(False, description="A client that cannot keep a secret (in a browser, on a device): it "
                                            "gets none and proves itself with PKCE alone")
    post_logout_redirect_uris: list[RedirectUri] = Field([], max_length=clients.MAX_URIS,
                                                         json_schema_extra=_LOGOUT_URIS)
    backchannel_logout_uri: BackchannelUri | None = Field(None, json_schema_extra=_BACKCHANNEL)
    id_token_signed_response_alg: str = Field(SigningAlg.RS256.value, json_schema_extra=_SIGNING_ALG)
    require_consent: bool = Field(False, json_schema_extra=_CONSENT)


class OidcClientChange(_Body):
    """What changes of a client (URI lists are replaced whole); whatever is left out stays as it is. Its
    name and who may sign in are its application's (/apps/{app_id})."""

    redirect_uris: list[RedirectUri] = Field(None, min_length=1, max_length=clients.MAX_URIS,
                                             json_schema_extra=_unless_given(_REDIRECT_URIS))
    post_logout_redirect_uris: list[RedirectUri] = Field(None, max_length=clients.MAX_URIS,
                                                         json_schema_extra=_unless_given(_LOGOUT_URIS))
    backchannel_logout_uri: BackchannelUri | None = Field(None, json_schema_extra=_unless_given(_BACKCHANNEL))
    id_token_signed_response_alg: str = Field(None, json_schema_extra=_unless_given(_SIGNING_ALG))
    require_consent: bool = Field(None, json_schema_extra=_unless_given(_CONSENT))


BODIES = (NewUser, RoleChange, NewInvitation, SamlSettings, OidcIdpSettings, SettingsChange, NewApp, AppChange,
          NewGroup, GroupChange, NewGroupMember, NewRole, CustomRoleChange, NewOidcClient, OidcClientChange)


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
    role: str = Field(json_schema_extra=_ROLE_NAME)
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


class MemberSession(_Answer):
    """A live session of the member in this organization."""

    id: int
    device: str = Field(description="From the User-Agent, in words (`Firefox 133 on Windows`)")
    user_agent: str | None
    ip: str | None = Field(description="The client address it was started from")
    started_at: Timestamp
    last_seen_at: Timestamp = Field(description="Written at most once a minute")
    expires_at: Timestamp
    method: Literal["password", "passkey", "sso"] = Field(description="How it was signed in")
    second_factor: bool = Field(description="A second factor was used too")
    current: bool = Field(description="The session making this request")

    @classmethod
    def of(cls, session) -> MemberSession:
        return cls(id=session.id, device=session.device, user_agent=session.user_agent, ip=session.ip,
                   started_at=session.started_at, last_seen_at=session.last_seen_at, expires_at=session.expires_at,
                   method=session.method, second_factor=session.second_factor, current=session.current)


class MemberSessionList(_Answer):
    """The member's live sessions in this organization, the most recently seen first."""

    sessions: list[MemberSession]


class SessionEnded(_Answer):
    """The session is over: its next request, on any worker, is refused."""

    ended: Literal[True]


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


class RelyingParty(_Answer):
    """Our side of the OpenID Connect connection: what the IdP is given."""

    redirect_uri: str = Field(description="The redirect URI to register for the client at the IdP")


class OidcIdpConnection(_Answer):
    """The organization's OpenID Connect IdP as configured (its client secret is never answered back)."""

    issuer: str
    client_id: str
    client_secret_set: Literal[True] = Field(description="A client secret is kept (sealed); it is never shown")
    scopes: str = Field(description="Scopes asked for, separated by spaces")
    email_claim: str
    name_claim: str
    groups_claim: str | None
    trust_email: bool
    default_role: Role
    admin_groups: list[str]
    email_domains: list[str]
    preferred: bool = Field(description=_PREFERRED)
    updated_at: Timestamp

    @classmethod
    def of(cls, connection: OidcSettings) -> OidcIdpConnection:
        return cls(client_secret_set=True, **{
            name: getattr(connection, name) for name in cls.model_fields if name != "client_secret_set"})


class OidcIdpAnswer(_Answer):
    """Our redirect URI and the organization's OpenID Connect IdP."""

    rp: RelyingParty
    connection: OidcIdpConnection | None = Field(description="null until an IdP is connected")


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



class App(_Answer):
    """An application behind the gateway and the rule that says who may reach it."""

    id: int
    name: str
    routes: list[str] = Field(description="`host[:port][/path-prefix]`, normalised as /auth/verify reads URLs")
    access: Literal["everyone", "listed"]
    roles: list[str]
    groups: list[str]
    requires_mfa: bool

    @classmethod
    def of(cls, app: apps.AppView) -> App:
        return cls(id=app.id, name=app.name, routes=app.routes, access=app.access, roles=app.roles,
                   groups=app.groups, requires_mfa=app.requires_mfa)


class AppAnswer(_Answer):
    """An application."""

    app: App


class AppList(_Answer):
    """The organization's applications, by name."""

    apps: list[App]


class Reacher(_Answer):
    """An active member the application's rule admits, and why."""

    user_id: int
    name: str
    email: str
    role: str
    why: str = Field(description="`everyone in the organization`, `role <name>` or `group <name>`")


class AppAccess(_Answer):
    """The application and every active member who may reach it, each with why."""

    app: App
    members: list[Reacher]


class AppReach(_Answer):
    """Whether the member reaches one application, and why."""

    app: App
    reaches: bool
    why: str | None = Field(description="What admits them; null when the rule does not (or they are inactive)")


class MemberAccess(_Answer):
    """Every application of the organization, with whether (and why) the member reaches it."""

    apps: list[AppReach]


class Group(_Answer):
    """A group of members: apps receive its name in X-Auth-Groups, and rules can name it."""

    id: int
    name: str
    description: str
    sso_name: str | None
    role: str | None = Field(description="The role its members take; null: none")
    members: int = Field(description="How many members it has")

    @classmethod
    def of(cls, group: groups.GroupView) -> Group:
        return cls(id=group.id, name=group.name, description=group.description, sso_name=group.sso_name,
                   role=group.role, members=group.members)


class GroupAnswer(_Answer):
    """A group."""

    group: Group


class GroupList(_Answer):
    """The organization's groups, by name."""

    groups: list[Group]


class GroupMember(_Answer):
    """A member in a group, and how they came to be in it."""

    user_id: int
    name: str
    email: str
    source: Literal["manual", "sso"] = Field(description="`manual`: put in by an admin; `sso`: from the IdP")

    @classmethod
    def of(cls, member: groups.GroupMemberView) -> GroupMember:
        return cls(user_id=member.user_id, name=member.name, email=member.email, source=member.source)


class GroupMemberList(_Answer):
    """A group's members, by name."""

    members: list[GroupMember]


class GroupMemberAdded(_Answer):
    """The member is in the group."""

    member: GroupMember
    added: bool = Field(description="False: they were in it already")


class OrgRole(_Answer):
    """A role: one of the built-in three, or one of the organization's own."""

    name: str
    description: str
    built_in: bool
    members: int = Field(description="How many members have it")

    @classmethod
    def of(cls, role: roles.RoleView) -> OrgRole:
        return cls(name=role.name, description=role.description, built_in=role.built_in, members=role.members)


class RoleAnswer(_Answer):
    """A role."""

    role: OrgRole


class RoleList(_Answer):
    """The built-in roles, then the organization's own, by name."""

    roles: list[OrgRole]


class RoleDeleted(_Answer):
    """The role is gone; its members are users now, and rules naming it admit nobody by it."""

    deleted: Literal[True]
    members_moved: int = Field(description="How many members it had (now users)")


class OidcClient(_Answer):
    """An OpenID Connect client of the organization; its name and who may sign in to it are its application's."""

    id: int
    app_id: int = Field(description="Its application: the name, and the rule of who may sign in")
    name: str
    client_id: str
    public: bool = Field(description="No secret: it proves itself with PKCE alone")
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    backchannel_logout_uri: str | None
    id_token_signed_response_alg: Literal["RS256", "ES256"]
    require_consent: bool
    created_at: Timestamp

    @classmethod
    def of(cls, client: clients.ClientView) -> OidcClient:
        return cls(id=client.id, app_id=client.app_id, name=client.name, client_id=client.client_id,
                   public=client.public, redirect_uris=client.redirect_uris,
                   post_logout_redirect_uris=client.post_logout_redirect_uris,
                   backchannel_logout_uri=client.backchannel_logout_uri,
                   id_token_signed_response_alg=client.id_token_alg, require_consent=client.require_consent,
                   created_at=client.created_at)


class OidcClientAnswer(_Answer):
    """An OpenID Connect client."""

    oidc_client: OidcClient


class OidcClientList(_Answer):
    """The organization's OpenID Connect clients, by name."""

    oidc_clients: list[OidcClient]


class RegisteredOidcClient(_Answer):
    """The client registered, and its secret: shown this once, only its hash is stored."""

    oidc_client: OidcClient
    client_secret: str | None = Field(description="For `client_secret_basic` or `client_secret_post`; null for a "
                                                  "public client")


class RotatedSecret(_Answer):
    """The client's new secret: shown this once, only its hash is stored; the old one no longer works."""

    oidc_client: OidcClient
    client_secret: str


class NoContent(_Answer):
    """Done; nothing to answer."""


# -- the overview (issue 23) -----------------------------------------------------------------------


class OverviewQuery(_Query):
    """How long without a sign-in makes an account dormant."""

    dormant_days: int = Field(90, ge=1, le=3650, description="Days without a sign-in, 1 to 3650")


class Outcomes(_Answer):
    success: int
    failed: int
    throttled: int


class SignInDay(_Answer):
    """One UTC day's sign-ins by method and outcome, and the distinct people who signed in."""

    day: date
    password: Outcomes
    passkey: Outcomes
    sso: Outcomes
    active_people: int


class PeopleCounts(_Answer):
    active: int
    inactive: int
    invited_pending: int
    invited_expired: int
    with_second_factor: int = Field(description="Active members with an authenticator app or a passkey")
    sso_only: int = Field(description="Active members who sign in only through the organization's IdP")


class DormantMember(_Answer):
    id: int
    name: str
    email: str
    last_sign_in: Timestamp | None = Field(description="null: never signed in")
    joined_at: Timestamp


class DormantAccounts(_Answer):
    days: int
    count: int = Field(description="Active members without a sign-in for `days` days")
    members: list[DormantMember] = Field(description="The 20 quiet the longest")


class ChecklistStep(_Answer):
    step: Literal["protect_app", "connect_sso", "invite_people", "require_mfa"]
    done: bool


class AdminAction(_Answer):
    """An audit event that is not a sign-in, as a sentence beside its code."""

    id: int
    occurred_at: Timestamp
    action: str
    sentence: str
    actor_email: str | None
    target_email: str | None


class Overview(_Answer):
    """The organization at a glance: the last 30 UTC days (today last), its people, next steps."""

    days: list[SignInDay]
    active_people_30_days: int
    people: PeopleCounts
    dormant: DormantAccounts
    checklist: list[ChecklistStep]
    recent_admin_actions: list[AdminAction]

    @classmethod
    def of(cls, o, names: dict) -> Overview:
        from gateway.audit.sentences import sentence

        def outcomes(day, method):
            return Outcomes(**{outcome: day.counts[(method, outcome)] for outcome in ("success", "failed", "throttled")})

        p = o.people
        return cls(
            days=[SignInDay(day=d.day, password=outcomes(d, "password"), passkey=outcomes(d, "passkey"),
                            sso=outcomes(d, "sso"), active_people=d.active) for d in o.days],
            active_people_30_days=o.active_30_days,
            people=PeopleCounts(active=p.active, inactive=p.inactive, invited_pending=p.invited_pending,
                                invited_expired=p.invited_expired, with_second_factor=p.with_second_factor,
                                sso_only=p.sso_only),
            dormant=DormantAccounts(days=o.dormant.days, count=o.dormant.count, members=[
                DormantMember(id=m.user_id, name=m.name, email=m.email, last_sign_in=m.last_sign_in,
                              joined_at=m.joined_at) for m in o.dormant.members]),
            checklist=[ChecklistStep(step=s.key, done=s.done) for s in o.checklist],
            recent_admin_actions=[AdminAction(id=e.id, occurred_at=e.occurred_at, action=e.action,
                                              sentence=sentence(e, names), actor_email=e.actor_email,
                                              target_email=e.target_email) for e in o.recent],
        )
