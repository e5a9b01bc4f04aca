"""Just-in-time provisioning, protocol-neutral: what an external identity means for our accounts.

`decide()` looks and changes nothing; `apply()` carries the decision out. A
SAML sign-in today, an OIDC one tomorrow, would hand over the same
ExternalIdentity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.accounts.emails import normalize_email
from gateway.accounts.models import FederatedIdentity, User
from gateway.errors import BadRequest, GatewayError
from gateway.orgs.models import MemberStatus, Membership, Organization, Role


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
    AUTH = "auth"        # already linked to this IdP: sign in
    LINK = "link"        # an existing member of this organization, on a declared domain: link, then sign in
    ENROLL = "enroll"    # nobody has this email: create an SSO-only user
    DENY = "deny"


@dataclass(frozen=True)
class Decision:
    action: Action
    user: User | None = None
    reason: str | None = None
    membership: Membership | None = None
    email: str | None = None  # normalized, for ENROLL


class ProvisioningDenied(GatewayError):
    code, status = "sso_denied", 403

    MESSAGES = {
        "deactivated": "Your membership in this organization is deactivated. Ask an admin.",
        "account_exists": ("An account with this email already exists and is not linked to this identity "
                           "provider. Sign in the way you usually do, or ask an admin."),
        "no_email": "The identity provider did not send an email address.",
        "invalid_email": "The identity provider sent an email address that is not valid.",
    }

    def __init__(self, reason: str):
        super().__init__(self.MESSAGES[reason])
        self.reason = reason


def _domain(email: str) -> str:
    return email.rsplit("@", 1)[-1]


def _membership(db: Session, user_id: int, org_id: int) -> Membership | None:
    return db.scalar(select(Membership).where(Membership.user_id == user_id, Membership.org_id == org_id))


def decide(db: Session, identity: ExternalIdentity, *, email_domains: list[str]) -> Decision:
    """AUTH, LINK, ENROLL or DENY; never signs in as someone the IdP does not own.

    An email that already belongs to a password user, or to a user of another
    organization's IdP, is not taken over: only a user already linked to this
    IdP (issuer + NameID), or a member of this organization whose email is on a
    domain the organization declared for its IdP, signs in.
    """
    linked = db.scalar(select(FederatedIdentity).where(FederatedIdentity.issuer == identity.issuer,
                                                       FederatedIdentity.subject == identity.subject))
    if linked is not None:
        user = db.get(User, linked.user_id)
        membership = _membership(db, user.id, identity.org_id)
        if membership is not None and membership.status != MemberStatus.ACTIVE:
            return Decision(Action.DENY, user, "deactivated")
        return Decision(Action.AUTH, user, membership=membership)
    if not identity.email:
        return Decision(Action.DENY, reason="no_email")
    try:
        email = normalize_email(identity.email)
    except BadRequest:
        return Decision(Action.DENY, reason="invalid_email")
    user = db.scalar(select(User).where(User.email == email))
    if user is None:
        return Decision(Action.ENROLL, email=email)
    membership = _membership(db, user.id, identity.org_id)
    if membership is None or _domain(email) not in {d.lower() for d in email_domains}:
        return Decision(Action.DENY, user, "account_exists")
    if membership.status != MemberStatus.ACTIVE:
        return Decision(Action.DENY, user, "deactivated")
    return Decision(Action.LINK, user, membership=membership)


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


def _is_last_active_admin(db: Session, membership: Membership) -> bool:
    # Serialized like orgs.lifecycle: lock the organization, then count.
    db.execute(select(Organization.id).where(Organization.id == membership.org_id).with_for_update())
    others = db.scalar(select(func.count()).select_from(Membership).where(
        Membership.org_id == membership.org_id, Membership.role == Role.ADMIN,
        Membership.status == MemberStatus.ACTIVE, Membership.id != membership.id))
    return others == 0


def apply(db: Session, decision: Decision, identity: ExternalIdentity, *, default_role: Role,
          admin_groups: list[str], now: datetime) -> tuple[User, Membership]:
    """Carry out a decision; returns the user and their active membership.

    :raise ProvisioningDenied: for DENY.
    """
    if decision.action == Action.DENY:
        raise ProvisioningDenied(decision.reason)
    role = mapped_role(identity, default_role=default_role, admin_groups=admin_groups)
    if decision.action == Action.ENROLL:
        return _enroll(db, identity, decision.email, role or default_role, now)
    user, membership = decision.user, decision.membership
    if decision.action == Action.LINK:
        db.add(_federated(user, identity, now))
    elif identity.name and display_name(identity, user.email) != user.name:
        user.name = display_name(identity, user.email)
    if membership is None:
        membership = Membership(org_id=identity.org_id, user_id=user.id, role=role or default_role,
                                status=MemberStatus.ACTIVE, joined_at=now)
        db.add(membership)
    elif role is not None and role != membership.role:
        # Groups can promote; they demote unless that would leave the organization without an admin.
        if role == Role.ADMIN or not _is_last_active_admin(db, membership):
            membership.role = role
            membership.version += 1
    user.last_login_at = now
    user.last_org_id = identity.org_id
    return user, membership


def _federated(user: User, identity: ExternalIdentity, now: datetime) -> FederatedIdentity:
    return FederatedIdentity(user_id=user.id, org_id=identity.org_id, issuer=identity.issuer,
                             subject=identity.subject, created_at=now)


def _enroll(db: Session, identity: ExternalIdentity, email: str, role: Role,
            now: datetime) -> tuple[User, Membership]:
    # SSO-only: no password hash at all, so password sign-in cannot even be attempted.
    user = User(email=email, name=display_name(identity, email), sso_only=True, password_hash=None,
                created_at=now, last_login_at=now, last_org_id=identity.org_id)
    db.add(user)
    db.flush()  # the id for the identity, the membership and the session
    membership = Membership(org_id=identity.org_id, user_id=user.id, role=role, status=MemberStatus.ACTIVE,
                            joined_at=now)
    db.add_all([_federated(user, identity, now), membership])
    return user, membership
