"""Authenticator apps (TOTP, RFC 6238, pyotp): enrolment confirmed with a code, each code used once."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from gateway.db import core_execute
from gateway.errors import BadRequest, Conflict, GatewayError
from gateway.mfa import sealing
from gateway.mfa.models import TotpFactor

DIGITS, PERIOD = 6, 30
# A code of the step before or after the server's is accepted: phones' clocks drift, people type slowly.
DRIFT_STEPS = 1
ISSUER = "idgate"
_CODE = re.compile(r"[0-9]{6}")


class WrongCode(GatewayError):
    code, status, field = "wrong_code", 401, "code"
    message = "That code is not right, or was used already. Enter the code your app shows now."


class SecretUnreadable(Conflict):
    code, field = "totp_unreadable", "code"
    message = ("This authenticator app's key cannot be read on this gateway (its sealing key is gone). "
               "Use a recovery code or a passkey, or ask an administrator to reset your second factors.")


def _secret(sealed: str, certs_dir: str) -> str:
    """:raise SecretUnreadable: sealed with a key this gateway no longer has (a restore without certs/)."""
    try:
        return sealing.unseal(certs_dir, sealed)
    except sealing.InvalidToken:
        raise SecretUnreadable() from None


class AlreadyEnrolled(Conflict):
    code, field = "totp_enrolled", "code"
    message = "An authenticator app is set up already. Remove it first to set up another."


@dataclass(frozen=True)
class Enrolment:
    """What the person scans or types into their app (shown on the page only, never stored plain)."""

    secret: str
    uri: str

    @property
    def grouped_secret(self) -> str:
        return " ".join(self.secret[i:i + 4] for i in range(0, len(self.secret), 4))

    def qr_svg(self) -> str:
        return segno.make(self.uri, error="m").svg_inline(scale=4, border=2, dark="#111", light="#fff")


def parse_code(text: str | None) -> str:
    """:raise BadRequest: not six digits (spaces included: the field takes the digits alone)."""
    if text is None or not _CODE.fullmatch(text):
        raise BadRequest("Enter the 6 digits your authenticator app shows, without spaces.", code="invalid_code",
                         field="code")
    return text


def _factor(db: Session, user_id: int) -> TotpFactor | None:
    return db.scalar(select(TotpFactor).where(TotpFactor.user_id == user_id))


def begin(db: Session, user_id: int, email: str, *, certs_dir: str, now: datetime) -> Enrolment:
    """A new secret for the account, waiting for a code from the app (replacing one that waited).

    :raise AlreadyEnrolled: a confirmed app is in place.
    """
    factor = _factor(db, user_id)
    if factor is not None and factor.confirmed_at is not None:
        raise AlreadyEnrolled()
    secret = pyotp.random_base32()  # 160 bits (RFC 4226's recommended length)
    if factor is None:
        factor = TotpFactor(user_id=user_id, created_at=now)
        db.add(factor)
    factor.secret_sealed = sealing.seal(certs_dir, secret)
    factor.created_at, factor.last_used_step = now, 0
    return _enrolment(secret, email)


def pending(db: Session, user_id: int, email: str, *, certs_dir: str) -> Enrolment | None:
    """The enrolment waiting for its code, shown again (a reload of the page keeps the same secret)."""
    factor = _factor(db, user_id)
    if factor is None or factor.confirmed_at is not None:
        return None
    try:
        return _enrolment(_secret(factor.secret_sealed, certs_dir), email)
    except SecretUnreadable:
        return None  # started again: begin() seals a new one in its place


def _enrolment(secret: str, email: str) -> Enrolment:
    uri = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).provisioning_uri(name=email, issuer_name=ISSUER)
    return Enrolment(secret, uri)


def confirm(db: Session, user_id: int, code: str, *, certs_dir: str, now: datetime) -> None:
    """The app's first code makes it count.

    :raise BadRequest: not a code; :raise WrongCode: not this secret's code now; NotFound-like
        BadRequest (`no_enrolment`) when nothing waits for a code.
    """
    code = parse_code(code)
    factor = _factor(db, user_id)
    if factor is None or factor.confirmed_at is not None:
        raise BadRequest("Start setting up the authenticator app again.", code="no_enrolment", field="code")
    used = _use(db, factor.id, factor.secret_sealed, code, certs_dir=certs_dir, now=now)
    db.expire(factor)  # its last step was written past the ORM
    if not used:
        raise WrongCode()
    factor.confirmed_at = now


_factors = TotpFactor.__table__
# Built once, bound per call: every second step with an app's code reads and uses up its factor here.
_CONFIRMED = select(_factors.c.id, _factors.c.secret_sealed).where(
    _factors.c.user_id == bindparam("user_id"), _factors.c.confirmed_at.is_not(None))
# A step at most once, and never one older than the last: of two uses of one code at once the
# database lets one through (the second UPDATE, after the first commits, matches no row and
# returns none).
_USE_STEP = (update(_factors)
             .where(_factors.c.id == bindparam("factor_id"), _factors.c.last_used_step < bindparam("step"))
             .values(last_used_step=bindparam("step"), last_used_at=bindparam("now")).returning(_factors.c.id))


def verify(db: Session, user_id: int, code: str, *, certs_dir: str, now: datetime) -> bool:
    """Whether `code` is the confirmed app's code now, not used before: it is used up on the way."""
    db.flush()  # (prebuilt statements below: a factor this transaction changed is what they read)
    factor = core_execute(db, _CONFIRMED, {"user_id": user_id}).first()
    if factor is None:
        return False
    return _use(db, factor.id, factor.secret_sealed, parse_code(code), certs_dir=certs_dir, now=now)


def _use(db: Session, factor_id: int, sealed: str, code: str, *, certs_dir: str, now: datetime) -> bool:
    totp = pyotp.TOTP(_secret(sealed, certs_dir), digits=DIGITS, interval=PERIOD)
    current = int(now.timestamp()) // PERIOD
    # Every candidate is compared (in constant time), so the time taken says nothing of which matched.
    matched = [step for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1)
               if hmac.compare_digest(totp.at(step * PERIOD), code)]
    if not matched:
        return False
    return core_execute(db, _USE_STEP, {"factor_id": factor_id, "step": matched[-1], "now": now}).first() is not None


def remove(db: Session, user_id: int) -> bool:
    """Remove the account's authenticator app; whether there was one."""
    return db.execute(delete(TotpFactor).where(TotpFactor.user_id == user_id)).rowcount > 0


def enrolled(db: Session, user_id: int) -> TotpFactor | None:
    factor = _factor(db, user_id)
    return factor if factor is not None and factor.confirmed_at is not None else None


def reseal_all(db: Session, *, certs_dir: str) -> int:
    """Seal every stored secret again with the newest key (after `sealing.add_key`); returns how many."""
    count = 0
    for factor in db.scalars(select(TotpFactor)):
        factor.secret_sealed = sealing.reseal(certs_dir, factor.secret_sealed)
        count += 1
    return count
