"""Signing in through an organization's OpenID Connect IdP (issue 21): start (state, nonce and PKCE,
the browser binding) and finish (the state used once, the code exchanged, the ID token proved, the
same provisioning and session as SAML's).

Nothing secret waits in the database: the pending row keeps the state's digest, and the nonce and
the PKCE verifier are derived from the state with the gateway's secret key, so a database reader
can neither finish a sign-in nor forge one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from datetime import datetime

from sqlalchemy import bindparam, delete, exists, select
from sqlalchemy.orm import Session

from gateway.accounts.services import SignIn
from gateway.actor import Actor
from gateway.config import Settings, ensure_secret_key
from gateway.db import core_execute
from gateway.mfa import sealing
from gateway.redirects import safe_next
from gateway.sso import oidc_protocol
from gateway.sessions.models import OIDC_SUBJECT
from gateway.sso.models import OidcIdpLoginRequest
from gateway.sso.oidc_connections import (
    CONNECTION_ID_OF_SLUG,
    OidcConnection,
    client_secret,
    connection_from,
    connection_read_with,
    oidc_connection,
)
from gateway.sso.signin import (
    LOGIN_REQUEST_TTL,
    SsoRejected,
    SsoSignIn,
    _relay_state,
    binds_to_browser,
    sign_in_federated,
    started_in,
)

# The IdP's discovery document and keys, read again after this long (or at once for a key id not
# among them: the IdP rotated its keys; but not more often than KEY_REFRESH_FLOOR, since anyone can
# post a back-channel logout token naming a made-up key id).
METADATA_TTL = 300.0
KEY_REFRESH_FLOOR = 10.0
LEEWAY = 60  # seconds of clock skew allowed on the ID token's and the logout token's times
_AMR = frozenset({"pwd", "otp", "mfa", "hwk", "swk", "sc", "pin", "fpt", "face", "user", "pop", "sms", "tel",
                  "kba", "rba", "retina", "vbm", "wia", "geo", "iris"})  # RFC 8176


class _Metadata:
    """Per worker: issuer → (read at, Provider, JWKS)."""

    def __init__(self):
        self._entries: dict[str, tuple[float, oidc_protocol.Provider, dict]] = {}
        self._lock = threading.Lock()

    def get(self, issuer: str, *, fresh_keys: bool = False) -> tuple[oidc_protocol.Provider, dict]:
        entry = self._entries.get(issuer)
        age = None if entry is None else time.monotonic() - entry[0]
        if age is None or age > METADATA_TTL or fresh_keys and age > KEY_REFRESH_FLOOR:
            provider = oidc_protocol.discover(issuer)
            entry = (time.monotonic(), provider, oidc_protocol.signing_keys(provider))
            with self._lock:
                self._entries[issuer] = entry
        return entry[1], entry[2]


METADATA = _Metadata()


def keys_for(issuer: str, token) -> tuple[oidc_protocol.Provider, dict]:
    """The IdP's metadata and the keys to check `token` with: read again first when it names a key
    id not among them (the IdP rotated its keys since).

    :raise oidc_protocol.OidcError: the IdP's metadata cannot be had.
    """
    provider, jwks = METADATA.get(issuer)
    if oidc_protocol.names_an_unknown_key(token, jwks):
        provider, jwks = METADATA.get(issuer, fresh_keys=True)
    return provider, jwks


def callback_url(settings: Settings, slug: str) -> str:
    return f"{settings.base_url}/oidc/{slug}/callback"


def _derived(settings: Settings, state: str, purpose: bytes) -> str:
    key = hashlib.sha256(b"idgate oidc-idp " + ensure_secret_key(settings).encode()).digest()
    digest = hmac.new(key, purpose + b"\0" + state.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()  # 43 characters: a valid PKCE verifier


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _refused(exc: oidc_protocol.OidcError) -> SsoRejected:
    return SsoRejected(exc.message, code=exc.code)


def start_login(db: Session, slug: str, *, next_url: str | None, settings: Settings, now: datetime,
                browser: str | None = None) -> str:
    """The IdP URL to send the browser to; the pending sign-in recorded under its state's digest.

    :raise NotFound: unknown organization, or (OidcNotConfigured) no OIDC IdP.
    :raise SsoRejected: the IdP's metadata cannot be had (`idp_unreachable`, `bad_discovery`).
    """
    connection = oidc_connection(db, slug)
    try:
        provider, _ = METADATA.get(connection.issuer)
    except oidc_protocol.OidcError as exc:
        raise _refused(exc) from None
    state = _relay_state(browser)
    db.add(OidcIdpLoginRequest(state_hash=_state_hash(state), connection_id=connection.id,
                               next_url=safe_next(next_url), expires_at=now + LOGIN_REQUEST_TTL))
    return oidc_protocol.authorization_url(
        provider, client_id=connection.client_id, redirect_uri=callback_url(settings, slug), scopes=connection.scopes,
        state=state, nonce=_derived(settings, state, b"nonce"), code_verifier=_derived(settings, state, b"pkce"))


_requests = OidcIdpLoginRequest.__table__
# The connection named by the organization's slug, so that on PostgreSQL the claim rides along the
# connection's read as a data-modifying CTE (one round trip; run to completion whatever the read finds).
_CLAIM = (delete(_requests)
          .where(_requests.c.state_hash == bindparam("state_hash"),
                 _requests.c.connection_id == CONNECTION_ID_OF_SLUG, _requests.c.expires_at > bindparam("now"))
          .returning(_requests.c.next_url))
_claimed = _CLAIM.cte("claimed")
_CONNECTION_AND_CLAIM = connection_read_with(
    exists(select(_claimed.c.next_url)).label("claimed"), select(_claimed.c.next_url).scalar_subquery()).add_cte(_claimed)


def _connection_and_claim(db: Session, slug: str, state: str, now: datetime) -> tuple[OidcConnection, tuple | None]:
    """The organization's connection, and the pending sign-in of `state` used up (its next URL as a
    1-tuple, None when there was none to use up): whoever's DELETE removes the row owns it.

    :raise NotFound: as oidc_connection.
    """
    params = {"slug": slug, "state_hash": _state_hash(state), "now": now}
    if db.get_bind().dialect.name == "postgresql":
        found = core_execute(db, _CONNECTION_AND_CLAIM, params).first()
        return connection_from(found), (found[-1],) if found[-2] else None
    connection = oidc_connection(db, slug)  # (SQLite has no DELETE in a WITH)
    return connection, core_execute(db, _CLAIM, params).first()


def finish_login(db: Session, slug: str, *, state, code, error, issuer_param, actor: Actor, settings: Settings,
                 now: datetime, browser: str | None = None) -> SsoSignIn:
    """The callback: the state used up (whoever's DELETE removes the row owns it), the answer from
    the IdP this organization connected (RFC 9207's `iss`, when sent), the code exchanged, the ID
    token proved, then provisioning and a session as for SAML.

    :raise SsoRejected: a check failed (its code names it).
    :raise ProvisioningDenied: as provisioning decides.
    """
    if not isinstance(state, str) or not 0 < len(state) <= 64:
        oidc_connection(db, slug)  # (an unknown organization is a 404 all the same)
        raise SsoRejected("This sign-in answer carries no state we sent.", code="unknown_state")
    connection, pending = _connection_and_claim(db, slug, state, now)
    if pending is None:
        raise SsoRejected("This sign-in is unknown, used already or expired. Start it again.", code="unknown_state")
    if binds_to_browser(settings) and not started_in(state, browser):
        raise SsoRejected("This sign-in was started in another browser. Start it again here.",
                          code="started_elsewhere")
    if issuer_param is not None and issuer_param != connection.issuer:
        raise SsoRejected("This answer names another IdP than the organization's.", code="wrong_issuer")
    if error is not None:
        raise SsoRejected("The organization's IdP did not sign you in.", code="idp_refused")
    if not isinstance(code, str) or not 0 < len(code) <= 2048:
        raise SsoRejected("This sign-in answer carries no code.", code="no_code")
    claims, id_token = _proved(connection, code, state, settings=settings, slug=slug, now=now)
    identity = oidc_protocol.identity_of(claims, org_id=connection.org_id, issuer=connection.issuer,
                                         names=connection.names)
    amr = claims.get("amr")
    amr = " ".join(dict.fromkeys(m for m in amr if m in _AMR)) if isinstance(amr, list) else ""
    sign_in: SignIn = sign_in_federated(db, identity, default_role=connection.default_role,
                                        admin_groups=connection.admin_groups, amr=amr, method="oidc", actor=actor,
                                        settings=settings, now=now,
                                        session_fields=_logout_fields(claims, id_token, settings))
    return SsoSignIn(sign_in, pending[0])


def _logout_fields(claims: dict, id_token: str, settings: Settings) -> dict:
    """What the session keeps for logout both ways (gateway.sso.logout): the IdP's `sub` and `sid`
    for its back-channel logout, the ID token (sealed: it names the person) as the hint our sign-out
    gives the IdP's end_session_endpoint."""
    sid = claims.get("sid")
    return {"sso_name_id": claims["sub"], "sso_name_id_format": OIDC_SUBJECT,
            "sso_session_index": sid if isinstance(sid, str) and 0 < len(sid) <= 256 else None,
            "sso_id_token_sealed": sealing.seal(settings.certs_dir, id_token)}


def _proved(connection: OidcConnection, code: str, state: str, *, settings: Settings, slug: str,
            now: datetime) -> tuple[dict, str]:
    """The claims of the ID token this code is exchanged for (with userinfo's when some are missing),
    and the ID token."""
    try:
        provider, _ = METADATA.get(connection.issuer)
        secret = client_secret(connection, settings.certs_dir)
        tokens = oidc_protocol.redeem(provider, client_id=connection.client_id, client_secret=secret,
                                      redirect_uri=callback_url(settings, slug), code=code,
                                      code_verifier=_derived(settings, state, b"pkce"))
        provider, jwks = keys_for(connection.issuer, tokens["id_token"])
        claims = oidc_protocol.verify_id_token(tokens["id_token"], provider=provider, jwks=jwks,
                                               client_id=connection.client_id,
                                               nonce=_derived(settings, state, b"nonce"), now=int(now.timestamp()),
                                               leeway=LEEWAY)
        names = connection.names
        wanted = [name for name in (names.email, names.name, names.groups) if name]
        if any(name not in claims for name in wanted) and provider.userinfo_endpoint and tokens.get("access_token"):
            extra = oidc_protocol.userinfo(provider, tokens["access_token"])
            if extra.get("sub") == claims["sub"]:  # OIDC Core §5.3.2: else it is someone else's
                claims = {**extra, **claims}
    except oidc_protocol.OidcError as exc:
        raise _refused(exc) from None
    except sealing.InvalidToken:
        raise SsoRejected("The IdP's client secret was sealed with a key this gateway no longer has: "
                          "configure the connection again.", code="secret_unreadable") from None
    return claims, tokens["id_token"]


def forget_state(db: Session, state) -> None:
    """A refused answer's state, used up all the same: the refusal rolled its claim back, and a state
    is good for one answer only."""
    if isinstance(state, str) and 0 < len(state) <= 64:
        db.execute(delete(OidcIdpLoginRequest).where(OidcIdpLoginRequest.state_hash == _state_hash(state)))


def forget_expired(db: Session, *, before: datetime) -> int:
    return db.execute(delete(OidcIdpLoginRequest).where(OidcIdpLoginRequest.expires_at < before)).rowcount
