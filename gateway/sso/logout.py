"""Single logout both ways: our sign-out ends the IdP's session too; the IdP's ends ours.

SAML: SP-initiated logout to the IdP's SLO endpoint, and its LogoutRequests at our SLS. OpenID
Connect: RP-Initiated Logout 1.0 to the IdP's end_session_endpoint, and Back-Channel Logout 1.0 (the
IdP posts a signed logout token to /oidc/<slug>/backchannel-logout). Front-channel logout (an iframe
per RP) is left out: third-party cookies no longer reach it in most browsers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from gateway.actor import Actor
from gateway.audit.actions import AuditAction
from gateway.audit.service import record
from gateway.config import Settings
from gateway.errors import NotFound
from gateway.mfa import sealing
from gateway.orgs.models import Organization
from gateway.sessions.models import OIDC_SUBJECT, UserSession
from gateway.sessions.services import end_idp_sessions
from gateway.sso import oidc_protocol, oidc_signin
from gateway.sso.connections import idp_connection
from gateway.sso.oidc_connections import oidc_connection
from gateway.sso.saml_protocol import identity_provider, service_provider
from gateway.sso.signin import SsoRejected
from saml import errors as saml_errors
from saml import logout as saml_logout


def logout_redirect(db: Session, session_id: int, *, settings: Settings) -> str | None:
    """Where to send the browser after our own sign-out: the IdP's logout endpoint, for SSO sessions."""
    row = db.get(UserSession, session_id)
    if row is None or row.sso_org_id is None or not row.sso_name_id:
        return None
    org = db.get(Organization, row.sso_org_id)
    if org is None:
        return None
    if row.sso_name_id_format == OIDC_SUBJECT:
        return _end_session_url(db, row, org.slug, settings=settings)
    try:
        connection = idp_connection(db, org.slug)
    except NotFound:  # the organization disconnected its IdP since
        return None
    if not connection.slo_url:
        return None
    return saml_logout.start_logout(
        service_provider(settings, org.slug), identity_provider(connection), name_id=row.sso_name_id,
        name_id_format=row.sso_name_id_format, session_index=row.sso_session_index,
        relay_state=f"{settings.base_url}/login")


def handle_idp_logout(db: Session, slug: str, query: dict, *, actor: Actor, settings: Settings,
                      now: datetime) -> str:
    """The SLS: an IdP's LogoutRequest revokes the matching sessions; returns where to send the browser.

    :raise SsoRejected: unsigned, oversized or otherwise invalid logout messages.
    """
    connection = idp_connection(db, slug)
    sp, idp = service_provider(settings, slug), identity_provider(connection)
    try:
        if "SAMLResponse" in query:
            saml_logout.read_idp_logout_response(sp, idp, query)
            return f"{settings.base_url}/login"
        request = saml_logout.read_idp_logout_request(sp, idp, query)
    except saml_errors.SamlError as exc:
        raise SsoRejected(exc.message, code=exc.code) from None
    ended = end_idp_sessions(db, connection.org_id, oidc=False, name_id=request.name_id,
                             idp_sessions=request.session_indexes or None, now=now)
    record(db, actor, AuditAction.SAML_LOGOUT, now=now, org_id=connection.org_id, name_id=request.name_id,
           sessions_ended=ended)
    return request.response_url


def _end_session_url(db: Session, row: UserSession, slug: str, *, settings: Settings) -> str | None:
    """The OIDC IdP's end_session_endpoint, with our ID token as the hint (so the IdP need not ask
    who is leaving) and our sign-in page to come back to (to register at the IdP)."""
    try:
        connection = oidc_connection(db, slug)
        provider, _ = oidc_signin.METADATA.get(connection.issuer)
    except NotFound:  # the organization disconnected its IdP since
        return None
    except oidc_protocol.OidcError:  # the IdP cannot be reached now: ours is ended all the same
        return None
    try:
        id_token = sealing.unseal(settings.certs_dir, row.sso_id_token_sealed) if row.sso_id_token_sealed else None
    except sealing.InvalidToken:  # sealed with a key since forgotten: the IdP asks who is leaving
        id_token = None
    return oidc_protocol.end_session_url(provider, client_id=connection.client_id, id_token=id_token,
                                         post_logout_redirect_uri=post_logout_redirect_uri(settings))


def post_logout_redirect_uri(settings: Settings) -> str:
    return f"{settings.base_url}/login"


# How old a logout token may be: an IdP posts it as the person signs out there; older ones are
# refused rather than their jti remembered (see oidc_protocol.verify_logout_token).
LOGOUT_TOKEN_MAX_AGE = 600


def handle_backchannel_logout(db: Session, slug: str, logout_token, *, actor: Actor, now: datetime) -> int:
    """The IdP's back-channel logout: its signed logout token ends the sessions it names (its `sub`'s,
    or only those of its session `sid`); returns how many.

    :raise NotFound: unknown organization, or no OIDC IdP connected to it.
    :raise SsoRejected: no logout token, or one that fails a check (`bad_logout_token`).
    """
    connection = oidc_connection(db, slug)
    if not isinstance(logout_token, str) or not 0 < len(logout_token) <= 16384:
        raise SsoRejected("No logout token was posted.", code="bad_logout_token")
    try:
        provider, jwks = oidc_signin.keys_for(connection.issuer, logout_token)
        token = oidc_protocol.verify_logout_token(
            logout_token, provider=provider, jwks=jwks, client_id=connection.client_id, now=int(now.timestamp()),
            leeway=oidc_signin.LEEWAY, max_age=LOGOUT_TOKEN_MAX_AGE)
    except oidc_protocol.OidcError as exc:
        raise SsoRejected(exc.message, code=exc.code) from None
    ended = end_idp_sessions(db, connection.org_id, oidc=True, name_id=token.sub,
                             idp_sessions=[token.sid] if token.sid else None, now=now)
    record(db, actor, AuditAction.OIDC_IDP_LOGOUT, now=now, org_id=connection.org_id, sub=token.sub, sid=token.sid,
           sessions_ended=ended)
    return ended


def reseal_all(db: Session, *, certs_dir: str, now: datetime) -> int:
    """Every live session's ID token sealed again with the newest key (`idgate keys rotate`); ended
    sessions' dropped, as nobody's sign-out will need them. Returns how many were sealed again."""
    db.execute(update(UserSession).where(UserSession.sso_id_token_sealed.is_not(None),
                                         or_(UserSession.revoked_at.is_not(None), UserSession.expires_at <= now,
                                             UserSession.idle_expires_at <= now))
               .values(sso_id_token_sealed=None))
    rows = db.execute(select(UserSession.id, UserSession.sso_id_token_sealed)
                      .where(UserSession.sso_id_token_sealed.is_not(None))).all()
    for session_id, sealed in rows:
        db.execute(update(UserSession).where(UserSession.id == session_id)
                   .values(sso_id_token_sealed=sealing.reseal(certs_dir, sealed)))
    return len(rows)
