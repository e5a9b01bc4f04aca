"""What a session still owes before it passes, and how its holder authenticated (RFC 8176 `amr`).

One decision, asked wherever a session starts or changes organization: after a password (or a
temporary password's change), on switching organizations, after a second factor.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import Session

from gateway.accounts.models import User
from gateway.db import core_execute
from gateway.mfa.models import Passkey, TotpFactor
from gateway.orgs.models import Organization

# RFC 8176 authentication method references. `user` is what a passkey sign-in adds when the
# authenticator verified its holder (WebAuthn's UV flag): RFC 8176 §2 gives `user` for the
# authenticator's test of the user, with WebAuthn as its reference. WebAuthn does not say whether
# it was a PIN or a fingerprint, so neither `pin` nor `fpt` is claimed. The verification is a factor
# of its own kind (something known or something one is), beside the key held (`hwk`).
PWD, OTP, HWK, SWK, USER, MFA = "pwd", "otp", "hwk", "swk", "user", "mfa"
_FACTORS = {PWD, OTP, HWK, SWK, USER}


class Owed(StrEnum):
    """The step a restricted session must take; until then it reaches that step's pages and /logout only."""

    PASSWORD_CHANGE = "password_change"  # a temporary password
    SECOND_FACTOR = "second_factor"  # the account has one: /login/verify
    FACTOR_ENROLLMENT = "factor_enrollment"  # the organization requires one and the account has none


def amr_of(text: str | None) -> tuple[str, ...]:
    return tuple((text or "").split())


def with_methods(amr: tuple[str, ...], *methods: str) -> str:
    """`amr` with `methods` added, and `mfa` once two kinds of factor were used."""
    used = list(dict.fromkeys([*amr, *methods]))
    if len(_FACTORS.intersection(used)) >= 2 and MFA not in used:
        used.append(MFA)
    return " ".join(used)


_totp, _passkeys, _orgs = TotpFactor.__table__, Passkey.__table__, Organization.__table__
# A factor that counts: an authenticator app confirmed with a code, or a passkey. A passkey refused
# for a counter that went backwards still counts: a copied key must not turn the account back into
# one that a password alone opens.
_HAS_FACTOR = (exists().where(_totp.c.user_id == bindparam("user_id"), _totp.c.confirmed_at.is_not(None))
               | exists().where(_passkeys.c.user_id == bindparam("user_id")))
_REQUIRES = select(_orgs.c.mfa_required).where(_orgs.c.id == bindparam("org_id")).scalar_subquery()
# Built once, bound per call: every password sign-in asks both.
_FACTOR_AND_RULE = select(_HAS_FACTOR, _REQUIRES)
_RULE = select(_REQUIRES)


def requires_second_factor(db: Session, org_id: int | None) -> bool:
    return bool(org_id) and bool(core_execute(db, _RULE, {"org_id": org_id}).first()[0])


class Account(Protocol):
    """What owed() reads of an account: a loaded User, or the row the second step reads
    (gateway.mfa.services)."""

    id: int
    must_change_password: bool


def owed(db: Session, user: User | Account, org_id: int | None, amr: tuple[str, ...]) -> Owed | None:
    """The step a password session of `user`, working in `org_id`, owes next; None when it may pass.

    The password comes first (a temporary one is changed before anything else); then a factor the
    account has, whatever its organizations require; then, where the organization requires a
    factor and the account has none, adding one.
    """
    if user.must_change_password:
        return Owed.PASSWORD_CHANGE
    if MFA in amr:
        return None
    has_factor, required = core_execute(db, _FACTOR_AND_RULE, {"user_id": user.id, "org_id": org_id}).first()
    if has_factor:
        return Owed.SECOND_FACTOR
    return Owed.FACTOR_ENROLLMENT if required else None
