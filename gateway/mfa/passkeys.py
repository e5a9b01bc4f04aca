"""Passkeys (WebAuthn Level 2, checked by py_webauthn): the options a ceremony starts with, the
browser's answers checked against a single-use challenge, and the credentials kept.

Knows our tables, not Flask: gateway.mfa.services decides what a passkey that passed is worth.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

import webauthn
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session
from webauthn.helpers import parse_authentication_credential_json, parse_client_data_json
from webauthn.helpers import parse_registration_credential_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (AttestationConveyancePreference, AuthenticatorSelectionCriteria,
                                      AuthenticatorTransport, PublicKeyCredentialDescriptor,
                                      ResidentKeyRequirement, UserVerificationRequirement)

from gateway.errors import BadRequest, Conflict, GatewayError
from gateway.mfa.models import Passkey, PasskeyChallenge
from gateway.params import row_id

# Short-lived: long enough to find a security key and touch it, too short to keep one for later.
CHALLENGE_TTL = timedelta(minutes=2)
MAX_ANSWER = 10 * 1024  # a browser's answer (no attestation asked for: a key, an id of at most 1023 bytes)
NAME_LENGTH = 64
_TRANSPORTS = {t.value for t in AuthenticatorTransport}


class Purpose(StrEnum):
    REGISTER = "register"
    SECOND_FACTOR = "second_factor"
    SIGN_IN = "sign_in"


# -- the relying party -----------------------------------------------------------------------

@dataclass(frozen=True)
class RelyingParty:
    """Who the passkeys belong to: the rpId they are scoped to, and the one origin whose pages may use them."""

    id: str
    origin: str
    name: str = "idgate"


def relying_party(base_url: str) -> RelyingParty | None:
    """The relying party of a gateway served at `base_url`; None where browsers allow no passkeys.

    An rpId is a domain name (WebAuthn §5.1.4.1: "a valid domain string"); an IP address is none.
    A loopback address (the default `http://127.0.0.1:5000`) stands for this machine, which
    browsers also call `localhost`, both a valid rpId and a secure context over plain http: its
    passkeys belong to `localhost` and work on pages opened at `http://localhost:<port>`. Any other
    IP address has no name browsers accept: no passkeys there.
    """
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return RelyingParty(host, f"{parts.scheme}://{parts.netloc.lower()}")
    if not address.is_loopback:
        return None
    port = f":{parts.port}" if parts.port else ""
    return RelyingParty("localhost", f"{parts.scheme}://localhost{port}")


def offered_at(rp: RelyingParty | None, origin: str) -> bool:
    """Whether a page opened at `origin` can use passkeys: only at the relying party's own origin
    (the browser puts its origin in every answer, and an answer from elsewhere is refused anyway)."""
    return rp is not None and origin.lower() == rp.origin


# -- refusals ---------------------------------------------------------------------------------

class MalformedAnswer(BadRequest):
    code, field = "invalid_passkey_answer", "credential"
    message = "The browser's passkey answer could not be read. Try again."


class ChallengeGone(BadRequest):
    code, field = "passkey_challenge", "credential"
    message = "That passkey request expired or was answered already. Try again."


class PasskeyRefused(GatewayError):
    """The answer is not one this passkey gave for this site now (a wrong origin or rpId, a bad signature,
    an unknown passkey, no user verification where one was asked for)."""

    code, status, field = "passkey_refused", 401, "credential"
    message = "That passkey was not accepted. Use a passkey of this account, on this site."

    def __init__(self, reason: str, *, user_id: int | None = None):
        super().__init__()
        self.reason = reason  # for the audit row; never shown (it may say which check failed)
        self.passkey_user_id = user_id  # whose passkey answered, once known (for the audit row)


class CounterWentBack(PasskeyRefused):
    """The authenticator's signature counter went backwards: the key was probably copied."""

    code = "passkey_counter"
    message = ("This passkey is refused: it answered with a sign counter lower than before, which a copied key "
               "does. Use another factor, and remove this passkey from your security page.")


class PasskeyKnown(Conflict):
    code, field = "passkey_known", "credential"
    message = "This passkey is registered already."


class NotAvailable(BadRequest):
    code = "passkeys_unavailable"
    message = "Passkeys work only on this gateway's own address, which this one is not."


# -- challenges: single use, short-lived, decided by the database ------------------------------

def _hash(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()


def _keep_challenge(db: Session, challenge: bytes, purpose: Purpose, *, session_id: int | None, now: datetime,
                    user_handle: bytes | None = None) -> None:
    # Expired ones go on the way (an index on expires_at), and a session keeps one challenge per
    # purpose: asking again replaces it, so nobody fills the table from a signed-in session.
    stale = PasskeyChallenge.expires_at <= now
    if session_id is not None:
        stale = or_(stale, (PasskeyChallenge.session_id == session_id) & (PasskeyChallenge.purpose == purpose))
    db.execute(delete(PasskeyChallenge).where(stale))
    db.add(PasskeyChallenge(challenge_hash=_hash(challenge), purpose=purpose, session_id=session_id,
                            user_handle=user_handle, expires_at=now + CHALLENGE_TTL))


def _take_challenge(db: Session, challenge: bytes, purpose: Purpose, *, session_id: int | None,
                    now: datetime) -> PasskeyChallenge:
    """The challenge the answer signed, used up: it is looked up by its hash (the database compares,
    not Python), and of two answers to one challenge at once only one DELETE finds the row.

    :raise ChallengeGone: unknown, expired, used, or another session's.
    """
    row = db.scalar(select(PasskeyChallenge).where(
        PasskeyChallenge.challenge_hash == _hash(challenge), PasskeyChallenge.purpose == purpose,
        PasskeyChallenge.session_id.is_(None) if session_id is None else PasskeyChallenge.session_id == session_id,
        PasskeyChallenge.expires_at > now))
    if row is None or db.execute(delete(PasskeyChallenge).where(PasskeyChallenge.id == row.id)).rowcount != 1:
        raise ChallengeGone()
    return row


def _read(text: str | None, parse):
    """The browser's answer as py_webauthn's structure, its client data, and the raw JSON object.

    :raise MalformedAnswer: not JSON, not a credential of that ceremony, too long.
    """
    if not text or len(text) > MAX_ANSWER:
        raise MalformedAnswer()
    try:
        raw = json.loads(text)
        credential = parse(raw)
        client_data = parse_client_data_json(credential.response.client_data_json)
    except (WebAuthnException, ValueError, TypeError, KeyError, AttributeError):
        raise MalformedAnswer() from None
    return credential, client_data, raw


def _options_json(options, **extra) -> dict:
    body = json.loads(webauthn.options_to_json(options))
    body.update(extra)
    return body


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    return PublicKeyCredentialDescriptor(id=passkey.credential_id, transports=[
        AuthenticatorTransport(t) for t in passkey.transports.split() if t in _TRANSPORTS] or None)


# -- registration ------------------------------------------------------------------------------

def registration_options(db: Session, *, user_id: int, email: str, display_name: str, session_id: int,
                         rp: RelyingParty, now: datetime) -> dict:
    """Options for navigator.credentials.create(): a new challenge for this session, the account's
    passkeys excluded (an authenticator holds one per account), a discoverable passkey preferred."""
    existing = of_user(db, user_id)
    # One random handle per account (never the email: authenticators show it to anyone holding them).
    handle = existing[0].user_handle if existing else secrets.token_bytes(32)
    options = webauthn.generate_registration_options(
        rp_id=rp.id, rp_name=rp.name, user_id=handle, user_name=email, user_display_name=display_name,
        timeout=int(CHALLENGE_TTL.total_seconds() * 1000), attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(resident_key=ResidentKeyRequirement.PREFERRED,
                                                               user_verification=UserVerificationRequirement.PREFERRED),
        exclude_credentials=[_descriptor(p) for p in existing],
    )
    _keep_challenge(db, options.challenge, Purpose.REGISTER, session_id=session_id, now=now, user_handle=handle)
    # credProps: the browser says whether the passkey is discoverable (a sign-in on its own).
    return _options_json(options, extensions={"credProps": True})


def clean_name(name: str | None, *, user_id: int, db: Session) -> str:
    """:raise BadRequest: longer than 64 characters. An empty name becomes "Passkey <n>"."""
    name = " ".join((name or "").split())
    if len(name) > NAME_LENGTH:
        raise BadRequest(f"A passkey's name has at most {NAME_LENGTH} characters.", code="invalid_field", field="name")
    return name or f"Passkey {len(of_user(db, user_id)) + 1}"


def register(db: Session, *, user_id: int, session_id: int, answer: str | None, name: str, rp: RelyingParty,
             now: datetime) -> Passkey:
    """Keep the passkey the browser just made for this session's account.

    :raise MalformedAnswer, ChallengeGone: see above.
    :raise BadRequest: the answer is not for this site, or its attestation does not hold (`passkey_refused`).
    :raise PasskeyKnown: registered already (to any account).
    """
    credential, client_data, raw = _read(answer, parse_registration_credential_json)
    challenge = _take_challenge(db, client_data.challenge, Purpose.REGISTER, session_id=session_id, now=now)
    try:
        verified = webauthn.verify_registration_response(
            credential=credential, expected_challenge=client_data.challenge, expected_rp_id=rp.id,
            expected_origin=rp.origin)
    except WebAuthnException:
        raise BadRequest("The passkey was not made for this site, or its answer does not hold. Try again.",
                         code="passkey_refused", field="credential") from None
    if db.scalar(select(Passkey.id).where(Passkey.credential_id == verified.credential_id)) is not None:
        raise PasskeyKnown()
    props = (raw.get("clientExtensionResults") or {}).get("credProps") or {}
    passkey = Passkey(
        user_id=user_id, credential_id=verified.credential_id, public_key=verified.credential_public_key,
        sign_count=verified.sign_count, user_handle=challenge.user_handle, name=name,
        transports=" ".join(t.value for t in credential.response.transports or [])[:128],
        discoverable=props.get("rk") is True, created_at=now)
    db.add(passkey)
    db.flush()  # for its id (the audit row) and the unique credential id, checked by the database too
    return passkey


# -- authentication ----------------------------------------------------------------------------

def authentication_options(db: Session, purpose: Purpose, *, rp: RelyingParty, now: datetime,
                           session_id: int | None = None, user_id: int | None = None) -> dict:
    """Options for navigator.credentials.get(): for a second step, the account's passkeys; for a
    sign-in with no email typed, none listed (the authenticator offers its discoverable ones) and
    user verification required (the passkey is then both factors)."""
    allowed = [_descriptor(p) for p in of_user(db, user_id)] if user_id is not None else []
    verification = (UserVerificationRequirement.REQUIRED if purpose == Purpose.SIGN_IN
                    else UserVerificationRequirement.PREFERRED)
    options = webauthn.generate_authentication_options(
        rp_id=rp.id, timeout=int(CHALLENGE_TTL.total_seconds() * 1000), allow_credentials=allowed,
        user_verification=verification)
    _keep_challenge(db, options.challenge, purpose, session_id=session_id, now=now)
    return _options_json(options)


@dataclass(frozen=True)
class Assertion:
    """A passkey answer that passed: whose passkey, and whether its holder was verified on the authenticator."""

    passkey: Passkey
    user_verified: bool


def authenticate(db: Session, purpose: Purpose, *, answer: str | None, rp: RelyingParty, now: datetime,
                 session_id: int | None = None, user_id: int | None = None) -> Assertion:
    """Check a passkey's answer: the challenge (used up), the passkey (the account's, for a second
    step), the site, the signature, user verification for a sign-in, and the counter. The passkey
    records its use.

    :raise MalformedAnswer, ChallengeGone:
    :raise PasskeyRefused: (`reason` says which check) the answer was checked and failed.
    :raise CounterWentBack: the signature holds but the counter went backwards; the passkey is
        marked refused (kept: the caller records why and commits it).
    """
    credential, client_data, _ = _read(answer, parse_authentication_credential_json)
    _take_challenge(db, client_data.challenge, purpose, session_id=session_id, now=now)
    passkey = db.scalar(select(Passkey).where(Passkey.credential_id == credential.raw_id))
    if passkey is None or (user_id is not None and passkey.user_id != user_id):
        raise PasskeyRefused("unknown_passkey")
    handle = credential.response.user_handle
    if handle is not None and not secrets.compare_digest(handle, passkey.user_handle):
        raise PasskeyRefused("wrong_user_handle", user_id=passkey.user_id)
    if passkey.refused_at is not None:
        raise CounterWentBack("refused_before", user_id=passkey.user_id)
    try:
        # The counter is ours to judge, after the signature: py_webauthn compares it before it checks
        # the signature, and a lower counter only means a copied key once the key's signature holds.
        verified = webauthn.verify_authentication_response(
            credential=credential, expected_challenge=client_data.challenge, expected_rp_id=rp.id,
            expected_origin=rp.origin, credential_public_key=passkey.public_key, credential_current_sign_count=0,
            require_user_verification=purpose == Purpose.SIGN_IN)
    except WebAuthnException as exc:
        raise PasskeyRefused(_reason(str(exc), client_data.origin, rp), user_id=passkey.user_id) from None
    _count_use(db, passkey, verified.new_sign_count, now=now)
    return Assertion(passkey, verified.user_verified)


def _reason(problem: str, origin: str, rp: RelyingParty) -> str:
    if origin != rp.origin:
        return "wrong_origin"
    if "RP ID" in problem:
        return "wrong_rp_id"
    if "verif" in problem.lower() and "signature" not in problem.lower():
        return "no_user_verification"
    return "bad_signature"


def _count_use(db: Session, passkey: Passkey, new_count: int, *, now: datetime) -> None:
    """WebAuthn §6.1.1: a counter not greater than the one stored (where either is not zero) means
    two copies of the key. Of two answers at once, the database keeps the counter rising: the UPDATE
    matches only a row whose counter is still lower."""
    rises = Passkey.sign_count < new_count
    if new_count == 0:  # authenticators that keep no counter (synced passkeys) always say 0
        rises = Passkey.sign_count == 0
    used = db.execute(update(Passkey).where(Passkey.id == passkey.id, rises)
                      .values(sign_count=new_count, last_used_at=now)).rowcount == 1
    if not used:
        db.execute(update(Passkey).where(Passkey.id == passkey.id).values(refused_at=now))
    db.expire(passkey)
    if not used:
        raise CounterWentBack("counter_went_back", user_id=passkey.user_id)


# -- what an account has -----------------------------------------------------------------------

def of_user(db: Session, user_id: int | None) -> list[Passkey]:
    return list(db.scalars(select(Passkey).where(Passkey.user_id == user_id).order_by(Passkey.created_at,
                                                                                       Passkey.id)))


def count(db: Session, user_id: int) -> int:
    return db.scalar(select(func.count()).select_from(Passkey).where(Passkey.user_id == user_id))


def remove(db: Session, user_id: int, passkey_id) -> Passkey | None:
    """Remove one of the account's passkeys; the one removed, or None (not the account's)."""
    passkey_id = row_id(passkey_id)
    if passkey_id is None:
        return None
    passkey = db.scalar(select(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user_id))
    if passkey is not None:
        db.delete(passkey)
    return passkey


def remove_all(db: Session, user_id: int) -> int:
    return db.execute(delete(Passkey).where(Passkey.user_id == user_id)).rowcount
