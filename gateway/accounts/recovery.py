"""Forgot password: a single-use link by email, and the new password set through it.

The link is `<base>/password/reset/<code>`: the code carries 256 bits from `secrets`, the table
keeps only its SHA-256 (gateway.accounts.models.PasswordReset). It lives RESET_TTL, works once, and
dies when a newer one is asked for, when an admin issues a temporary password, or when the password
changes any other way (accounts.services.withdraw_reset_links).

Asking for a link answers the same, in the same time, whatever was typed (no account enumeration):
every branch looks the address up, makes a code and hashes it, clears the account's older links
(none, for no account), writes one audit row and starts one thread for the mail; only what is
queued for the mail differs, and the mail is delivered on that thread, off the response's time.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, exists, insert, or_, select, update
from sqlalchemy.orm import Session

from gateway.accounts import services as accounts
from gateway.accounts.emails import normalize_email
from gateway.accounts.models import PasswordReset, User
from gateway.accounts.passwords import Passwords
from gateway.actor import Actor
from gateway.audit.actions import AuditAction
from gateway.audit.service import record
from gateway.config import Settings
from gateway.db import core_execute
from gateway.errors import GatewayError, about
from gateway.mail import outbox
from gateway.orgs.models import MemberStatus, Membership
from gateway.sessions import services as sessions

RESET_TTL = timedelta(hours=1)
# Longer is no code of ours (43 characters of base64url), and is not even hashed.
MAX_CODE_LENGTH = 128


class ResetLinkInvalid(GatewayError):
    # One answer for unknown, expired, used and withdrawn links: it tells nothing about whose it was.
    code, status = "reset_link_invalid", 404
    message = ("This password reset link is not valid. It may have expired, been used, or been replaced "
               "by a newer one. Ask for a new link on the sign-in page.")


class Outcome(StrEnum):
    """What a request for a link did (in its audit row only: never in the answer)."""

    LINK_SENT = "link_sent"
    SSO_ONLY = "sso_only"  # mailed: sign in through your organization's IdP
    NO_ACCOUNT = "no_account"
    INACTIVE = "inactive"  # deactivated in every organization: nothing that would let them in


@dataclass(frozen=True)
class Requested:
    outcome: Outcome
    code: str | None  # the link's code when one was sent (tests and the bench read the mail instead)


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()


def reset_link(settings: Settings, code: str) -> str:
    return f"{settings.base_url}/password/reset/{code}"


# Built once, bound per call: plain INSERTs, none of the ORM's unit of work (its first flush in a
# request costs more than the difference the answers may show).
_ISSUE = insert(PasswordReset.__table__)
_ACTIVE = exists().where(Membership.user_id == User.id, Membership.status == MemberStatus.ACTIVE)


def request_link(db: Session, email: str, *, actor: Actor, settings: Settings, now: datetime) -> Requested:
    """Send a reset link to a password account's address, a pointer to single sign-on to an SSO-only
    one, nothing otherwise; the caller answers the same page in every case.

    :raise BadRequest: `invalid_email` when the text is no email address (the form says so; that
    tells nothing about any account).
    """
    email = normalize_email(email)
    found = db.execute(select(User, _ACTIVE).where(User.email == email)).first()
    user, active = (found[0], found[1]) if found else (None, False)
    outcome = (Outcome.NO_ACCOUNT if user is None else Outcome.INACTIVE if not active
               else Outcome.SSO_ONLY if user.sso_only else Outcome.LINK_SENT)
    # The same work on every branch: a code and its hash, and the older links cleared (of no
    # account: none), whether or not a link goes out.
    code = secrets.token_urlsafe(32)
    code_hash = hash_code(code)
    accounts.withdraw_reset_links(db, user.id if user is not None else 0)
    if outcome is Outcome.LINK_SENT:
        core_execute(db, _ISSUE, {"user_id": user.id, "code_hash": code_hash, "created_at": now,
                                  "expires_at": now + RESET_TTL, "used_at": None})
        outbox.queue_quietly(db, recipient=email, now=now, subject="Reset your idgate password", body=(
            f"Hello {user.name},\n\nsomeone (we hope you) asked to reset the password of your idgate account.\n\n"
            f"Open this link within 1 hour to choose a new password. It works once:\n"
            f"{reset_link(settings, code)}\n\n"
            "If you did not ask for it, ignore this mail: your password stays as it is.\n"))
    elif outcome is Outcome.SSO_ONLY:
        outbox.queue_quietly(db, recipient=email, now=now, subject="Signing in to idgate", body=(
            f"Hello {user.name},\n\nsomeone (we hope you) asked to reset the password of your idgate account.\n\n"
            "Your account has no idgate password: you sign in through your organization's single sign-on. "
            f"Use “Continue with SSO” on {settings.base_url}/login, and if you forgot the password of your "
            "organization's sign-in, ask your organization's IT.\n"))
    else:
        outbox.deliver_in_background(db)  # the one thread every answer starts, mail or none
    record(db, actor, AuditAction.PASSWORD_RESET_REQUEST, now=now,
           org_id=user.last_org_id if user is not None else None,
           target_id=user.id if user is not None else None, target_email=email, outcome=str(outcome))
    return Requested(outcome, code if outcome is Outcome.LINK_SENT else None)


def find_valid(db: Session, code: str | None, *, now: datetime) -> PasswordReset:
    """The open link of this code. :raise ResetLinkInvalid: unknown, expired, used or withdrawn."""
    if not code or len(code) > MAX_CODE_LENGTH:
        raise ResetLinkInvalid()
    reset = db.scalar(select(PasswordReset).where(PasswordReset.code_hash == hash_code(code)))
    if reset is None or reset.used_at is not None or now >= reset.expires_at:
        raise ResetLinkInvalid()
    return reset


def _claim(db: Session, reset: PasswordReset, now: datetime) -> None:
    # Single use, decided by the database: of two requests racing with one link, only the one whose
    # UPDATE found it unused goes on (PostgreSQL makes the second wait for the first's commit, then
    # re-reads the row and finds it used); the other sees rowcount 0.
    claimed = db.execute(update(PasswordReset).where(
        PasswordReset.id == reset.id, PasswordReset.used_at.is_(None), PasswordReset.expires_at > now,
    ).values(used_at=now)).rowcount
    if claimed != 1:
        raise ResetLinkInvalid()


def reset_password(
    db: Session, code: str | None, *, new_password: str, passwords: Passwords, actor: Actor, settings: Settings,
    now: datetime,
) -> User:
    """Set the account's password through its link: the link is used up, every session of the account
    ends (on every worker, through the usual path), a temporary password an admin issued is gone, and
    the account is told by mail. No session starts: the person signs in next, with their second factor
    where the account has one or an organization requires one.

    :raise ResetLinkInvalid: (also when the account has since become SSO-only or inactive everywhere)
    :raise PolicyViolation: the new password breaks the policy.
    """
    reset = find_valid(db, code, now=now)
    user = db.get(User, reset.user_id)
    if user.sso_only or not db.scalar(select(_ACTIVE).where(User.id == user.id)):
        raise ResetLinkInvalid()
    with about("new_password"):
        accounts.check_password_policy(new_password, email=user.email, name=user.name, settings=settings)
    _claim(db, reset, now)
    accounts.hold_account(db, user.id)  # not while an admin elsewhere resets the password (orgs.members)
    user.password_hash = passwords.hash(new_password)
    user.must_change_password = False  # a temporary password an admin issued ends here
    if user.email_verified_at is None:
        user.email_verified_at = now  # the link was sent to this address and came back
    accounts.withdraw_reset_links(db, user.id)
    ended = sessions.revoke_all_for(db, user.id, now=now)
    record(db, actor.as_user(user.id, user.email, user.last_org_id), AuditAction.PASSWORD_RESET, now=now,
           org_id=user.last_org_id, target_id=user.id, target_email=user.email, sessions_ended=ended)
    outbox.enqueue(db, recipient=user.email, now=now, subject="Your idgate password was changed", body=(
        f"Hello {user.name},\n\nthe password of your idgate account was just changed through a reset link "
        f"sent to this address, and every place you were signed in was signed out.\n\n"
        "If that was not you, tell an admin of your organization at once.\n"))
    return user



def forget_spent(db: Session, *, before: datetime) -> int:
    """Delete links used or expired before `before` (housekeeping); returns how many."""
    return db.execute(delete(PasswordReset).where(or_(PasswordReset.used_at < before,
                                                      PasswordReset.expires_at < before))).rowcount
