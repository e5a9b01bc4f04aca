"""SCIM Users: the organization's memberships, as its IdP creates, reads, changes and removes them.

A SCIM User is a membership: `id` is the membership's random `scim_id`, `userName` the IdP's name for
the person (the account's email when the IdP never named them), `emails` the account's one address,
`active` the membership's status, `externalId` the IdP's key, kept per membership. What SCIM does goes
through the same services the console uses (orgs.lifecycle), so the last-admin rules hold, audit
rows are written and deactivated members' sessions end at once.

Accounts are guarded as at a first SSO sign-in (accounts.provisioning.decide): SCIM never adopts an
account another organization holds unless this organization declared its email's domain and its IdP
is already linked to the account, and never changes the email or name of an account another
organization holds (changing a shared account's email would hand its reset links elsewhere).
"""

from __future__ import annotations

import copy
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from gateway.accounts.emails import normalize_email
from gateway.accounts.models import FederatedIdentity, User
from gateway.audit.actions import AuditAction
from gateway.audit.service import record
from gateway.config import Settings
from gateway.errors import BadRequest
from gateway.groups.models import Group, GroupMember
from gateway.invitations import services as invitations
from gateway.invitations.models import Invitation
from gateway.mail import outbox
from gateway.orgs import lifecycle
from gateway.orgs.models import MemberStatus, Membership, Role
from gateway.scim import filters, patch
from gateway.scim.errors import ScimError, invalid_syntax, invalid_value, mutability, not_found, uniqueness
from gateway.scim.filters import Column
from gateway.scim.schemas import USER_SCHEMA, with_meta
from gateway.scim.tokens import Caller
from gateway.sso import connections
from gateway.sso.oidc_connections import oidc_settings

MULTI_VALUED = {"emails", "groups", "phonenumbers", "ims", "photos", "addresses", "entitlements", "roles",
                "x509certificates"}
# RFC 7643 §4.1 and the enterprise extension: accepted, and those we do not keep ignored. Anything else
# is a mistake worth saying so (an attribute the IdP believes we keep).
KNOWN = {"schemas", "id", "externalid", "meta", "username", "name", "displayname", "nickname", "profileurl",
         "title", "usertype", "preferredlanguage", "locale", "timezone", "active", "password", "emails",
         "phonenumbers", "ims", "photos", "addresses", "groups", "entitlements", "roles", "x509certificates"}


@dataclass(frozen=True)
class UserInput:
    user_name: str
    email: str
    name: str
    active: bool
    external_id: str | None
    email_type: str | None = None
    email_primary: bool | None = None


def _text(value, field: str, limit: int = 256) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid_value(f"{field} is a non-empty string.")
    if len(value) > limit or not value.isprintable():
        raise invalid_value(f"{field} is at most {limit} printable characters.")
    return value.strip()


def parse_bool(value, field: str = "active") -> bool:
    """true/false, and Entra's "True"/"False" strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise invalid_value(f"{field} is true or false.")


def attribute(document: dict, name: str, default=None):
    name = name.lower()
    return next((value for key, value in document.items() if key.lower() == name), default)


def _email_of(document: dict, user_name: str) -> tuple[str, str | None, bool | None]:
    """(address, its type, its primary flag): the primary address, else the work one, else the first,
    else the userName when it is an address."""
    emails = attribute(document, "emails")
    candidates = []
    if emails is not None:
        if not isinstance(emails, list) or not all(isinstance(item, dict) for item in emails):
            raise invalid_value("emails is a list of objects.")
        primary = [e for e in emails if parse_bool(attribute(e, "primary", False), "emails.primary")]
        work = [e for e in emails if str(attribute(e, "type", "")).lower() == "work"]
        candidates = primary + work + emails
    candidates.append({"value": user_name})
    for candidate in candidates:
        value = attribute(candidate, "value")
        if isinstance(value, str) and "@" in value:
            try:
                address = normalize_email(value)
            except BadRequest:
                continue
            kind, primary = attribute(candidate, "type"), attribute(candidate, "primary")
            if kind is not None and (not isinstance(kind, str) or len(kind) > 64 or not kind.isprintable()):
                raise invalid_value("emails.type is a short string.")
            return address, kind, parse_bool(primary, "emails.primary") if primary is not None else None
    raise invalid_value("A user needs an email address: in emails, or as the userName.")


def _name_of(document: dict, email: str) -> str:
    name = attribute(document, "name")
    if name is not None and not isinstance(name, dict):
        raise invalid_value("name is an object.")
    name = name or {}
    display = attribute(document, "displayName")
    if display is not None and not isinstance(display, str):
        raise invalid_value("displayName is a string.")
    given, family = attribute(name, "givenName"), attribute(name, "familyName")
    parts = [p for p in (given, family) if isinstance(p, str) and p.strip()]
    for candidate in (display, attribute(name, "formatted"), " ".join(parts)):
        if isinstance(candidate, str):
            fitted = " ".join(candidate.split())[:40].strip()
            if len(fitted) >= 3 and fitted.isprintable():
                return fitted
    local = email.split("@", 1)[0]
    return (local if len(local) >= 3 else email)[:40]


def parse_user(document) -> UserInput:
    """What a POST or PUT body says. :raise ScimError: invalidSyntax, invalidValue."""
    if not isinstance(document, dict):
        raise invalid_syntax("A user is a JSON object.")
    schemas = attribute(document, "schemas")
    if schemas is not None and (not isinstance(schemas, list) or USER_SCHEMA not in schemas):
        raise invalid_syntax(f"A user names the schema {USER_SCHEMA}.")
    unknown = [key for key in document if key.lower() not in KNOWN and not key.lower().startswith("urn:")]
    if unknown:
        raise invalid_syntax(f"Unknown attribute {unknown[0]!r}.")
    user_name = _text(attribute(document, "userName"), "userName")
    email, email_type, email_primary = _email_of(document, user_name)
    external_id = attribute(document, "externalId")
    if external_id is not None:
        external_id = _text(external_id, "externalId")
    active = parse_bool(attribute(document, "active", True))
    return UserInput(user_name, email, _name_of(document, email), active, external_id, email_type, email_primary)


# -- reading -----------------------------------------------------------------------------------------

def document(db: Session, membership: Membership, user: User, base: str) -> dict:
    groups = db.execute(select(Group.scim_id, Group.name, Group.display_name)
                        .join(GroupMember, GroupMember.group_id == Group.id)
                        .where(GroupMember.membership_id == membership.id).order_by(Group.name)).all()
    doc = {
        "schemas": [USER_SCHEMA],
        "id": membership.scim_id,
        "userName": membership.scim_user_name or user.email,
        "displayName": user.name,
        "active": membership.status == MemberStatus.ACTIVE,
        "emails": [_email(membership, user)],
    }
    if membership.external_id is not None:
        doc["externalId"] = membership.external_id
    if groups:
        doc["groups"] = [{"value": scim_id, "display": display or name, "$ref": f"{base}/Groups/{scim_id}"}
                         for scim_id, name, display in groups]
    return with_meta(doc, resource_type="User", created=membership.joined_at,
                     modified=membership.modified_at or membership.joined_at,
                     location=f"{base}/Users/{membership.scim_id}")


def _email(membership: Membership, user: User) -> dict:
    email = {"value": user.email}
    if membership.scim_id is None or membership.scim_user_key is None:
        email.update(type="work", primary=True)  # a member the IdP never wrote: their one address
    else:
        if membership.scim_email_type is not None:
            email["type"] = membership.scim_email_type
        if membership.scim_email_primary is not None:
            email["primary"] = membership.scim_email_primary
    return email


def _find(db: Session, caller: Caller, scim_id, *, lock: bool = False) -> tuple[Membership, User]:
    if not isinstance(scim_id, str) or len(scim_id) > 64:
        raise not_found()
    query = (select(Membership, User).join(User, User.id == Membership.user_id)
             .where(Membership.org_id == caller.scope.org_id, Membership.scim_id == scim_id))
    if lock:
        query = query.with_for_update(of=Membership)
    row = db.execute(query).first()
    if row is None:  # another organization's member is as unknown as nobody at all
        raise not_found()
    return row[0], row[1]


def get(db: Session, caller: Caller, scim_id, base: str) -> dict:
    membership, user = _find(db, caller, scim_id)
    return document(db, membership, user, base)


def _resolver(org_id: int):
    return lambda path: _resolve(path, org_id)


def _resolve(path: filters.AttrPath, org_id: int):
    dotted = path.dotted
    if dotted == "username":
        # Members the IdP never named go by their email. Equality, the IdPs' lookup before every
        # create, is two index lookups (the organization's userNames, and emails), whatever the
        # organization's size: an OR across the two tables would read every member.
        return Column(func.coalesce(Membership.scim_user_key, User.email),
                      eq=lambda value: _user_name_is(org_id, value))
    if dotted in ("emails", "emails.value"):
        return Column(User.email)
    if dotted == "emails.type":
        return Column(func.lower(func.coalesce(Membership.scim_email_type, "work")))
    if dotted == "emails.primary":
        return Column(func.coalesce(Membership.scim_email_primary, True), kind="boolean")
    if dotted == "externalid":
        return Column(Membership.external_id, case_exact=True)
    if dotted in ("displayname", "name", "name.formatted", "name.givenname", "name.familyname"):
        return Column(func.lower(User.name))  # one name is kept: each of these reads it
    if dotted == "active":
        return Column(Membership.status == MemberStatus.ACTIVE, kind="boolean")
    if dotted == "id":
        return Column(Membership.scim_id, case_exact=True)
    if dotted == "meta.lastmodified":
        return Column(func.coalesce(Membership.modified_at, Membership.joined_at), kind="datetime")
    if dotted == "meta.created":
        return Column(Membership.joined_at, kind="datetime")
    if dotted in ("groups", "groups.value"):
        raise filters.invalid_filter("Filter groups by members instead.")
    raise filters.invalid_filter(f"Users cannot be filtered by {dotted!r}.")


def _user_name_is(org_id: int, value: str):
    named = select(Membership.id).where(Membership.org_id == org_id, Membership.scim_user_key == value)
    by_email = (select(Membership.id).join(User, User.id == Membership.user_id)
                .where(User.email == value, Membership.org_id == org_id, Membership.scim_user_key.is_(None)))
    return Membership.id.in_(union_all(named, by_email))


def list_users(db: Session, caller: Caller, *, filter_text: str | None, start: int, count: int,
               base: str) -> tuple[int, list[dict]]:
    """(totalResults, one page of users), in a stable order (membership id).

    :raise ScimError: invalidFilter.
    """
    condition = (filters.to_sql(filters.parse_filter(filter_text), _resolver(caller.scope.org_id))
                 if filter_text is not None else None)
    query = (select(Membership, User).join(User, User.id == Membership.user_id)
             .where(Membership.org_id == caller.scope.org_id))
    if condition is not None:
        query = query.where(condition)
    total = db.scalar(select(func.count()).select_from(query.subquery()))
    if count == 0:
        return total, []
    rows = db.execute(query.order_by(Membership.id).offset(start - 1).limit(count)).all()
    return total, [document(db, membership, user, base) for membership, user in rows]


# -- writing -----------------------------------------------------------------------------------------

def _key(user_name: str) -> str:
    return user_name.casefold()


def _ensure_user_name_free(db: Session, org_id: int, user_name: str, *, other_than: int | None = None) -> None:
    query = select(Membership.id).where(_user_name_is(org_id, _key(user_name)))
    if other_than is not None:
        query = query.where(Membership.id != other_than)
    if db.scalar(query.limit(1)) is not None:
        raise uniqueness(f"The organization has a user named {user_name} already.")


def has_sso(db: Session, org_id: int) -> bool:
    return connections.has_saml(db, org_id) or oidc_settings(db, org_id) is not None


def _ensure_domain_may_be_used(db: Session, org_id: int, email: str) -> None:
    # As at a first sign-in: a domain another organization declared for its IdP is that IdP's to vouch
    # for; where this organization declared some, only those.
    claim = connections.domain_claims(db, org_id)(email.rsplit("@", 1)[1])
    if not (claim.here or not (claim.elsewhere or claim.declares_any)):
        raise invalid_value("This email's domain is not one the organization declared for its identity provider.")


def _ensure_declared_here(db: Session, org_id: int, email: str) -> None:
    # An SSO-only account is signed in by the organization's IdP alone, and a first sign-in links an
    # existing member only on a domain the organization declared (accounts.provisioning.decide): on
    # any other, SCIM would make a member who can never sign in.
    if not connections.domain_claims(db, org_id)(email.rsplit("@", 1)[1]).here:
        raise invalid_value("With single sign-on, members are created on the email domains the organization "
                            "declared for its identity provider (the console's SSO page): this one is not.")


def _adoptable(db: Session, org_id: int, user: User) -> bool:
    """An existing account SCIM may make a member: its domain is declared here and this organization's
    IdP is already linked to it (it signed in through it before)."""
    claim = connections.domain_claims(db, org_id)(user.email.rsplit("@", 1)[1])
    linked = db.scalar(select(FederatedIdentity.id).where(FederatedIdentity.user_id == user.id,
                                                          FederatedIdentity.org_id == org_id).limit(1))
    return claim.here and linked is not None


def create(db: Session, caller: Caller, body, *, settings: Settings, base: str, now: datetime) -> dict:
    """POST /Users. In an organization with SSO the account is SSO-only; without, the person is
    invited by mail to set a password (the outbox, in this transaction).

    :raise ScimError: invalidSyntax/invalidValue; 409 uniqueness (userName taken here, or the email is
        an account SCIM may not adopt).
    """
    data = parse_user(body)
    org_id = caller.scope.org_id
    _ensure_user_name_free(db, org_id, data.user_name)
    sso = has_sso(db, org_id)
    user = db.scalar(select(User).where(User.email == data.email))
    invited = False
    if user is not None:
        if db.scalar(select(Membership.id).where(Membership.org_id == org_id, Membership.user_id == user.id)):
            raise uniqueness("This email is a member of the organization already, under another userName.")
        if not (sso and _adoptable(db, org_id, user)):
            raise uniqueness("This email belongs to an account outside this organization; SCIM does not take "
                             "it over. Invite the person, or link them through single sign-on first.")
    else:
        if sso:
            _ensure_declared_here(db, org_id, data.email)
        else:
            _ensure_domain_may_be_used(db, org_id, data.email)
        # No password at all: with SSO the IdP signs them in; without, the invitation sets one.
        user = User(email=data.email, name=data.name, sso_only=sso, password_hash=None, created_at=now,
                    last_org_id=org_id)
        db.add(user)
        db.flush()  # the user's id for the membership
        invited = not sso
    membership = Membership(org_id=org_id, user_id=user.id, role=Role.USER,
                            status=MemberStatus.ACTIVE if data.active else MemberStatus.INACTIVE, joined_at=now,
                            external_id=data.external_id, scim_user_name=data.user_name,
                            scim_user_key=_key(data.user_name), modified_at=now, scim_email_type=data.email_type,
                            scim_email_primary=data.email_primary)
    db.add(membership)
    db.flush()  # the membership's id and scim_id
    record(db, caller.scope.actor, AuditAction.USER_CREATE, now=now, org_id=org_id, target_id=user.id,
           target_email=user.email, role=str(Role.USER), via="scim", sso_only=user.sso_only,
           active=data.active)
    if invited and data.active:
        _invite(db, caller, user, settings=settings, now=now)
    return document(db, membership, user, base)


def _invite(db: Session, caller: Caller, user: User, *, settings: Settings, now: datetime) -> None:
    if db.scalar(select(Invitation.id).where(Invitation.org_id == caller.scope.org_id,
                                             Invitation.email == user.email)) is not None:
        return
    code = secrets.token_urlsafe(32)
    invitation = Invitation(org_id=caller.scope.org_id, email=user.email, role=Role.USER,
                            code_hash=invitations.hash_code(code), invited_by=None, created_at=now,
                            expires_at=now + settings.invitation_ttl)
    db.add(invitation)
    db.flush()  # the id for the audit row
    record(db, caller.scope.actor, AuditAction.INVITATION_CREATE, now=now, org_id=caller.scope.org_id,
           target_email=user.email, role=str(Role.USER), invitation_id=invitation.id, mailed=True, via="scim")
    outbox.enqueue(db, recipient=user.email, now=now, subject=f"You are invited to {caller.scope.org_name}",
                   body=(f"Hello {user.name},\n\n{caller.scope.org_name} added you on idgate. Open this link "
                         f"and choose your password:\n{invitations.magic_link(settings, code)}\n"))


def check_version(current: dict, if_match: str | None) -> None:
    """RFC 7644 §3.14: a PUT, PATCH or DELETE with If-Match applies only to the version named.

    :raise ScimError: 412 when the resource changed since.
    """
    if not if_match:
        return
    wanted = [tag.strip() for tag in if_match.split(",")]
    version = current["meta"]["version"]
    bare = version.removeprefix("W/")
    if "*" not in wanted and not any(tag.removeprefix("W/") == bare for tag in wanted):
        raise ScimError("The resource changed since that version (If-Match).", status=412, code="precondition_failed")


def _held_elsewhere(db: Session, user: User, org_id: int) -> bool:
    return db.scalar(select(Membership.id).where(Membership.user_id == user.id, Membership.org_id != org_id)
                     .limit(1)) is not None


def _save(db: Session, caller: Caller, membership: Membership, user: User, data: UserInput, *,
          settings: Settings, now: datetime) -> None:
    org_id = caller.scope.org_id
    if _key(data.user_name) != (membership.scim_user_key or user.email):
        _ensure_user_name_free(db, org_id, data.user_name, other_than=membership.id)
    shared = None
    if data.email != user.email:
        shared = _held_elsewhere(db, user, org_id)
        if shared:
            raise mutability("This account belongs to other organizations too: its email is not this "
                             "organization's to change.")
        if db.scalar(select(User.id).where(User.email == data.email)) is not None:
            raise uniqueness("Another account has this email.")
        _ensure_domain_may_be_used(db, org_id, data.email)
        previous = user.email
        user.email = data.email
        user.email_verified_at = None  # the new address was never proven
        record(db, caller.scope.actor, AuditAction.USER_EMAIL_CHANGE, now=now, org_id=org_id, target_id=user.id,
               target_email=user.email, old_email=previous, via="scim")
    if data.name != user.name:
        if shared is None:
            shared = _held_elsewhere(db, user, org_id)
        if not shared:  # a name other organizations show too stays theirs as well
            user.name = data.name
    membership.scim_user_name, membership.scim_user_key = data.user_name, _key(data.user_name)
    membership.external_id = data.external_id
    membership.scim_email_type, membership.scim_email_primary = data.email_type, data.email_primary
    membership.modified_at = now
    active = membership.status == MemberStatus.ACTIVE
    if data.active != active:
        if data.active:
            lifecycle.reactivate(db, caller.scope, user.id, now=now)
            if user.password_hash is None and not user.sso_only:
                _invite(db, caller, user, settings=settings, now=now)  # created inactive: never invited yet
        else:
            # The console's own guards: never the last active admin; every session ends at once.
            lifecycle.deactivate(db, caller.scope, user.id, now=now)
    db.flush()


def replace(db: Session, caller: Caller, scim_id, body, *, if_match: str | None, base: str, settings: Settings,
            now: datetime) -> dict:
    """PUT /Users/<id>. :raise ScimError: 404, 412, invalidValue, uniqueness, mutability; LastAdmin (409)."""
    lifecycle._lock_organization(db, caller.scope.org_id)
    membership, user = _find(db, caller, scim_id, lock=True)
    check_version(document(db, membership, user, base), if_match)
    _save(db, caller, membership, user, parse_user(body), settings=settings, now=now)
    return document(db, membership, user, base)


def modify(db: Session, caller: Caller, scim_id, body, *, if_match: str | None, base: str, settings: Settings,
           now: datetime) -> dict:
    """PATCH /Users/<id>: the operations applied to the user's JSON, saved like a PUT."""
    ops = patch.operations(body)
    lifecycle._lock_organization(db, caller.scope.org_id)
    membership, user = _find(db, caller, scim_id, lock=True)
    current = document(db, membership, user, base)
    check_version(current, if_match)
    changed = patch.apply(copy.deepcopy({k: v for k, v in current.items() if k not in ("meta", "groups")}), ops,
                          multi_valued=MULTI_VALUED)
    for key in list(changed):
        if key.lower() in ("id", "meta", "groups"):
            if changed[key] != current.get(key):
                raise mutability(f"{key} cannot be changed.")
    emails = changed.get("emails")
    if "emails" in changed and not emails:
        changed.pop("emails")  # removing the address leaves the account's (it has exactly one)
    elif isinstance(emails, list) and len(emails) > 1:
        # The account keeps one address: when operations leave several (Entra adds
        # `emails[type eq "work"].value` beside an untyped one), the one the PATCH brought wins.
        new = [item for item in emails if not (isinstance(item, dict) and attribute(item, "value") == user.email)]
        changed["emails"] = new or emails
    _save(db, caller, membership, user, parse_user(changed), settings=settings, now=now)
    return document(db, membership, user, base)


def delete(db: Session, caller: Caller, scim_id, *, if_match: str | None, base: str, now: datetime) -> None:
    """DELETE /Users/<id>: as an admin's removal (audit, mail, the account too when nothing else holds
    it); sessions end first, as a deactivation ends them.

    :raise ScimError: 404, 412. :raise LastAdmin: the last active admin stays.
    """
    membership, user = _find(db, caller, scim_id)
    check_version(document(db, membership, user, base), if_match)
    lifecycle.deactivate(db, caller.scope, user.id, now=now)
    lifecycle.delete(db, caller.scope, user.id, now=now)
