"""Admins adding people with a temporary password, and resetting passwords."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.accounts import services as accounts
from gateway.accounts.emails import normalize_email
from gateway.accounts.models import User
from gateway.accounts.passwords import Passwords
from gateway.audit.actions import AuditAction
from gateway.audit.service import record
from gateway.errors import BadRequest, Conflict
from gateway.orgs import roles
from gateway.orgs.access import AdminScope, get_member
from gateway.orgs.models import Membership, Organization
from gateway.orgs.services import AlreadyMember, add_member
from gateway.sessions import services as sessions


def create_member(
    db: Session, scope: AdminScope, *, email: str, name: str, role, passwords: Passwords, now: datetime,
) -> tuple[User, str]:
    """Create an account in this organization with a temporary password, returned once.

    :raise BadRequest: bad email, name or role.
    :raise Conflict: already a member here (`already_member`), or the email has an
        account elsewhere (`email_taken`: invite them instead, their password is theirs).
    """
    role, custom_role_id = roles.resolve(db, scope.org_id, role)
    name = accounts.validate_name(name)
    email = normalize_email(email)
    existing = db.scalar(select(User).where(User.email == email))
    if existing is not None:
        if db.scalar(select(Membership.id).where(Membership.org_id == scope.org_id,
                                                 Membership.user_id == existing.id)) is not None:
            raise AlreadyMember()
        raise Conflict("This email already has an idgate account. Invite them instead.", code="email_taken",
                       field="email")
    user = accounts.new_user(db, email=email, name=name, now=now)
    temporary = accounts.issue_temporary_password(user, passwords)
    user.last_org_id = scope.org_id
    db.flush()  # the user's id for the membership
    membership = add_member(db, db.get(Organization, scope.org_id), user, role=role, now=now)
    membership.custom_role_id = custom_role_id
    db.flush()
    record(db, scope.actor, AuditAction.USER_CREATE, now=now, org_id=scope.org_id, target_id=user.id,
           target_email=user.email, role=membership.role_name)
    return user, temporary


def reset_password(db: Session, scope: AdminScope, user_id, *, passwords: Passwords, now: datetime) -> str:
    """A fresh temporary password for a member, returned once; all their sessions end.

    Only for an account this organization alone holds: the password opens every organization the
    account belongs to, so an admin here must not be able to set it for someone who is also a
    member elsewhere.

    :raise NotFound: not a member here.
    :raise BadRequest: an SSO-only account has no password; your own password you change yourself.
    :raise Conflict: the account also belongs to another organization (`member_elsewhere`).
    """
    membership = get_member(db, scope, user_id, lock=True)
    user = membership.user
    if user.sso_only:
        raise BadRequest("This member signs in through single sign-on and has no password.", code="sso_only")
    if user.id == scope.actor.user_id:
        raise BadRequest("Change your own password on the password page.", code="self_reset")
    accounts.hold_account(db, user.id)  # no joining another organization while this is decided
    if db.scalar(select(Membership.id).where(Membership.user_id == user.id, Membership.org_id != scope.org_id)
                 .limit(1)) is not None:
        raise Conflict("This person also belongs to another organization, so their password is theirs to "
                       "change: ask them to change it, or deactivate them here.", code="member_elsewhere")
    temporary = accounts.issue_temporary_password(user, passwords)
    accounts.withdraw_reset_links(db, user.id)  # a "forgot password" link the member asked for dies with it
    ended = sessions.revoke_all_for(db, user.id, now=now)
    membership.version += 1
    record(db, scope.actor, AuditAction.USER_PASSWORD_RESET, now=now, org_id=scope.org_id,
           target_id=user.id, target_email=user.email, sessions_ended=ended)
    return temporary
