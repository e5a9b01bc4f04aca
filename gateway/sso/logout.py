"""Single logout both ways: our sign-out ends the IdP's session too; the IdP's ends ours."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.actor import Actor
from gateway.audit.actions import AuditAction
from gateway.audit.service import record
from gateway.config import Settings
from gateway.errors import NotFound
from gateway.orgs.models import Organization
from gateway.sessions.models import UserSession
from gateway.sso.connections import idp_connection
from gateway.sso.saml_protocol import identity_provider, service_provider
from gateway.sso.signin import SsoRejected
from saml import errors as saml_errors
from saml import logout as saml_logout


def logout_redirect(db: Session, session_id: int, *, settings: Settings) -> str | None:
    """Where to send the browser after our own sign-out: the IdP's SLO endpoint, for SSO sessions."""
    row = db.get(UserSession, session_id)
    if row is None or row.sso_org_id is None or not row.sso_name_id:
        return None
    org = db.get(Organization, row.sso_org_id)
    if org is None:
        return None
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
    rows = select(UserSession).where(UserSession.sso_org_id == connection.org_id,
                                     UserSession.sso_name_id == request.name_id,
                                     UserSession.revoked_at.is_(None))
    if request.session_indexes:
        rows = rows.where(UserSession.sso_session_index.in_(request.session_indexes))
    ended = 0
    for row in db.scalars(rows):
        row.revoked_at = now
        ended += 1
    record(db, actor, AuditAction.SAML_LOGOUT, now=now, org_id=connection.org_id, name_id=request.name_id,
           sessions_ended=ended)
    return request.response_url
