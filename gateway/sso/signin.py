"""Signing in through an organization's IdP: start (RelayState, browser binding) and finish
(one answer per request, provisioning just in time, a session).

The protocol's part (the AuthnRequest, reading the answer) is the adapter's (`saml_protocol`);
what a verified identity may do here (link, enroll, refuse) is `accounts.provisioning`'s.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from gateway.accounts import provisioning
from gateway.accounts.services import SignIn
from gateway.actor import Actor
from gateway.audit.actions import AuditAction
from gateway.audit.service import record
from gateway.config import Settings
from gateway.db import core_execute
from gateway.errors import GatewayError
from gateway.groups import roles as group_roles
from gateway.groups import services as groups
from gateway.orgs.models import Organization
from gateway.redirects import safe_next
from gateway.sessions import services as sessions
from gateway.sso import saml_protocol
from gateway.sso.connections import IdpConnection, domain_claims, idp_connection
from gateway.sso.models import SamlLoginRequest, SeenAssertion
from saml import errors as saml_errors

LOGIN_REQUEST_TTL = timedelta(minutes=10)


class SsoRejected(GatewayError):
    """A sign-in (or logout message) the gateway refused; `code` names the check (also in the audit log)."""

    status = 400


@dataclass(frozen=True)
class SsoSignIn:
    sign_in: SignIn
    next_url: str | None


# -- binding a sign-in to the browser that starts it -----------------------------------------

def _browser_tag(nonce: str, browser: str) -> str:
    return hmac.new(browser.encode(), nonce.encode(), hashlib.sha256).hexdigest()[:16]


def _relay_state(browser: str | None) -> str:
    """An opaque RelayState; tied to the starting browser's key when it has one (`nonce.tag`)."""
    nonce = secrets.token_urlsafe(24)
    return f"{nonce}.{_browser_tag(nonce, browser)}" if browser else nonce


def binds_to_browser(settings: Settings) -> bool:
    """Whether sign-ins are tied to the browser that starts them: where the base URL is https, the
    only place browsers keep the SameSite=None; Secure cookie that carries its key."""
    return settings.base_scheme == "https"


def started_in(relay_state: str, browser: str | None) -> bool:
    """Whether the browser holding `browser` started the sign-in `relay_state` names."""
    nonce, _, tag = relay_state.partition(".")
    return bool(browser and tag) and hmac.compare_digest(tag, _browser_tag(nonce, browser))


def needs_confirmation(fetch_site: str | None) -> bool:
    """Whether a sign-in start must be confirmed on our own page before the browser goes to the IdP.

    A start another site set off (Fetch Metadata: `Sec-Fetch-Site: cross-site`) may be login CSRF:
    a hostile organization's IdP that answers at once would sign the visitor's browser in to that
    organization's account. A person who meant to sign in confirms with one click; a sibling host
    of the same site (`same-site`), a bookmark or typed address (`none`) and our own pages go on at
    once, as do browsers that send no Fetch Metadata.
    """
    return fetch_site == "cross-site"


# -- start -----------------------------------------------------------------------------------

def start_login(db: Session, slug: str, *, next_url: str | None, settings: Settings, now: datetime,
                browser: str | None = None) -> str:
    """Record the request server-side under an opaque RelayState; returns the IdP URL.

    `browser` is the starting browser's key (see views.BROWSER_COOKIE): the answer must come
    back from the same browser.
    """
    connection = idp_connection(db, slug)
    relay_state = _relay_state(browser)
    url, request_id = saml_protocol.authn_request(settings, slug, connection, relay_state)
    db.add(SamlLoginRequest(relay_state=relay_state, request_id=request_id, connection_id=connection.id,
                            next_url=safe_next(next_url), expires_at=now + LOGIN_REQUEST_TTL))
    return url


_requests = SamlLoginRequest.__table__
# Built once, bound per call: plain Core on the table skips the ORM's DML bookkeeping on the ACS.
_CLAIM_LOGIN_REQUEST = (
    delete(_requests)
    .where(_requests.c.relay_state == bindparam("relay_state"),
           _requests.c.connection_id == bindparam("connection_id"), _requests.c.expires_at > bindparam("now"))
    .returning(_requests.c.request_id, _requests.c.next_url)
)


def _claim_login_request(db: Session, connection: IdpConnection, relay_state: str | None,
                         now: datetime) -> tuple[str, str | None] | None:
    """(request ID, next URL) of the pending request this answer belongs to, used up on the way.

    Whoever's DELETE removes the row owns it: two posts of one answer cannot both go on.
    """
    if not relay_state or len(relay_state) > 64:
        return None
    return core_execute(db, _CLAIM_LOGIN_REQUEST, {"relay_state": relay_state, "connection_id": connection.id,
                                                   "now": now}).first()


def forget_expired(db: Session, *, before: datetime) -> tuple[int, int]:
    """Delete pending sign-ins and remembered assertion IDs that expired before `before`.

    Returns (requests, assertions). A request past its ten minutes can no longer be finished, and
    an assertion past its expiry (kept beyond it by the largest clock skew allowed) fails the time
    checks before the replay cache is asked.
    """
    requests = db.execute(delete(SamlLoginRequest).where(SamlLoginRequest.expires_at < before)).rowcount
    assertions = db.execute(delete(SeenAssertion).where(SeenAssertion.expires_at < before)).rowcount
    return requests, assertions


# -- finish ----------------------------------------------------------------------------------

def finish_login(
    db: Session, slug: str, *, saml_response: str | None, relay_state: str | None, actor: Actor,
    settings: Settings, now: datetime, browser: str | None = None,
) -> SsoSignIn:
    """The ACS: validate, provision just in time, start a session.

    Where sign-ins are bound to browsers (binds_to_browser), an answer to a sign-in we started must
    come from the browser that started it (`browser`, its key): otherwise someone could have another
    person's browser post an answer for their own account, and sign it in as themselves (login CSRF).

    :raise SsoRejected: a protocol check failed (code names it).
    :raise ProvisioningDenied: deactivated, an account this IdP does not own, or (ConcurrentSignIn, 409)
        another first sign-in of the same new user that got there first.
    """
    connection = idp_connection(db, slug)
    pending = _claim_login_request(db, connection, relay_state, now)
    if pending and binds_to_browser(settings) and not started_in(relay_state, browser):
        raise SsoRejected("This sign-in was started in another browser. Start it again here.",
                          code="started_elsewhere")
    try:
        identity, idp_session = saml_protocol.read_answer(
            db, slug, connection, saml_response, expected_request_id=pending[0] if pending else None,
            settings=settings, now=now)
    except saml_errors.SamlError as exc:
        raise SsoRejected(exc.message, code=exc.code) from None
    sign_in = _sign_in(db, connection, identity, idp_session, actor=actor, settings=settings, now=now,
                       idp_initiated=pending is None)
    return SsoSignIn(sign_in, pending[1] if pending else None)


def _sign_in(db: Session, connection: IdpConnection, identity: provisioning.ExternalIdentity,
             idp_session: saml_protocol.IdpSession, *, actor: Actor, settings: Settings, now: datetime,
             idp_initiated: bool) -> SignIn:
    return sign_in_federated(
        db, identity, default_role=connection.default_role, admin_groups=connection.admin_groups or [],
        amr=idp_session.amr, method="saml", actor=actor, settings=settings, now=now,
        session_fields={"sso_name_id": idp_session.name_id, "sso_name_id_format": idp_session.name_id_format,
                        "sso_session_index": idp_session.session_index},
        audit_fields={"idp_initiated": idp_initiated})


def sign_in_federated(db: Session, identity: provisioning.ExternalIdentity, *, default_role, admin_groups: list,
                      amr: str, method: str, actor: Actor, settings: Settings, now: datetime,
                      session_fields: dict | None = None, audit_fields: dict | None = None) -> SignIn:
    """A verified identity signs in, whichever protocol proved it: linked, enrolled or refused by the
    no-takeover rules (accounts.provisioning), its groups synced, then a session of its organization.

    :raise ProvisioningDenied: as provisioning decides.
    """
    org_id = identity.org_id
    decision = provisioning.decide(db, identity, domain_claim=domain_claims(db, org_id))
    account = provisioning.apply(db, decision, identity, default_role=default_role, admin_groups=admin_groups,
                                 now=now)
    changed = groups.sync_from_idp(db, org_id, account.user_id, identity.groups, now=now)
    if changed and not admin_groups:  # the connection's admin groups, when named, decide roles (groups.roles)
        group_roles.follow_sign_in(db, org_id, account.user_id, changed, now=now,
                                   actor=Actor(email=f"idp:{method}", org_id=org_id, ip=actor.ip,
                                               user_agent=actor.user_agent))
    actor = actor.as_user(account.user_id, account.email, org_id)
    # The second factor is the IdP's business: what it says it asked for is what the session carries.
    token, session = sessions.start(db, account.user_id, org_id=org_id, amr=amr, actor=actor, settings=settings,
                                    now=now, sso_org_id=org_id, **(session_fields or {}))
    record(db, actor, AuditAction.LOGIN_SUCCESS, now=now, org_id=org_id, target_id=account.user_id,
           target_email=account.email, method=method, provisioning=str(decision.action), **(audit_fields or {}))
    return SignIn(token, session)


def record_rejection(db: Session, slug: str, exc: GatewayError, *, actor: Actor, now: datetime,
                     action: AuditAction = AuditAction.SAML_LOGIN_DENIED) -> None:
    """The audit row of a refused SSO sign-in (written after the refused work was rolled back)."""
    org = db.scalar(select(Organization).where(Organization.slug == slug))
    record(db, actor, action, now=now, org_id=org.id if org else None,
           reason=getattr(exc, "reason", None) or exc.code)
