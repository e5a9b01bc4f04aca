"""Second-factor rules: the second step of a sign-in, adding and removing an authenticator app or
passkeys, a sign-in with a passkey alone, recovery codes, an organization's requirement, and an
admin's reset of a member's factors."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.orm import Session

from gateway.accounts import services as accounts
from gateway.accounts.models import User
from gateway.actor import Actor
from gateway.audit.actions import AuditAction
from gateway.audit.service import record
from gateway.config import Settings
from gateway.db import core_execute
from gateway.errors import BadRequest, Conflict, Forbidden, NotFound
from gateway.mail import outbox
from gateway.mfa import passkeys, policy, recovery, totp
from gateway.mfa.models import Passkey, RecoveryCode, TotpFactor
from gateway.mfa.passkeys import PasskeyRefused, Purpose
from gateway.mfa.policy import HWK, OTP, USER, Owed
from gateway.mfa.totp import WrongCode
from gateway.orgs.access import AdminScope, get_member
from gateway.orgs.models import Membership, Organization
from gateway.sessions import services as sessions
from gateway.sessions.models import UserSession


@dataclass(frozen=True)
class Factors:
    """What an account has, as its owner and its admins see it."""

    totp: bool
    recovery_codes_left: int
    passkeys: int = 0

    @property
    def any(self) -> bool:
        return self.totp or self.passkeys > 0

    @property
    def summary(self) -> str:
        """"Authenticator app, 2 passkeys", or "" (the team list and a member's page)."""
        kinds = ["Authenticator app"] if self.totp else []
        if self.passkeys:
            kinds.append("1 passkey" if self.passkeys == 1 else f"{self.passkeys} passkeys")
        return ", ".join(kinds)

    @property
    def short(self) -> str:
        """"App", "Passkey", "App, passkey" (a column of the team list)."""
        kinds = (["App"] if self.totp else []) + (["passkey"] if self.passkeys else [])
        return ", ".join(kinds).capitalize()


_totp, _codes, _passkeys = TotpFactor.__table__, RecoveryCode.__table__, Passkey.__table__
# Built once, bound per call, one statement for the three: the second step's page (the answer to
# every password that owes one) and the security page show them.
_FACTORS = select(
    exists().where(_totp.c.user_id == bindparam("user_id"), _totp.c.confirmed_at.is_not(None)),
    select(func.count()).where(_codes.c.user_id == bindparam("user_id"), _codes.c.used_at.is_(None))
    .scalar_subquery(),
    select(func.count()).where(_passkeys.c.user_id == bindparam("user_id")).scalar_subquery(),
)


def factors_of(db: Session, user_id: int) -> Factors:
    db.flush()  # (a prebuilt statement: a factor this transaction added or removed is what it counts)
    has_totp, codes_left, keys = core_execute(db, _FACTORS, {"user_id": user_id}).first()
    return Factors(totp=bool(has_totp), recovery_codes_left=codes_left, passkeys=keys)


def factors_of_members(db: Session, user_ids) -> dict[int, Factors]:
    """Factors of several accounts at once (the team list)."""
    ids = list(user_ids)
    with_totp = set(db.scalars(select(TotpFactor.user_id).where(TotpFactor.user_id.in_(ids),
                                                                 TotpFactor.confirmed_at.is_not(None))))
    codes_left = dict(db.execute(select(RecoveryCode.user_id, func.count()).where(
        RecoveryCode.user_id.in_(ids), RecoveryCode.used_at.is_(None)).group_by(RecoveryCode.user_id)).all())
    keys = dict(db.execute(select(Passkey.user_id, func.count()).where(Passkey.user_id.in_(ids))
                           .group_by(Passkey.user_id)).all())
    return {user_id: Factors(user_id in with_totp, codes_left.get(user_id, 0), keys.get(user_id, 0))
            for user_id in ids}


def is_sso_session(db: Session, session_id: int) -> bool:
    """Whether the session came through an organization's IdP, whose business second factors are."""
    return db.get(UserSession, session_id).sso_org_id is not None


@dataclass(frozen=True)
class _Session:
    """What the rules here read of the caller's session (a row, not a loaded UserSession)."""

    id: int
    org_id: int | None
    amr: str


@dataclass(frozen=True)
class _Account:
    """What the rules here read of its account (a row, not a loaded User)."""

    id: int
    email: str
    name: str
    must_change_password: bool


_sessions, _users = UserSession.__table__, User.__table__
# Built once, bound per call: every second step starts here (the ORM's two loads cost several times more).
_SESSION_AND_ACCOUNT = (
    select(_sessions.c.id, _sessions.c.org_id, _sessions.c.amr, _sessions.c.sso_org_id, _users.c.id,
           _users.c.email, _users.c.name, _users.c.must_change_password)
    .join(_users, _users.c.id == _sessions.c.user_id)
    .where(_sessions.c.id == bindparam("session_id"))
)


def _password_account(db: Session, session_id: int) -> tuple[_Session, _Account]:
    """The session and its account, for what only a password account's own session may do here.

    :raise BadRequest: an SSO session (`sso_session`). :raise SessionEnded: the session is gone.
    """
    db.flush()  # (a prebuilt statement: a change this transaction made to either row is what it reads)
    found = core_execute(db, _SESSION_AND_ACCOUNT, {"session_id": session_id}).first()
    if found is None:  # deleted since this request was let in (its account deleted meanwhile)
        raise sessions.SessionEnded()
    session_id_, org_id, amr, sso_org_id, user_id, email, name, must_change = found
    if sso_org_id is not None:
        raise BadRequest("You signed in through your organization's single sign-on: second factors are its "
                         "business.", code="sso_session")
    return _Session(session_id_, org_id, amr), _Account(user_id, email, name, must_change)


def _proved(db: Session, session: _Session, user: _Account, method: str, *, actor: Actor, settings: Settings,
            now: datetime) -> accounts.SignIn:
    """The session just proved `method` (RFC 8176): a new token that says so, owing what is left."""
    amr = policy.with_methods(policy.amr_of(session.amr), method)
    owes = policy.owed(db, user, session.org_id, policy.amr_of(amr))
    token, started = sessions.replace(db, session.id, amr=amr, owes=owes, actor=actor, settings=settings, now=now)
    return accounts.SignIn(token, started)


def _codes_for_a_first_factor(db: Session, user_id: int, *, now: datetime) -> list[str]:
    """Ten recovery codes (shown once) when the account has none yet: its first factor was just added."""
    return recovery.issue(db, user_id, now=now) if recovery.remaining(db, user_id) == 0 else []


# -- the second step of a sign-in ------------------------------------------------------------

class RefusedCode(WrongCode):
    recorded = True  # after the audit row of the refused code

def second_step(db: Session, session_id: int, code: str, *, actor: Actor, settings: Settings,
                now: datetime) -> accounts.SignIn:
    """A code from the authenticator app, or a recovery code: the session gets a new token that
    says a second factor was used (`amr` with otp and mfa).

    :raise BadRequest: not shaped like either code (`invalid_code`).
    :raise WrongCode: not right, or used already (audited; counted against the account).
    """
    session, user = _password_account(db, session_id)
    if recovery.looks_like_one(code):
        accepted, method = recovery.use(db, user.id, code, now=now), "recovery_code"
    else:
        accepted, method = totp.verify(db, user.id, code, certs_dir=settings.certs_dir, now=now), "totp"
    if not accepted:
        record(db, actor, AuditAction.MFA_FAILURE, now=now, org_id=session.org_id, target_id=user.id,
               target_email=user.email, method=method)
        raise RefusedCode()
    if method == "recovery_code":
        _recovery_code_used(db, user, actor=actor, now=now)
    sign_in = _proved(db, session, user, OTP, actor=actor, settings=settings, now=now)
    record(db, actor, AuditAction.MFA_SUCCESS, now=now, org_id=session.org_id, target_id=user.id,
           target_email=user.email, method=method)
    return sign_in


def _recovery_code_used(db: Session, user: _Account, *, actor: Actor, now: datetime) -> None:
    left = recovery.remaining(db, user.id)
    record(db, actor, AuditAction.MFA_RECOVERY_CODE_USED, now=now, target_id=user.id, target_email=user.email,
           codes_left=left)
    outbox.enqueue(
        db, recipient=user.email, now=now, subject="A recovery code was used to sign in",
        body=(f"Hello {user.name},\n\none of your idgate recovery codes was just used to sign in "
              f"({left} left). If that was you, consider adding your authenticator app again and making new "
              "codes on your security page.\n\nIf it was not you, change your password at once and tell "
              "your administrator.\n"),
    )


# -- the authenticator app -------------------------------------------------------------------

def start_totp(db: Session, session_id: int, *, settings: Settings, now: datetime) -> totp.Enrolment:
    """A secret for the signed-in account's app, waiting for its first code (see confirm_totp)."""
    session, user = _password_account(db, session_id)
    return totp.begin(db, user.id, user.email, certs_dir=settings.certs_dir, now=now)


@dataclass(frozen=True)
class Added:
    sign_in: accounts.SignIn
    recovery_codes: list[str]  # shown once; empty when the account had codes already


def confirm_totp(db: Session, session_id: int, code: str, *, actor: Actor, settings: Settings,
                 now: datetime) -> Added:
    """The app's first code makes it count. The first factor of an account brings ten recovery
    codes (shown once), and the session, which just used it, gets a new token that says so.

    :raise BadRequest, WrongCode: see totp.confirm.
    """
    session, user = _password_account(db, session_id)
    totp.confirm(db, user.id, code, certs_dir=settings.certs_dir, now=now)
    codes = _codes_for_a_first_factor(db, user.id, now=now)
    record(db, actor, AuditAction.MFA_TOTP_ADD, now=now, org_id=session.org_id, target_id=user.id,
           target_email=user.email, recovery_codes=len(codes))
    return Added(_proved(db, session, user, OTP, actor=actor, settings=settings, now=now), codes)


class FactorRequired(Forbidden):
    code = "mfa_required"
    message = "Your organization requires a second factor: add another before removing this one."


def remove_totp(db: Session, session_id: int, *, actor: Actor, now: datetime) -> None:
    """Remove the account's app (and, with it gone, its recovery codes).

    :raise FactorRequired: an organization of the account requires a second factor.
    """
    session, user = _password_account(db, session_id)
    if totp.enrolled(db, user.id) is not None:
        _ensure_a_factor_stays(db, user.id, left=replace(factors_of(db, user.id), totp=False))
    if totp.remove(db, user.id):
        _without_factors_no_codes(db, user.id)
        record(db, actor, AuditAction.MFA_TOTP_REMOVE, now=now, org_id=session.org_id, target_id=user.id,
               target_email=user.email)


def _ensure_a_factor_stays(db: Session, user_id: int, *, left: Factors) -> None:
    """:raise FactorRequired: the account would keep no factor, and an organization of it requires one."""
    if not left.any and _an_organization_requires_one(db, user_id):
        raise FactorRequired()


def _without_factors_no_codes(db: Session, user_id: int) -> None:
    # Recovery codes stand in for a factor: with the last one gone they would be a password's twin.
    if not factors_of(db, user_id).any:
        recovery.discard(db, user_id)


def _an_organization_requires_one(db: Session, user_id: int) -> bool:
    return db.scalar(select(Organization.id).join(Membership, Membership.org_id == Organization.id)
                     .where(Membership.user_id == user_id, Organization.mfa_required).limit(1)) is not None


def new_recovery_codes(db: Session, session_id: int, *, actor: Actor, now: datetime) -> list[str]:
    """Ten new codes (shown once); the old ones stop working.

    :raise BadRequest: the account has no second factor to recover.
    """
    session, user = _password_account(db, session_id)
    if not factors_of(db, user.id).any:
        raise BadRequest("Add an authenticator app or a passkey first: recovery codes stand in for them.",
                         code="no_factor")
    codes = recovery.issue(db, user.id, now=now)
    record(db, actor, AuditAction.MFA_RECOVERY_CODES_NEW, now=now, org_id=session.org_id, target_id=user.id,
           target_email=user.email)
    return codes


# -- passkeys ------------------------------------------------------------------------------

def relying_party(settings: Settings) -> passkeys.RelyingParty:
    """:raise NotAvailable: the gateway is served at an IP address no browser takes as an rpId."""
    rp = passkeys.relying_party(settings.base_url)
    if rp is None:
        raise passkeys.NotAvailable()
    return rp


def passkey_registration_options(db: Session, session_id: int, *, settings: Settings, now: datetime) -> dict:
    """The options for making a passkey for the signed-in account (navigator.credentials.create)."""
    session, user = _password_account(db, session_id)
    return passkeys.registration_options(db, user_id=user.id, email=user.email, display_name=user.name,
                                         session_id=session_id, rp=relying_party(settings), now=now)


def add_passkey(db: Session, session_id: int, answer: str | None, name: str | None, *, actor: Actor,
                settings: Settings, now: datetime) -> Added:
    """Keep the passkey the browser made. As with an authenticator app, the first factor of an
    account brings ten recovery codes (shown once), and the session, which just used the passkey,
    gets a new token that says so (`amr` with hwk).

    :raise BadRequest, PasskeyKnown: see passkeys.register (nothing is kept).
    """
    session, user = _password_account(db, session_id)
    name = passkeys.clean_name(name, user_id=user.id, db=db)
    passkey = passkeys.register(db, user_id=user.id, session_id=session_id, answer=answer, name=name,
                                rp=relying_party(settings), now=now)
    codes = _codes_for_a_first_factor(db, user.id, now=now)
    record(db, actor, AuditAction.MFA_PASSKEY_ADD, now=now, org_id=session.org_id, target_id=user.id,
           target_email=user.email, passkey_id=passkey.id, name=passkey.name, discoverable=passkey.discoverable,
           recovery_codes=len(codes))
    return Added(_proved(db, session, user, HWK, actor=actor, settings=settings, now=now), codes)


def remove_passkey(db: Session, session_id: int, passkey_id, *, actor: Actor, now: datetime) -> None:
    """Remove one of the account's passkeys (with the last factor gone, the recovery codes go too).

    :raise NotFound: not a passkey of this account. :raise FactorRequired: it is the account's last
        factor and an organization of the account requires one.
    """
    session, user = _password_account(db, session_id)
    factors = factors_of(db, user.id)
    _ensure_a_factor_stays(db, user.id, left=replace(factors, passkeys=factors.passkeys - 1))
    passkey = passkeys.remove(db, user.id, passkey_id)
    if passkey is None:
        raise NotFound("No such passkey on your account.", code="no_such_passkey")
    db.flush()  # gone before counting what is left
    _without_factors_no_codes(db, user.id)
    record(db, actor, AuditAction.MFA_PASSKEY_REMOVE, now=now, org_id=session.org_id, target_id=user.id,
           target_email=user.email, passkey_id=passkey.id, name=passkey.name)


def passkey_second_step_options(db: Session, session_id: int, *, settings: Settings, now: datetime) -> dict:
    """The options for the second step with one of the account's passkeys (navigator.credentials.get)."""
    _, user = _password_account(db, session_id)
    return passkeys.authentication_options(db, Purpose.SECOND_FACTOR, rp=relying_party(settings), now=now,
                                           session_id=session_id, user_id=user.id)


def second_step_with_passkey(db: Session, session_id: int, answer: str | None, *, actor: Actor,
                             settings: Settings, now: datetime) -> accounts.SignIn:
    """One of the account's passkeys as the second factor: the session gets a new token that says so
    (`amr` with hwk and mfa).

    :raise MalformedAnswer, ChallengeGone: (400, nothing kept).
    :raise PasskeyRefused: checked and refused (audited, counted against the account; a counter that
        went backwards marks the passkey refused and tells the organization's admins).
    """
    session, user = _password_account(db, session_id)
    try:
        passkeys.authenticate(db, Purpose.SECOND_FACTOR, answer=answer, rp=relying_party(settings), now=now,
                              session_id=session_id, user_id=user.id)
    except PasskeyRefused as exc:
        _passkey_refused(db, exc, user, actor=actor, org_id=session.org_id, now=now)
        record(db, actor, AuditAction.MFA_FAILURE, now=now, org_id=session.org_id, target_id=user.id,
               target_email=user.email, method="passkey", reason=exc.reason)
        raise
    sign_in = _proved(db, session, user, HWK, actor=actor, settings=settings, now=now)
    record(db, actor, AuditAction.MFA_SUCCESS, now=now, org_id=session.org_id, target_id=user.id,
           target_email=user.email, method="passkey")
    return sign_in


def _passkey_refused(db: Session, exc: PasskeyRefused, user: User | _Account | None, *, actor: Actor,
                     org_id: int | None, now: datetime) -> None:
    """A refusal the caller audits is kept (the challenge stays used up); a counter that went backwards
    is also the organization's admins' business: a copy of the key may be in other hands."""
    exc.recorded = True
    if isinstance(exc, passkeys.CounterWentBack) and exc.reason == "counter_went_back":
        record(db, actor, AuditAction.MFA_PASSKEY_COUNTER, now=now, org_id=org_id, target_id=user.id,
               target_email=user.email)


def passkey_sign_in_options(db: Session, *, settings: Settings, now: datetime) -> dict:
    """The options for signing in with a passkey and no email typed: no passkeys listed (the
    authenticator offers its discoverable ones), user verification required."""
    return passkeys.authentication_options(db, Purpose.SIGN_IN, rp=relying_party(settings), now=now)


class TemporaryPasswordFirst(Forbidden):
    code = "temporary_password"
    message = "An administrator gave your account a temporary password: sign in with it first and choose a new one."


def sign_in_with_passkey(db: Session, answer: str | None, *, actor: Actor, settings: Settings,
                         now: datetime) -> accounts.SignIn:
    """A discoverable passkey whose authenticator verified its holder (a PIN, a fingerprint) is a
    sign-in on its own, and a multi-factor one (RFC 8176: `hwk` for the key, `user` for the
    verification on it, so `mfa`): the session owes no second step.

    :raise MalformedAnswer, ChallengeGone: (400, nothing kept).
    :raise PasskeyRefused: checked and refused (audited as a failed sign-in).
    :raise SsoOnly, NoActiveMembership, TemporaryPasswordFirst: the account may not sign in this way now.
    """
    try:
        used = passkeys.authenticate(db, Purpose.SIGN_IN, answer=answer, rp=relying_party(settings), now=now)
    except PasskeyRefused as exc:
        known = db.get(User, exc.passkey_user_id) if exc.passkey_user_id else None
        _passkey_refused(db, exc, known, actor=actor, org_id=known.last_org_id if known else None, now=now)
        record(db, actor, AuditAction.LOGIN_FAILURE, now=now, org_id=known.last_org_id if known else None,
               target_id=known.id if known else None, target_email=known.email if known else None,
               reason="passkey_refused", check=exc.reason)
        raise
    user = db.get(User, used.passkey.user_id)
    if user.sso_only:
        raise accounts.SsoOnly()
    if user.must_change_password:
        # The temporary password is what the administrator handed over: it is changed first, proved.
        raise TemporaryPasswordFirst()
    return accounts.start_signed_in(db, user, amr=policy.with_methods((), HWK, USER), actor=actor, settings=settings,
                                    now=now, method="passkey", passkey_id=used.passkey.id)


# -- what admins do --------------------------------------------------------------------------

def set_requirement(db: Session, scope: AdminScope, *, mfa_required: bool, now: datetime) -> bool:
    """Require (or stop requiring) a second factor of the organization's password members; it applies
    from each one's next sign-in (or switch into the organization). Returns the setting."""
    if not isinstance(mfa_required, bool):
        raise BadRequest("mfa_required is true or false.", code="invalid_field", field="mfa_required")
    org = db.get(Organization, scope.org_id)
    if org.mfa_required != mfa_required:
        org.mfa_required = mfa_required
        record(db, scope.actor, AuditAction.ORG_SETTINGS, now=now, org_id=scope.org_id, mfa_required=mfa_required)
    return org.mfa_required


def requirement(db: Session, org_id: int) -> bool:
    return policy.requires_second_factor(db, org_id)


def reset_factors(db: Session, scope: AdminScope, user_id, *, now: datetime) -> int:
    """Remove a member's second factors (a lost phone): their sessions end, and they are told by mail.
    Returns how many sessions ended.

    Like a password reset, only for an account this organization alone holds: the factors guard
    every organization the account belongs to.

    :raise NotFound: not a member here. :raise BadRequest: your own factors you change yourself;
        an SSO-only account has none here. :raise Conflict: a member elsewhere too (`member_elsewhere`).
    """
    membership = get_member(db, scope, user_id, lock=True)
    user = membership.user
    if user.id == scope.actor.user_id:
        raise BadRequest("Change your own second factors on your security page.", code="self_reset")
    if user.sso_only:
        raise BadRequest("This member signs in through single sign-on: their IdP keeps their factors.",
                         code="sso_only")
    accounts.hold_account(db, user.id)
    if db.scalar(select(Membership.id).where(Membership.user_id == user.id, Membership.org_id != scope.org_id)
                 .limit(1)) is not None:
        raise Conflict("This person also belongs to another organization, so their second factors are theirs "
                       "to change.", code="member_elsewhere")
    totp.remove(db, user.id)
    removed_passkeys = passkeys.remove_all(db, user.id)
    recovery.discard(db, user.id)
    ended = sessions.revoke_all_for(db, user.id, now=now)
    membership.version += 1
    record(db, scope.actor, AuditAction.USER_MFA_RESET, now=now, org_id=scope.org_id, target_id=user.id,
           target_email=user.email, sessions_ended=ended, passkeys_removed=removed_passkeys)
    outbox.enqueue(
        db, recipient=user.email, now=now, subject=f"Your second factors were reset in {scope.org_name}",
        body=(f"Hello {user.name},\n\nan administrator of {scope.org_name} removed your authenticator app, "
              "passkeys and recovery codes on idgate. Sign in with your password and add them again.\n\n"
              "If you did not ask for this, tell your administrator.\n"),
    )
    return ended


__all__ = ["Owed", "WrongCode"]
