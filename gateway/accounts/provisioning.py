"""Just-in-time provisioning, protocol-neutral: what an external identity means for our accounts.

`decide()` looks and changes nothing; `apply()` carries the decision out. A
SAML sign-in today, an OIDC one tomorrow, would hand over the same
ExternalIdentity. Both run on every SSO sign-in, so they speak plain Core
statements, built once and bound per call: one lookup and three inserts for
a first sign-in, where the ORM's unit of work cost more than validating the
assertion itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Callable

from sqlalchemy import bindparam, func, insert, literal, select, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.accounts.emails import normalize_email
from gateway.accounts.models import FederatedIdentity, User
from gateway.db import core_execute
from gateway.errors import BadRequest, GatewayError
from gateway.orgs.models import Membership, MemberStatus, Organization, Role


@dataclass(frozen=True)
class ExternalIdentity:
    """Who an identity provider says the user is."""

    org_id: int              # the organization whose IdP vouched
    issuer: str
    subject: str             # the IdP's stable identifier (NameID)
    email: str | None
    name: str | None
    groups: frozenset[str] = frozenset()


class Action(StrEnum):
    AUTH = "auth"        # already linked to this organization's IdP: sign in
    LINK = "link"        # a member of this organization, on a declared domain: link, then sign in
    ENROLL = "enroll"    # nobody has this email, and it is this IdP's to vouch for: create an SSO-only user
    DENY = "deny"


@dataclass(frozen=True)
class Standing:
    """An existing user as `decide()` found them, with their membership in the organization, if any."""

    user_id: int
    email: str
    name: str
    membership_id: int | None
    role: Role | None
    status: MemberStatus | None


@dataclass(frozen=True)
class Decision:
    action: Action
    found: Standing | None = None
    reason: str | None = None
    email: str | None = None  # normalized, for ENROLL


@dataclass(frozen=True)
class Account:
    """Who the identity signs in as."""

    user_id: int
    email: str


class ProvisioningDenied(GatewayError):
    code, status = "sso_denied", 403

    MESSAGES = {
        "deactivated": "Your membership in this organization is deactivated. Ask an admin.",
        "account_exists": ("An account with this email already exists and is not linked to this identity "
                           "provider. Sign in the way you usually do, or ask an admin."),
        "foreign_domain": ("This identity provider does not answer for that email's domain. Ask an admin to "
                           "declare the domain for it."),
        "no_email": "The identity provider did not send an email address.",
        "invalid_email": "The identity provider sent an email address that is not valid.",
    }

    def __init__(self, reason: str):
        super().__init__(self.MESSAGES[reason])
        self.reason = reason


class ConcurrentSignIn(ProvisioningDenied):
    """Two first sign-ins of one new user at the same instant: the unique rows let one through."""

    code, status = "sso_concurrent_sign_in", 409
    MESSAGES = {"concurrent": "Another sign-in was setting up this account at the same moment. Try again."}

    def __init__(self):
        super().__init__("concurrent")


_users, _identities, _members = User.__table__, FederatedIdentity.__table__, Membership.__table__


def _standing(linked: bool):
    return select(_users.c.id, _users.c.email, _users.c.name, _members.c.id, _members.c.role, _members.c.status,
                  literal(linked).label("linked")).outerjoin_from(
        _users, _members, (_members.c.user_id == _users.c.id) & (_members.c.org_id == bindparam("org_id")))


# Both candidates in one round trip: the user linked to this organization's IdP under this NameID,
# and the user with the asserted email (a NULL email matches nobody). A link counts only in the
# organization that made it: another organization may configure an IdP with the same entity ID.
_CANDIDATES = union_all(
    _standing(True).join(_identities, _identities.c.user_id == _users.c.id).where(
        _identities.c.org_id == bindparam("org_id"), _identities.c.issuer == bindparam("issuer"),
        _identities.c.subject == bindparam("subject")),
    _standing(False).where(_users.c.email == bindparam("email")),
)
_NEW_USER = insert(_users).returning(_users.c.id)
_NEW_IDENTITY = insert(_identities)
_NEW_MEMBERSHIP = insert(_members)
# The SET clause comes from the parameters given: name, last_login_at, last_org_id.
_SIGNED_IN = update(_users).where(_users.c.id == bindparam("user"))


def _domain(email: str) -> str:
    return email.rsplit("@", 1)[-1]


@dataclass(frozen=True)
class DomainClaim:
    """Who declared an email's domain for their IdP, as the organization signing someone in sees it."""

    here: bool          # this organization
    elsewhere: bool     # another organization
    declares_any: bool  # this organization declared any domain at all


def decide(db: Session, identity: ExternalIdentity, *, domain_claim: Callable[[str], DomainClaim]) -> Decision:
    """AUTH, LINK, ENROLL or DENY; never signs in as someone the IdP does not own.

    An email that already belongs to a password user, or to a user of another
    organization's IdP, is not taken over: only a user already linked to this
    organization's IdP (issuer + NameID), or a member of this organization whose
    email is on a domain the organization declared for its IdP, signs in. (What
    such a sign-in opens is this organization only: its session cannot switch to
    another, see sessions.switch_org.) A new account is made only for an email on
    a declared domain, or, where the organization declared none, on a domain no
    other organization declared. `domain_claim(domain)` is asked only when no link
    decides.
    """
    email, problem = _normalized(identity.email)
    candidates = core_execute(db, _CANDIDATES, {"org_id": identity.org_id, "issuer": identity.issuer,
                                                "subject": identity.subject, "email": email}).all()
    linked = next((Standing(*row[:-1]) for row in candidates if row.linked), None)
    if linked is not None:
        if linked.membership_id is not None and linked.status != MemberStatus.ACTIVE:
            return Decision(Action.DENY, linked, "deactivated")
        return Decision(Action.AUTH, linked)
    if problem:
        return Decision(Action.DENY, reason=problem)
    found = next((Standing(*row[:-1]) for row in candidates if not row.linked), None)
    if found is None:
        claim = domain_claim(_domain(email))
        if claim.here or not (claim.elsewhere or claim.declares_any):
            return Decision(Action.ENROLL, email=email)
        return Decision(Action.DENY, reason="foreign_domain")
    if found.membership_id is None or not domain_claim(_domain(email)).here:
        return Decision(Action.DENY, found, "account_exists")
    if found.status != MemberStatus.ACTIVE:
        return Decision(Action.DENY, found, "deactivated")
    return Decision(Action.LINK, found)


def _normalized(email: str | None) -> tuple[str | None, str | None]:
    """(normalized email, None), or (None, the reason it cannot be used)."""
    if not email:
        return None, "no_email"
    try:
        return normalize_email(email), None
    except BadRequest:
        return None, "invalid_email"


def display_name(identity: ExternalIdentity, email: str) -> str:
    """The IdP's name fitted to our 3–40 characters, else the email's local part."""
    name = " ".join((identity.name or "").split())[:40].strip()
    if len(name) >= 3 and name.isprintable():
        return name
    local = email.split("@", 1)[0]
    return (local if len(local) >= 3 else email)[:40]


def mapped_role(identity: ExternalIdentity, *, default_role: Role, admin_groups: list[str]) -> Role | None:
    """ADMIN for members of an admin group, when groups are configured; None leaves roles alone."""
    if not admin_groups:
        return None
    return Role.ADMIN if identity.groups & set(admin_groups) else default_role


def _is_last_active_admin(db: Session, org_id: int, membership_id: int) -> bool:
    # Serialized like orgs.lifecycle: lock the organization, then count.
    db.execute(select(Organization.id).where(Organization.id == org_id).with_for_update())
    others = db.scalar(select(func.count()).select_from(_members).where(
        _members.c.org_id == org_id, _members.c.role == Role.ADMIN, _members.c.status == MemberStatus.ACTIVE,
        _members.c.id != membership_id))
    return others == 0


def apply(db: Session, decision: Decision, identity: ExternalIdentity, *, default_role: Role,
          admin_groups: list[str], now: datetime) -> Account:
    """Carry out a decision; the user then has an active membership in the organization.

    :raise ProvisioningDenied: for DENY.
    """
    if decision.action == Action.DENY:
        raise ProvisioningDenied(decision.reason)
    role = mapped_role(identity, default_role=default_role, admin_groups=admin_groups)
    if decision.action == Action.ENROLL:
        return _enroll(db, identity, decision.email, role or default_role, now)
    found = decision.found
    name = found.name
    if decision.action == Action.LINK:
        core_execute(db, _NEW_IDENTITY, _identity_row(found.user_id, identity, now))
    elif identity.name:
        name = display_name(identity, found.email)
    signed_in = {"user": found.user_id, "last_login_at": now, "last_org_id": identity.org_id}
    if name != found.name:  # only then: a new name is a change every verify cache must hear of
        signed_in["name"] = name
    core_execute(db, _SIGNED_IN, signed_in)
    if found.membership_id is None:
        core_execute(db, _NEW_MEMBERSHIP, _membership_row(found.user_id, identity, role or default_role, now))
    elif role is not None and role != found.role:
        # Groups can promote; they demote unless that would leave the organization without an admin.
        if role == Role.ADMIN or not _is_last_active_admin(db, identity.org_id, found.membership_id):
            db.execute(update(_members).where(_members.c.id == found.membership_id)
                       .values(role=role, custom_role_id=None, version=_members.c.version + 1))
    return Account(found.user_id, found.email)


def _identity_row(user_id: int, identity: ExternalIdentity, now: datetime) -> dict:
    return {"user_id": user_id, "org_id": identity.org_id, "issuer": identity.issuer, "subject": identity.subject,
            "created_at": now}


def _membership_row(user_id: int, identity: ExternalIdentity, role: Role, now: datetime) -> dict:
    return {"org_id": identity.org_id, "user_id": user_id, "role": role, "status": MemberStatus.ACTIVE,
            "joined_at": now}


def _enroll(db: Session, identity: ExternalIdentity, email: str, role: Role, now: datetime) -> Account:
    try:
        # SSO-only: no password hash at all, so password sign-in cannot even be attempted.
        user_id = core_execute(db, _NEW_USER, {
            "email": email, "name": display_name(identity, email), "sso_only": True, "password_hash": None,
            "created_at": now, "last_login_at": now, "last_org_id": identity.org_id}).scalar_one()
        core_execute(db, _NEW_IDENTITY, _identity_row(user_id, identity, now))
        core_execute(db, _NEW_MEMBERSHIP, _membership_row(user_id, identity, role, now))
    except IntegrityError:
        # Another sign-in enrolled the same email or NameID first: the database decided. The caller
        # rolls back; signing in again finds the account.
        raise ConcurrentSignIn() from None
    return Account(user_id, email)
