"""An account's second factors. Secrets are sealed (gateway.mfa.sealing) or hashed, never stored plain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, UTCDateTime


class TotpFactor(Base):
    """An authenticator app; one per account. It counts once confirmed with a code."""

    __tablename__ = "totp_factors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    secret_sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The time step of the last code accepted: a code of that step or an earlier one is refused
    # (RFC 6238 §5.2), and of two uses of one code at once the database lets one through.
    last_used_step: Mapped[int] = mapped_column(Integer, default=0)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    def __repr__(self) -> str:  # no secrets in reprs
        return f"<TotpFactor {self.id} user={self.user_id}>"


class RecoveryCode(Base):
    """One of an account's single-use recovery codes, as its SHA-256 (the code has 80 random bits)."""

    __tablename__ = "recovery_codes"
    __table_args__ = (UniqueConstraint("user_id", "code_hash", name="uq_recovery_codes_user_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Passkey(Base):
    """A passkey (a WebAuthn credential): a second factor after the password, and, when the
    authenticator keeps it (discoverable) and verifies its holder, a sign-in on its own.

    Nothing here is secret: the private key never leaves the authenticator; the public key and the
    credential id are what the authenticator gave us to check its signatures.
    """

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)  # at most 1023 bytes (WebAuthn §5.8.3)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # COSE_Key, as the authenticator gave it
    # The authenticator's signature counter (an unsigned 32-bit number, hence the wide column). One
    # that goes backwards means the key was copied (WebAuthn §6.1.1): the passkey is refused from then on.
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    user_handle: Mapped[bytes] = mapped_column(LargeBinary(64))  # random, the same for an account's passkeys
    name: Mapped[str] = mapped_column(String(64))
    transports: Mapped[str] = mapped_column(String(128), default="")  # space-separated hints: "internal hybrid"
    discoverable: Mapped[bool] = mapped_column(Boolean, default=False)  # the browser said so (credProps.rk)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)  # its counter went backwards

    def __repr__(self) -> str:
        return f"<Passkey {self.id} user={self.user_id}>"


class PasskeyChallenge(Base):
    """A challenge handed to a browser for one passkey ceremony: used once, within minutes.

    Stored as its SHA-256: the answer is looked up by the challenge it signed, and deleting the row
    is what uses it up (of two answers to one challenge at once, the database lets one through).
    """

    __tablename__ = "passkey_challenges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    challenge_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(16))  # register | second_factor | sign_in
    # The session a registration or a second step belongs to; none for a sign-in with a passkey.
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), default=None,
                                                   index=True)
    # The user handle a registration offered the authenticator: kept with the answer's credential.
    user_handle: Mapped[bytes | None] = mapped_column(LargeBinary(64), default=None)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
