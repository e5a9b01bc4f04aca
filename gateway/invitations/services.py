"""Issuing, redeeming and withdrawing invitations.

An invitation is a magic link `<base>/invite/<code>`: the code carries 256 bits
from `secrets`, the table keeps only its SHA-256. It is locked to one email
address, expires (IDGATE_INVITATION_TTL) and is single-use: redeeming deletes
the row, and only the request whose DELETE removed it may go on.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.accounts import services as accounts
from gateway.accounts.emails import normalize_email
from gateway.accounts.models import User
from gateway.accounts.passwords import Passwords
from gateway.actor import Actor
from gateway.audit.actions import AuditAction
from gateway.audit.service import record
from gateway.config import Settings
from gateway.errors import BadRequest, Conflict, GatewayError, InvalidCredentials, NotFound
from gateway.invitations.models import Invitation
from gateway.mail import outbox
from gateway.orgs import services as orgs
from gateway.orgs.access import AdminScope
from gateway.orgs.lifecycle import parse_role
from gateway.orgs.models import Membership, Organization, Role
from gateway.params import row_id
from gateway.mfa import policy
from gateway.sessions import services as sessions


class InvitationInvalid(GatewayError):
    # One answer for unknown, expired, used and deleted links: it tells nothing
    # about which address an invitation was for, or whether there was one.
    code, status = "invitation_invalid", 404
    message = "This invitation link is not valid. It may have expired, been used or been withdrawn."


class EmailMismatch(GatewayError):
    code, status = "email_mismatch", 403
    message = "That is not the email address this invitation was made for."


@dataclass(frozen=True)
class Issued:
    invitation: Invitation
    code: str


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()


def magic_link(settings: Settings, code: str) -> str:
    return f"{settings.base_url}/invite/{code}"


def issue(
    db: Session, scope: AdminScope, *, email: str, role, send_mail: bool, settings: Settings, now: datetime,
) -> Issued:
    """Invite an address with a role; the link is returned once.

    :raise BadRequest: bad email or role, or mail asked for while no SMTP server is configured.
    :raise Conflict: `already_member`, or `already_invited` (delete the existing invitation first).
    """
    email, role = normalize_email(email), parse_role(role)
    if send_mail and not settings.smtp_url:
        raise BadRequest("Mail is not configured (IDGATE_SMTP_URL); share the link yourself.",
                         code="mail_not_configured")
    member = db.scalar(select(Membership.id).join(User, User.id == Membership.user_id)
                       .where(Membership.org_id == scope.org_id, User.email == email))
    if member is not None:
        raise orgs.AlreadyMember()
    if db.scalar(select(Invitation.id).where(Invitation.org_id == scope.org_id,
                                             Invitation.email == email)) is not None:
        raise Conflict("This address has an invitation already (pending or expired). "
                       "Delete the existing invitation first.", code="already_invited")
    code = secrets.token_urlsafe(32)
    invitation = Invitation(org_id=scope.org_id, email=email, role=role, code_hash=hash_code(code),
                            invited_by=scope.actor.user_id, created_at=now,
                            expires_at=now + settings.invitation_ttl)
    db.add(invitation)
    db.flush()  # the id for the audit row
    record(db, scope.actor, AuditAction.INVITATION_CREATE, now=now, org_id=scope.org_id,
           target_email=email, role=str(role), invitation_id=invitation.id, mailed=send_mail)
    if send_mail:
        outbox.enqueue(db, recipient=email, now=now,
                       subject=f"You are invited to {scope.org_name}",
                       body=(f"Hello,\n\n{scope.actor.email} invites you to join {scope.org_name} on idgate.\n\n"
                             f"Open this link within {_lifetime(settings)} and confirm your email address:\n"
                             f"{magic_link(settings, code)}\n"))
    return Issued(invitation, code)


def _lifetime(settings: Settings) -> str:
    """The link's lifetime in words, rounded down: the mail never promises more time than the link has."""
    minutes = int(settings.invitation_ttl.total_seconds() // 60)
    count, unit = (minutes // 60, "hour") if minutes >= 60 else (max(1, minutes), "minute")
    return f"{count} {unit}{'s' if count != 1 else ''}"


def list_pending(db: Session, scope: AdminScope, *, role: str | None = None,
                 search: str | None = None) -> list[Invitation]:
    """Open invitations, expired ones included (they say so), newest first."""
    query = select(Invitation).where(Invitation.org_id == scope.org_id).order_by(Invitation.id.desc())
    if role in ("admin", "user"):
        query = query.where(Invitation.role == Role(role))
    if search and search.strip():
        query = query.where(Invitation.email.contains(search.strip().lower()[:100], autoescape=True))
    return list(db.scalars(query))


def revoke(db: Session, scope: AdminScope, invitation_id, *, now: datetime) -> None:
    """Delete an invitation: its link stops working at once.

    :raise NotFound: no such invitation in this organization.
    """
    invitation = get(db, scope, invitation_id)
    db.delete(invitation)
    record(db, scope.actor, AuditAction.INVITATION_DELETE, now=now, org_id=scope.org_id,
           target_email=invitation.email, invitation_id=invitation.id)


def get(db: Session, scope: AdminScope, invitation_id) -> Invitation:
    """:raise NotFound: no such invitation in this organization."""
    invitation_id = row_id(invitation_id)
    if invitation_id is None:
        raise NotFound("There is no such invitation.", code="unknown_invitation")
    invitation = db.scalar(select(Invitation).where(Invitation.id == invitation_id,
                                                    Invitation.org_id == scope.org_id))
    if invitation is None:
        raise NotFound("There is no such invitation.", code="unknown_invitation")
    return invitation


def find_valid(db: Session, code: str, *, now: datetime) -> Invitation:
    """:raise InvitationInvalid: unknown, expired, used or deleted."""
    if not code or len(code) > 128:
        raise InvitationInvalid()
    invitation = db.scalar(select(Invitation).where(Invitation.code_hash == hash_code(code)))
    if invitation is None or now >= invitation.expires_at:
        raise InvitationInvalid()
    return invitation


def confirm_email(invitation: Invitation, typed: str) -> str:
    """The typed address, normalized, if it is the invited one.

    Compared after normalization (case, Unicode NFC, IDNA), so a different
    plus-address, a compatibility form such as fullwidth letters, or a
    look-alike from another script is a different address.

    :raise EmailMismatch:
    """
    try:
        email = normalize_email(typed or "")
    except BadRequest:
        raise EmailMismatch() from None
    if not hmac.compare_digest(email.encode(), invitation.email.encode()):
        raise EmailMismatch()
    return email


def account_for(db: Session, invitation: Invitation) -> User | None:
    return db.scalar(select(User).where(User.email == invitation.email))


def _claim(db: Session, invitation: Invitation) -> None:
    # Single use, decided by the database: of two redemptions racing, only the one
    # whose DELETE removed the row continues; the other sees rowcount 0.
    removed = db.execute(delete(Invitation).where(Invitation.id == invitation.id)).rowcount
    if removed != 1:
        raise InvitationInvalid()


def _join(db: Session, invitation: Invitation, user: User, actor: Actor, now: datetime) -> Membership:
    _claim(db, invitation)
    accounts.hold_account(db, user.id)  # not while an admin elsewhere resets the password (orgs.members)
    org = db.get(Organization, invitation.org_id)
    try:
        with db.begin_nested():
            membership = orgs.add_member(db, org, user, role=invitation.role, now=now)
    except IntegrityError:
        raise orgs.AlreadyMember("You are already a member of this organization.") from None
    user.last_org_id = org.id
    if user.email_verified_at is None:
        user.email_verified_at = now  # the link was sent to this address (an invitation is locked to it)
    record(db, actor.as_user(user.id, user.email, org.id), AuditAction.INVITATION_ACCEPT, now=now,
           org_id=org.id, target_id=user.id, target_email=user.email, role=str(invitation.role))
    return membership


def _slug_for(email: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", email.split("@", 1)[0].lower()).strip("-")[:28] or "personal"
    return f"{base}-{secrets.token_hex(3)}"


def accept_as_new_user(
    db: Session, code: str, *, email: str, name: str, password: str, passwords: Passwords, actor: Actor,
    settings: Settings, now: datetime,
) -> accounts.SignIn:
    """Register the invited person: a password account, their personal organization, and
    the inviting organization with the invited role; signed in there.

    :raise InvitationInvalid, EmailMismatch, BadRequest, PolicyViolation:
    :raise Conflict: the address has an account already (sign in instead).
    """
    invitation = find_valid(db, code, now=now)
    email = confirm_email(invitation, email)
    existing = account_for(db, invitation)
    if existing is not None and is_provisioned(db, existing, invitation.org_id):
        return _accept_provisioned(db, invitation, existing, name=name, password=password, passwords=passwords,
                                   actor=actor, settings=settings, now=now)
    user = accounts.new_user(db, email=email, name=name, now=now)
    accounts.check_password_policy(password, email=user.email, name=user.name, settings=settings)
    user.password_hash = passwords.hash(password)
    user.last_login_at = now
    db.flush()  # the user's id for the memberships
    personal = orgs.create_org(db, slug=_slug_for(email), name=f"{user.name} (personal)", now=now)
    orgs.add_member(db, personal, user, role=Role.ADMIN, now=now)
    _join(db, invitation, user, actor, now)
    return _start(db, user, invitation.org_id, actor, settings, now)


def is_provisioned(db: Session, user: User, org_id: int) -> bool:
    """An account the organization's IdP created through SCIM, still waiting for its password: no
    credential at all, not SSO-only, and a member of the inviting organization already."""
    return (user.password_hash is None and not user.sso_only
            and db.scalar(select(Membership.id).where(Membership.user_id == user.id,
                                                      Membership.org_id == org_id)) is not None)


def _accept_provisioned(db: Session, invitation: Invitation, user: User, *, name: str, password: str,
                        passwords: Passwords, actor: Actor, settings: Settings, now: datetime) -> accounts.SignIn:
    # The link reached the address, so its holder is the account's: they choose its first password.
    if name and name.strip():
        user.name = accounts.validate_name(name)
    accounts.check_password_policy(password, email=user.email, name=user.name, settings=settings)
    accounts.hold_account(db, user.id)
    _claim(db, invitation)
    user.password_hash = passwords.hash(password)
    user.last_login_at = now
    if user.email_verified_at is None:
        user.email_verified_at = now
    record(db, actor.as_user(user.id, user.email, invitation.org_id), AuditAction.INVITATION_ACCEPT, now=now,
           org_id=invitation.org_id, target_id=user.id, target_email=user.email, role=str(invitation.role),
           provisioned=True)
    return _start(db, user, invitation.org_id, actor, settings, now)


def accept_with_password(
    db: Session, code: str, *, email: str, password: str, passwords: Passwords, actor: Actor,
    settings: Settings, now: datetime,
) -> accounts.SignIn:
    """An existing password account signs in as the invited address and joins.

    :raise InvitationInvalid, EmailMismatch, InvalidCredentials:
    """
    invitation = find_valid(db, code, now=now)
    email = confirm_email(invitation, email)
    user = account_for(db, invitation)
    if user is None or user.sso_only or not passwords.verify(user.password_hash, password):
        # As on the sign-in page: a wrong password is in the audit log (and counts, see gateway.limits).
        record(db, actor, AuditAction.LOGIN_FAILURE, now=now, org_id=invitation.org_id,
               target_id=user.id if user else None, target_email=invitation.email, method="invitation",
               reason="wrong_password" if user else "unknown_email")
        raise InvalidCredentials()
    user.last_login_at = now
    _join(db, invitation, user, actor, now)
    return _start(db, user, invitation.org_id, actor, settings, now)


def accept_signed_in(
    db: Session, code: str, *, email: str, session: sessions.SessionContext, actor: Actor, now: datetime,
) -> Membership:
    """The signed-in holder of the invited address joins; their session moves to the new organization
    (unless it was started through an IdP, which vouches for its own organization only).

    :raise InvitationInvalid, EmailMismatch: also when the session belongs to someone else.
    """
    invitation = find_valid(db, code, now=now)
    confirm_email(invitation, email)
    if session.email != invitation.email:
        raise EmailMismatch("You are signed in as someone else. Sign out, then open the link again.")
    user = db.get(User, session.user_id)
    membership = _join(db, invitation, user, actor, now)
    sessions.switch_org(db, session.session_id, membership.org_id)
    accounts.owe_what_the_organization_requires(db, user.id, session.session_id, membership.org_id)
    return membership


def _start(db, user, org_id, actor, settings, now) -> accounts.SignIn:
    actor = actor.as_user(user.id, user.email, org_id)
    token, row = sessions.start(db, user.id, org_id=org_id, amr=policy.PWD,
                                owes=policy.owed(db, user, org_id, (policy.PWD,)), actor=actor,
                                settings=settings, now=now)
    record(db, actor, AuditAction.LOGIN_SUCCESS, now=now, target_id=user.id, target_email=user.email,
           method="invitation")
    return accounts.SignIn(token, row)


def is_expired(invitation: Invitation, now: datetime) -> bool:
    return now >= invitation.expires_at

