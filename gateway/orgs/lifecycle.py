"""Changing a member's standing: role, deactivate, reactivate, delete — and the rules that guard them.

Every rule lives here once; the admin console and the JSON API both call these functions.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gateway.accounts.models import User
from gateway.audit.actions import AuditAction
from gateway.audit.service import record
from gateway.errors import BadRequest, GatewayError
from gateway.mail import outbox
from gateway.orgs import roles
from gateway.orgs.access import AdminScope, get_member
from gateway.orgs.models import MemberStatus, Membership, Organization, Role
from gateway.sessions import services as sessions


class LastAdmin(GatewayError):
    code, status = "last_admin", 409
    message = "This is the last active admin of the organization. Make someone else an admin first."


class SelfDeactivation(GatewayError):
    code, status, message = "self_deactivation", 409, "You cannot deactivate yourself."


class UserHasSessions(GatewayError):
    code, status = "user_has_sessions", 409
    message = "This member is signed in right now. Deactivate them first, then delete."


class StaleConfirmation(GatewayError):
    code, status = "stale_confirmation", 409
    message = "This member changed since the confirmation was shown. Review them and confirm again."


def parse_role(value) -> Role:
    """A built-in role. :raise BadRequest: for anything but admin, auditor or user."""
    try:
        return Role(str(value).strip().lower())
    except ValueError:
        raise BadRequest("The role must be admin, auditor or user.", code="unknown_role", field="role") from None


def _lock_organization(db: Session, org_id: int) -> None:
    # Serializes every change that could remove an admin, per organization: two
    # admins demoting each other at the same instant queue here, and the second
    # counts after the first has committed. (SQLite has one writer anyway.)
    db.execute(select(Organization.id).where(Organization.id == org_id).with_for_update())


def _is_active_admin(membership: Membership) -> bool:
    return membership.role == Role.ADMIN and membership.status == MemberStatus.ACTIVE


def _ensure_not_last_active_admin(db: Session, membership: Membership) -> None:
    if not _is_active_admin(membership):
        return
    others = db.scalar(
        select(func.count()).select_from(Membership).where(
            Membership.org_id == membership.org_id,
            Membership.role == Role.ADMIN,
            Membership.status == MemberStatus.ACTIVE,
            Membership.id != membership.id,
        )
    )
    if others == 0:
        raise LastAdmin()


def _ensure_not_self(scope: AdminScope, membership: Membership) -> None:
    if membership.user_id == scope.actor.user_id:
        raise SelfDeactivation()


def _ensure_no_active_sessions(db: Session, membership: Membership, now: datetime) -> None:
    if sessions.count_active_for(db, membership.user_id, now=now, org_id=membership.org_id):
        raise UserHasSessions()


def _ensure_fresh(membership: Membership, expected_version) -> None:
    if expected_version is None:
        return
    try:
        expected = int(expected_version)
    except (TypeError, ValueError):
        raise StaleConfirmation() from None
    if expected != membership.version:
        raise StaleConfirmation()


def _target(membership: Membership) -> dict:
    return {"target_id": membership.user_id, "target_email": membership.user.email}


def change_role(db: Session, scope: AdminScope, user_id, role, *, now: datetime,
                group: str | None = None) -> Membership:
    """Give a member a role: admin, auditor, user or one of the organization's custom roles (a
    User's rights in the console, its name for apps); takes effect on their next request.

    `group`: the change follows that group's role mapping (gateway.groups.roles), said in the audit row.

    :raise BadRequest: unknown role. :raise NotFound: not a member here.
    :raise LastAdmin: demoting the last active admin.
    """
    role, custom_role_id = roles.resolve(db, scope.org_id, role)
    _lock_organization(db, scope.org_id)
    membership = get_member(db, scope, user_id, lock=True)
    if membership.role == role and membership.custom_role_id == custom_role_id:
        return membership
    if role != Role.ADMIN:
        _ensure_not_last_active_admin(db, membership)
    previous = membership.role_name
    membership.role, membership.custom_role_id = role, custom_role_id
    membership.version += 1
    db.flush()
    db.refresh(membership, ["custom_role"])
    record(db, scope.actor, AuditAction.MEMBER_ROLE_CHANGE, now=now, org_id=scope.org_id,
           **_target(membership), old_role=previous, new_role=membership.role_name,
           **({"group": group} if group is not None else {}))
    return membership


def deactivate(db: Session, scope: AdminScope, user_id, *, now: datetime) -> int:
    """Stop a member from using this organization; ends their sessions for it at once.

    Returns how many sessions ended. Their account and data stay.

    :raise NotFound, SelfDeactivation, LastAdmin:
    """
    _lock_organization(db, scope.org_id)
    membership = get_member(db, scope, user_id, lock=True)
    _ensure_not_self(scope, membership)
    if membership.status == MemberStatus.INACTIVE:
        return 0
    _ensure_not_last_active_admin(db, membership)
    membership.status = MemberStatus.INACTIVE
    membership.version += 1
    ended = sessions.revoke_all_for(db, membership.user_id, now=now, org_id=scope.org_id)
    record(db, scope.actor, AuditAction.USER_DEACTIVATE, now=now, org_id=scope.org_id,
           **_target(membership), sessions_ended=ended)
    return ended


def reactivate(db: Session, scope: AdminScope, user_id, *, now: datetime) -> Membership:
    """Let a deactivated member sign in again, with the credentials they had.

    :raise NotFound:
    """
    membership = get_member(db, scope, user_id, lock=True)
    if membership.status == MemberStatus.ACTIVE:
        return membership
    membership.status = MemberStatus.ACTIVE
    membership.version += 1
    record(db, scope.actor, AuditAction.USER_REACTIVATE, now=now, org_id=scope.org_id, **_target(membership))
    return membership


def delete(db: Session, scope: AdminScope, user_id, *, expected_version=None, now: datetime) -> bool:
    """Remove a member from the organization, and their account when nothing else holds it.

    Returns True when the account itself was deleted. Audit events about them
    stay, with the email as it was. The removed person is told by mail.

    :raise NotFound, StaleConfirmation, UserHasSessions, LastAdmin:
    """
    _lock_organization(db, scope.org_id)
    membership = get_member(db, scope, user_id, lock=True)
    _ensure_fresh(membership, expected_version)
    _ensure_no_active_sessions(db, membership, now)
    _ensure_not_last_active_admin(db, membership)

    user = membership.user
    email, name = user.email, user.name
    db.delete(membership)
    db.flush()  # so that the count below no longer sees this membership
    remaining = db.scalar(select(func.count()).select_from(Membership).where(Membership.user_id == user.id))
    account_deleted = remaining == 0
    if account_deleted:
        db.delete(user)
    elif user.last_org_id == scope.org_id:
        db.execute(update(User).where(User.id == user.id).values(last_org_id=None))
    record(db, scope.actor, AuditAction.USER_DELETE, now=now, org_id=scope.org_id,
           target_id=int(user_id), target_email=email, account_deleted=account_deleted)
    outbox.enqueue(
        db, recipient=email, now=now,
        subject=f"You were removed from {scope.org_name}",
        body=(f"Hello {name},\n\nan administrator removed you from {scope.org_name} on idgate. "
              "You can no longer sign in to its applications.\n\nIf you think this is a mistake, "
              "contact your administrator.\n"),
    )
    return account_deleted
