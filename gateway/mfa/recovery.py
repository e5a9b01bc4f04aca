"""Recovery codes: ten single-use codes, shown once, stored as hashes; new ones end the old ones."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from gateway.errors import BadRequest
from gateway.mfa.models import RecoveryCode

COUNT = 10
_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # 32 symbols, none read as another (no l, o, 0, 1)
_SHAPE = re.compile(rf"[{_ALPHABET}]{{4}}(-?[{_ALPHABET}]{{4}}){{3}}")


def _hash(code: str) -> str:
    # 16 symbols of 32 are 80 random bits: a plain SHA-256 is out of reach of guessing, offline too.
    return hashlib.sha256(code.replace("-", "").encode()).hexdigest()


def looks_like_one(text: str | None) -> bool:
    return bool(text) and _SHAPE.fullmatch(text.lower()) is not None


def _new_code() -> str:
    symbols = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return "-".join(symbols[i:i + 4] for i in range(0, 16, 4))


def issue(db: Session, user_id: int, *, now: datetime) -> list[str]:
    """Ten new codes, returned once; every earlier code of the account stops working."""
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = [_new_code() for _ in range(COUNT)]
    db.add_all(RecoveryCode(user_id=user_id, code_hash=_hash(code), created_at=now) for code in codes)
    return codes


def use(db: Session, user_id: int, code: str, *, now: datetime) -> bool:
    """Whether `code` is one of the account's unused codes: it is used up on the way (of two uses at
    once, the database lets one through).

    :raise BadRequest: not shaped like a recovery code.
    """
    if not looks_like_one(code):
        raise BadRequest("A recovery code has 16 letters and digits, in groups of four.", code="invalid_code",
                         field="code")
    return db.execute(update(RecoveryCode).where(
        RecoveryCode.user_id == user_id, RecoveryCode.code_hash == _hash(code.lower()), RecoveryCode.used_at.is_(None),
    ).values(used_at=now)).rowcount == 1


def remaining(db: Session, user_id: int) -> int:
    return db.scalar(select(func.count()).select_from(RecoveryCode)
                     .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)))


def discard(db: Session, user_id: int) -> None:
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
