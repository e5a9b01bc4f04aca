"""Account rules: sign-up, users with temporary passwords, sign-in, password changes."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from gateway.accounts.emails import normalize_email
from gateway.accounts.models import PasswordReset, User
from gateway.accounts.passwords import Passwords, generate_temporary_password, policy_problems
from gateway.actor import Actor
from gateway.audit.actions import AuditAction
from gateway.audit.service import record
from gateway.config import Settings, Signup
from gateway.mfa import policy
from gateway.errors import (BadRequest, Conflict, Forbidden, GatewayError, InvalidCredentials, NotFound,
                            PolicyViolation, about)
from gateway.orgs import services as orgs
from gateway.orgs.models import MemberStatus, Membership, Organization, Role
from gateway.sessions import services as sessions
from gateway.sessions.models import UserSession


class SignupClosed(GatewayError):
    code, status, message = "signup_closed", 403, "Sign-up is closed on this gateway. Ask an admin for an invitation."


class NoActiveMembership(GatewayError):
    code, status, message = "no_active_membership", 403, "Your account has no active organization. Ask an admin."
    recorded = True  # after the audit row of the refused sign-in


class SsoOnly(GatewayError):
    code, status, message = "sso_only", 400, "This account signs in through single sign-on. Use “Continue with SSO”."


@dataclass(frozen=True)
class SignIn:
    """A started session: the token goes into the cookie, `owes` says where to send the user."""

    token: str
    session: sessions.StartedSession

    @property
    def restricted(self) -> bool:
        return self.session.restricted

    @property
    def owes(self) -> str | None:
        return self.session.owes


def validate_name(name: str) -> str:
    """:raise BadRequest: unless 3 to 40 characters once surrounding spaces are gone."""
    name = " ".join((name or "").split())
    if not 3 <= len(name) <= 40:
        raise BadRequest("A name takes 3 to 40 characters.", code="invalid_name", field="name")
    # Names travel in X-Auth-Name headers: no control or format characters.
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise BadRequest("A name cannot contain control characters.", code="invalid_name", field="name")
    return name


def check_password_policy(password: str, *, email: str, name: str, settings: Settings) -> None:
    """:raise PolicyViolation: listing every rule the password misses."""
    problems = policy_problems(password, email=email, name=name, min_length=settings.password_min_length)
    if problems:
        raise PolicyViolation(problems)


def new_user(db: Session, *, email: str, name: str, now: datetime) -> User:
    """A new account with no credential yet.

    :raise BadRequest: bad email or name. :raise Conflict: the email has an account.
    """
    email, name = normalize_email(email), validate_name(name)
    if db.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("An account with this email already exists.", code="email_taken", field="email")
    user = User(email=email, name=name, created_at=now)
    db.add(user)
    return user


def hold_account(db: Session, user_id: int) -> None:
    """Lock the account's row until the transaction ends.

    A password reset by an admin, allowed only for an account their organization alone holds, and
    the account joining another organization both take it first, so neither acts on what the other
    is changing. (PostgreSQL's row lock; on SQLite, a transaction whose reads another's commit made
    stale is refused its writes.)
    """
    db.execute(select(User.id).where(User.id == user_id).with_for_update())


def withdraw_reset_links(db: Session, user_id: int) -> int:
    """End the account's open "forgot password" links (gateway.accounts.recovery); returns how many.

    A newer link, a temporary password an admin issues or the account signs in with, and any change
    of the password each end them: of a reset link and a temporary password, whichever is used first
    ends the other.
    """
    return db.execute(delete(PasswordReset).where(PasswordReset.user_id == user_id,
                                                  PasswordReset.used_at.is_(None))).rowcount


def issue_temporary_password(user: User, passwords: Passwords) -> str:
    """Give the user a fresh temporary password; returns it once, stores only its hash."""
    temporary = generate_temporary_password()
    user.password_hash = passwords.hash(temporary)
    user.must_change_password = True
    return temporary


def signup_is_open(db: Session, settings: Settings) -> bool:
    """IDGATE_SIGNUP: `open`, `closed`, or `first` (only while no organization exists)."""
    if settings.signup is Signup.FIRST:
        return not orgs.any_organization_exists(db)
    return settings.signup is Signup.OPEN


def sign_up(
    db: Session, *, org_slug: str, org_name: str, email: str, name: str, password: str,
    passwords: Passwords, actor: Actor, settings: Settings, now: datetime,
) -> SignIn:
    """Create an organization with its first admin, who chose their own password, and sign them in.

    :raise SignupClosed: per IDGATE_SIGNUP (`first` allows it only while no organization exists).
    :raise BadRequest, Conflict, PolicyViolation: for bad or taken input.
    """
    if not signup_is_open(db, settings):
        raise SignupClosed()
    org, user = _organization_with_its_first_admin(db, slug=org_slug, name=org_name, admin_email=email,
                                                   admin_name=name, now=now)
    check_password_policy(password, email=user.email, name=user.name, settings=settings)
    user.password_hash = passwords.hash(password)
    user.last_login_at = now
    actor = actor.as_user(user.id, user.email, org.id)
    record(db, actor, AuditAction.ORG_CREATE, now=now, slug=org.slug)
    record(db, actor, AuditAction.USER_SIGNUP, now=now, target_id=user.id, target_email=user.email)
    token, session = sessions.start(db, user.id, org_id=org.id, amr=policy.PWD, actor=actor,
                                    settings=settings, now=now)
    return SignIn(token, session)


def _organization_with_its_first_admin(db: Session, *, slug: str, name: str, admin_email: str, admin_name: str,
                                       now: datetime) -> tuple[Organization, User]:
    """:raise BadRequest, Conflict: for a bad or taken slug, name or email."""
    org = orgs.create_org(db, slug=slug, name=name, now=now)
    user = new_user(db, email=admin_email, name=admin_name, now=now)
    user.last_org_id = org.id
    db.flush()  # ids for the membership and the audit rows
    orgs.add_member(db, org, user, role=Role.ADMIN, now=now)
    return org, user


def create_org_with_admin(
    db: Session, *, slug: str, name: str, admin_email: str, admin_name: str,
    passwords: Passwords, actor: Actor, now: datetime,
) -> tuple[User, str]:
    """Create an organization and its admin with a temporary password; returns that password once."""
    org, user = _organization_with_its_first_admin(db, slug=slug, name=name, admin_email=admin_email,
                                                   admin_name=admin_name, now=now)
    temporary = issue_temporary_password(user, passwords)
    record(db, actor, AuditAction.ORG_CREATE, now=now, org_id=org.id, slug=org.slug)
    record(db, actor, AuditAction.USER_CREATE, now=now, org_id=org.id, target_id=user.id,
           target_email=user.email, role=str(Role.ADMIN))
    return user, temporary


def _home_org_id(db: Session, user: User | None) -> int | None:
    """The organization whose admins see this account's sign-in failures."""
    if user is None:
        return None
    if user.last_org_id is not None:
        return user.last_org_id
    membership = orgs.membership_to_use(db, user)
    return membership.org_id if membership else None


def home_org_of(db: Session, email: str | None) -> int | None:
    """The organization whose admins see a throttled sign-in naming `email` (None: no such account)."""
    try:
        normalized = normalize_email(email) if email else None
    except BadRequest:
        return None
    user = db.scalar(select(User).where(User.email == normalized)) if normalized else None
    return _home_org_id(db, user)


def sign_in_with_password(
    db: Session, *, email: str, password: str, passwords: Passwords, actor: Actor,
    settings: Settings, now: datetime,
) -> SignIn:
    """Check an email and password and start a session.

    Unknown email and wrong password cost one argon2 verification each and fail
    with the same InvalidCredentials. A temporary password opens a restricted session.

    :raise InvalidCredentials, SsoOnly, NoActiveMembership:
    """
    try:
        normalized = normalize_email(email)
    except BadRequest:
        normalized = None
    user = db.scalar(select(User).where(User.email == normalized)) if normalized else None
    if user is not None and user.sso_only:
        raise SsoOnly()
    if not passwords.verify(user.password_hash if user else None, password):
        record(db, actor, AuditAction.LOGIN_FAILURE, now=now, org_id=_home_org_id(db, user),
               target_id=user.id if user else None, target_email=normalized,
               reason="wrong_password" if user else "unknown_email")
        raise InvalidCredentials()

    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash(password)
    if user.must_change_password:
        withdraw_reset_links(db, user.id)  # the temporary password was used first: a pending link dies
    return start_signed_in(db, user, amr=policy.PWD, actor=actor, settings=settings, now=now, method="password",
                           temporary=user.must_change_password)


def start_signed_in(db: Session, user: User, *, amr: str, actor: Actor, settings: Settings, now: datetime,
                    **audited) -> SignIn:
    """The session of an account that just proved itself (`amr` says how), in the organization it
    works in, owing what policy.owed says; audited with `audited` (the method, …).

    :raise NoActiveMembership: (audited) no organization to work in.
    """
    membership = orgs.membership_to_use(db, user)
    if membership is None:
        record(db, actor, AuditAction.LOGIN_FAILURE, now=now, org_id=user.last_org_id, target_id=user.id,
               target_email=user.email, reason="no_active_membership")
        raise NoActiveMembership()
    actor = actor.as_user(user.id, user.email, membership.org_id)
    user.last_login_at = now
    user.last_org_id = membership.org_id
    owes = policy.owed(db, user, membership.org_id, policy.amr_of(amr))
    token, session = sessions.start(db, user.id, org_id=membership.org_id, amr=amr, owes=owes,
                                    actor=actor, settings=settings, now=now)
    record(db, actor, AuditAction.LOGIN_SUCCESS, now=now, target_id=user.id, target_email=user.email,
           owes=owes, **audited)
    return SignIn(token, session)


def change_password(
    db: Session, *, user_id: int, session_id: int, current_password: str | None, new_password: str,
    passwords: Passwords, actor: Actor, settings: Settings, now: datetime,
) -> SignIn:
    """Set a new password, end every other session and replace the caller's token.

    A session that still owes the change of a temporary password proved that
    password moments ago and is not asked for it again; any other must give
    the current password.

    :raise InvalidCredentials: the current password is wrong.
    :raise PolicyViolation: the new one breaks the policy or equals the old one.
    :raise SsoOnly: SSO-only accounts have no password to change.
    """
    user = db.get(User, user_id)
    session = db.get(UserSession, session_id)
    if user.sso_only or user.password_hash is None:
        raise SsoOnly()
    if session.owes != policy.Owed.PASSWORD_CHANGE and not passwords.verify(user.password_hash, current_password or ""):
        # In the audit log, and counted against the account (gateway.limits): a stolen session
        # must not be a place to guess the password at leisure.
        record(db, actor, AuditAction.PASSWORD_CHANGE_FAILURE, now=now, target_id=user.id, target_email=user.email,
               reason="wrong_current_password")
        raise InvalidCredentials("Your current password is not right.", field="current_password")
    with about("new_password"):
        check_password_policy(new_password, email=user.email, name=user.name, settings=settings)
        if passwords.verify(user.password_hash, new_password):
            raise PolicyViolation(["Choose a password different from the one you have now."])

    was_temporary = user.must_change_password
    user.password_hash = passwords.hash(new_password)
    user.must_change_password = False
    withdraw_reset_links(db, user.id)
    sessions.revoke_all_for(db, user.id, now=now)
    # The password was just proved; a second factor the session used stays used.
    amr = policy.with_methods(policy.amr_of(session.amr), policy.PWD)
    token, new_session = sessions.start(db, user.id, org_id=session.org_id, amr=amr,
                                        owes=policy.owed(db, user, session.org_id, policy.amr_of(amr)),
                                        actor=actor, settings=settings, now=now)
    action = AuditAction.PASSWORD_TEMPORARY_CHANGE if was_temporary else AuditAction.PASSWORD_CHANGE
    record(db, actor, action, now=now, target_id=user.id, target_email=user.email)
    return SignIn(token, new_session)


def sign_out(db: Session, *, session_id: int, actor: Actor, now: datetime) -> None:
    sessions.revoke(db, session_id, now=now)
    record(db, actor, AuditAction.LOGOUT, now=now, target_id=actor.user_id, target_email=actor.email)



def owe_what_the_organization_requires(db: Session, user_id: int, session_id: int, org_id: int) -> None:
    """An organization that requires a second factor asks for one in this session if none was used."""
    session = db.get(UserSession, session_id)
    if session.sso_org_id is None and session.owes is None:
        owes = policy.owed(db, db.get(User, user_id), org_id, policy.amr_of(session.amr))
        if owes is not None:
            sessions.set_owed(db, session_id, owes)


class SsoSessionPinned(Forbidden):
    code = "sso_session"
    message = ("You signed in through your organization's single sign-on, which vouches for that organization "
               "only. Sign out, then sign in to the other one the way it asks.")


def switch_organization(db: Session, *, user_id: int, session_id: int, org_slug: str, actor: Actor,
                        now: datetime) -> None:
    """Work in another of the user's organizations without signing out.

    :raise NotFound: not an active member there (the same answer whether or not it exists).
    """
    membership = db.scalar(
        select(Membership).join(Organization, Organization.id == Membership.org_id)
        .where(Membership.user_id == user_id, Organization.slug == (org_slug or "").strip(),
               Membership.status == MemberStatus.ACTIVE)
    )
    if membership is None:
        raise NotFound("You are not an active member of that organization.", code="not_a_member")
    if not sessions.switch_org(db, session_id, membership.org_id):
        raise SsoSessionPinned()
    owe_what_the_organization_requires(db, user_id, session_id, membership.org_id)
    db.execute(update(User).where(User.id == user_id).values(last_org_id=membership.org_id))
    record(db, actor, AuditAction.MEMBER_SWITCH_ORG, now=now, org_id=membership.org_id,
           target_id=user_id, target_email=actor.email, from_org_id=actor.org_id)
