"""SAML single sign-on for the gateway: connections, sign-in through the ACS, single logout.

`saml/` proves who the IdP says the user is; this module decides what that
means here (provisioning, membership, session).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone

from sqlalchemy import bindparam, delete, exists, select
from sqlalchemy.orm import Session

from gateway.accounts import provisioning
from gateway.accounts.emails import normalize_email
from gateway.accounts.services import SignIn
from gateway.actor import Actor
from gateway.audit.actions import AuditAction
from gateway.audit.service import record
from gateway.config import SAML_MAX_CLOCK_SKEW, Settings
from gateway.db import core_execute, insert_if_absent
from gateway.errors import BadRequest, Conflict, GatewayError, NotFound, about
from gateway.orgs.lifecycle import parse_role
from gateway.orgs.models import Organization, Role
from gateway.redirects import safe_next
from gateway.sessions import services as sessions
from gateway.sessions.models import UserSession
from gateway.sso.keys import sp_keypair
from gateway.sso.models import SamlConnection, SamlEmailDomain, SamlLoginRequest, SeenAssertion
from saml import errors as saml_errors
from saml import logout as saml_logout
from saml import mapping
from saml import sp as saml_sp
from saml.config import IdentityProvider, ServiceProvider
from saml.metadata import parse_idp_metadata, sp_metadata

LOGIN_REQUEST_TTL = timedelta(minutes=10)


class SsoRejected(GatewayError):
    """A sign-in the ACS refused; `code` names the check (also in the audit log)."""

    status = 400


class SsoNotConfigured(NotFound):
    code, message = "sso_not_configured", "Single sign-on is not set up for this organization."


@dataclass(frozen=True)
class SsoSignIn:
    sign_in: SignIn
    next_url: str | None


# -- configuration ---------------------------------------------------------------------------

def service_provider(settings: Settings, slug: str) -> ServiceProvider:
    """Our SP for one organization; its entity ID is its metadata URL."""
    key_pem, cert_pem = sp_keypair(settings.certs_dir)
    base = f"{settings.base_url}/saml/{slug}"
    return ServiceProvider(entity_id=f"{base}/metadata", acs_url=f"{base}/acs", sls_url=f"{base}/sls",
                           cert_pem=cert_pem, key_pem=key_pem)


def identity_provider(connection: Connection) -> IdentityProvider:
    return IdentityProvider(entity_id=connection.idp_entity_id, sso_url=connection.sso_url,
                            slo_url=connection.slo_url, signing_certs=tuple(connection.signing_certs))


def organization(db: Session, slug: str) -> Organization:
    org = db.scalar(select(Organization).where(Organization.slug == slug))
    if org is None:
        raise NotFound()
    return org


@dataclass(frozen=True)
class Connection:
    """An organization's IdP connection, as sign-in and logout read it (the metadata XML stays behind)."""

    id: int
    org_id: int
    idp_entity_id: str
    sso_url: str
    slo_url: str | None
    signing_certs: list
    default_role: Role
    allow_idp_initiated: bool
    email_attribute: str | None
    name_attribute: str | None
    group_attribute: str | None
    admin_groups: list


_orgs, _connections = Organization.__table__, SamlConnection.__table__
# Built once, bound per call: every sign-in and every ACS post starts here.
_CONNECTION_OF = (select(_orgs.c.id, *(_connections.c[field.name] for field in fields(Connection)))
                  .outerjoin_from(_orgs, _connections, _connections.c.org_id == _orgs.c.id)
                  .where(_orgs.c.slug == bindparam("slug")))


def connection_of(db: Session, slug: str) -> Connection:
    """:raise NotFound: unknown organization, or no SSO configured for it."""
    row = core_execute(db, _CONNECTION_OF, {"slug": slug}).first()
    if row is None:
        raise NotFound()
    if row[1] is None:
        raise SsoNotConfigured()
    return Connection(*row[1:])


def metadata_for(db: Session, settings: Settings, slug: str) -> str:
    organization(db, slug)
    return sp_metadata(service_provider(settings, slug))


def _invalid(message: str) -> BadRequest:
    return BadRequest(message, code="invalid_field")


def _clean_list(values, field: str, *, lower: bool = False) -> list[str]:
    """A list of names from a list, or from text separated by commas or spaces."""
    if isinstance(values, str):
        values = values.replace(",", " ").split()
    if values is None:
        values = []
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
        raise _invalid(f"{field} must be a list of names.")
    cleaned = [v.strip() for v in values if v.strip()]
    if len(cleaned) > 100 or any(len(v) > 256 or not v.isprintable() for v in cleaned):
        raise _invalid(f"{field}: at most 100 names of at most 256 printable characters.")
    return sorted({v.lower() for v in cleaned}) if lower else list(dict.fromkeys(cleaned))


def _attribute_name(value, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value.strip()) > 256 or not value.strip().isprintable():
        raise _invalid(f"{field} must be an attribute name of at most 256 printable characters.")
    return value.strip() or None


# The connection's columns hold this much; longer metadata is refused, never cut.
_METADATA_LIMITS = {"entity ID": 512, "single sign-on URL": 1024, "single logout URL": 1024}


def configure(
    db: Session, org_id: int, *, metadata_xml: str, default_role="user", allow_idp_initiated: bool = False,
    email_domains=(), admin_groups=(), group_attribute: str | None = None, email_attribute: str | None = None,
    name_attribute: str | None = None, actor: Actor, now: datetime,
) -> SamlConnection:
    """Connect (or reconnect) an organization's IdP from its metadata.

    :raise BadRequest: invalid metadata (`invalid_metadata`), role or domain.
    :raise Conflict: a domain another organization declared already.
    """
    try:
        idp = parse_idp_metadata(metadata_xml)
    except saml_errors.MetadataError as exc:
        raise BadRequest(exc.message, code="invalid_metadata") from None
    for (what, limit), value in zip(_METADATA_LIMITS.items(), (idp.entity_id, idp.sso_url, idp.slo_url)):
        if value and len(value) > limit:
            raise BadRequest(f"The metadata's {what} is longer than {limit} characters.", code="invalid_metadata")
    with about("default_role"):
        role = parse_role(default_role)
    if not isinstance(allow_idp_initiated, bool):
        raise _invalid("allow_idp_initiated must be true or false.")
    admin_groups = _clean_list(admin_groups, "admin_groups")
    group_attribute, email_attribute, name_attribute = (
        _attribute_name(value, field) for value, field in ((group_attribute, "group_attribute"),
                                                            (email_attribute, "email_attribute"),
                                                            (name_attribute, "name_attribute")))
    domains = sorted({_ascii_domain(domain) for domain in _clean_list(email_domains, "email_domains", lower=True)})
    connection = db.scalar(select(SamlConnection).where(SamlConnection.org_id == org_id))
    if connection is None:
        connection = SamlConnection(org_id=org_id, created_at=now)
        db.add(connection)
    connection.idp_entity_id, connection.sso_url, connection.slo_url = idp.entity_id, idp.sso_url, idp.slo_url
    connection.signing_certs = list(idp.signing_certs)
    connection.metadata_xml = metadata_xml if isinstance(metadata_xml, str) else metadata_xml.decode()
    connection.default_role = role
    connection.allow_idp_initiated = allow_idp_initiated
    connection.admin_groups = admin_groups
    connection.group_attribute, connection.email_attribute = group_attribute, email_attribute
    connection.name_attribute = name_attribute
    connection.updated_at = now
    db.flush()  # the id, for the domains and the audit row
    _declare_domains(db, connection.id, domains)
    record(db, actor, AuditAction.SAML_CONFIGURE, now=now, org_id=org_id, idp_entity_id=idp.entity_id,
           certificates=len(idp.signing_certs), allow_idp_initiated=connection.allow_idp_initiated,
           email_domains=domains)
    return connection


def _ascii_domain(domain: str) -> str:
    """A domain as normalized email addresses carry it (IDNA, lowercase): `bücher.example` is
    declared, and compared, as `xn--bcher-kva.example`.

    :raise BadRequest: not a domain name.
    """
    if "@" not in domain and "." in domain and len(domain) <= 253:
        try:
            return normalize_email(f"postmaster@{domain}").rsplit("@", 1)[1]
        except BadRequest:
            pass
    raise BadRequest(f"{domain!r} is not a domain name.", code="invalid_domain", field="email_domains")


_domains = SamlEmailDomain.__table__
_declared_by = _domains.join(_connections, _connections.c.id == _domains.c.connection_id)  # domain → connection


def _declare_domains(db: Session, connection_id: int, domains: list[str]) -> None:
    """Make `domains` the connection's declared domains.

    :raise Conflict: some are another organization's. The domain is the table's key: of two
        organizations declaring one domain at once, the database lets one have it.
    """
    db.execute(delete(_domains).where(_domains.c.connection_id == connection_id, _domains.c.domain.not_in(domains)))
    held = set(db.scalars(select(_domains.c.domain).where(_domains.c.connection_id == connection_id)))
    taken = [domain for domain in domains
             if domain not in held and not insert_if_absent(db, SamlEmailDomain, domain=domain,
                                                            connection_id=connection_id)]
    if taken:
        raise Conflict(f"Another organization declared {', '.join(taken)} for its identity provider.",
                       code="domain_taken", field="email_domains")


def declared_domains(db: Session, org_id: int) -> list[str]:
    """The email domains the organization declared for its IdP, sorted."""
    return list(db.scalars(select(_domains.c.domain).select_from(_declared_by)
                           .where(_connections.c.org_id == org_id).order_by(_domains.c.domain)))


# Built once, bound per call: asked on first sign-ins (provisioning.decide).
_DOMAIN_CLAIM = select(
    select(_domains.c.connection_id).where(_domains.c.domain == bindparam("domain")).scalar_subquery(),
    exists().where(_domains.c.connection_id == bindparam("connection_id")),
)


def _domain_claims(db: Session, connection: Connection):
    def domain_claim(domain: str) -> provisioning.DomainClaim:
        owner, declares_any = core_execute(db, _DOMAIN_CLAIM, {"domain": domain,
                                                               "connection_id": connection.id}).first()
        return provisioning.DomainClaim(here=owner == connection.id, elsewhere=owner not in (None, connection.id),
                                        declares_any=bool(declares_any))
    return domain_claim


def route(db: Session, email_or_slug: str) -> str:
    """The organization slug for "continue with SSO": by the email's declared domain, or a slug.

    :raise NotFound: nothing configured for it.
    """
    value = (email_or_slug or "").strip().lower()
    if "@" in value:
        try:
            domain = _ascii_domain(value.rsplit("@", 1)[-1])
        except BadRequest:
            domain = None
        slug = db.scalar(select(_orgs.c.slug)
                         .select_from(_declared_by.join(_orgs, _orgs.c.id == _connections.c.org_id))
                         .where(_domains.c.domain == domain))
        if slug is not None:
            return slug
        raise NotFound("No single sign-on is set up for that email domain.", code="sso_not_configured")
    connection_of(db, value)
    return value


# -- sign-in ---------------------------------------------------------------------------------

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


def organization_name(db: Session, slug: str) -> str:
    """The name of an organization whose IdP is connected (for the confirmation page).

    :raise NotFound: unknown organization, or no SSO configured for it.
    """
    connection_of(db, slug)
    return organization(db, slug).name


def start_login(db: Session, slug: str, *, next_url: str | None, settings: Settings, now: datetime,
                browser: str | None = None) -> str:
    """Record the AuthnRequest server-side under an opaque RelayState; returns the IdP URL.

    `browser` is the starting browser's key (see views.BROWSER_COOKIE): the answer must come
    back from the same browser.
    """
    connection = connection_of(db, slug)
    relay_state = _relay_state(browser)
    url, request_id = saml_sp.start_login(service_provider(settings, slug), identity_provider(connection),
                                          relay_state)
    db.add(SamlLoginRequest(relay_state=relay_state, request_id=request_id, connection_id=connection.id,
                            next_url=safe_next(next_url),
                            expires_at=now + LOGIN_REQUEST_TTL))
    return url


_requests = SamlLoginRequest.__table__
# Built once, bound per call: plain Core on the table skips the ORM's DML bookkeeping on the ACS.
_CLAIM_LOGIN_REQUEST = (
    delete(_requests)
    .where(_requests.c.relay_state == bindparam("relay_state"),
           _requests.c.connection_id == bindparam("connection_id"), _requests.c.expires_at > bindparam("now"))
    .returning(_requests.c.request_id, _requests.c.next_url)
)


def _claim_login_request(db: Session, connection: Connection, relay_state: str | None,
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


# An IdP may sign an expiry in the year 9999; the replay row is kept until then all the same.
_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=timezone.utc)


def _replay_guard(db: Session, issuer: str):
    def remember(assertion_id: str, not_on_or_after: datetime) -> bool:
        # A unique row, kept while the assertion could still pass the time checks (its expiry plus the
        # largest skew allowed): the database decides, on every instance.
        return insert_if_absent(db, SeenAssertion, issuer=issuer, assertion_id=assertion_id[:256],
                                expires_at=min(not_on_or_after, _FAR_FUTURE) + SAML_MAX_CLOCK_SKEW)
    return remember


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
    connection = connection_of(db, slug)
    pending = _claim_login_request(db, connection, relay_state, now)
    if pending and binds_to_browser(settings) and not started_in(relay_state, browser):
        raise SsoRejected("This sign-in was started in another browser. Start it again here.",
                          code="started_elsewhere")
    try:
        assertion = saml_sp.consume(
            service_provider(settings, slug), identity_provider(connection), saml_response,
            expected_request_id=pending[0] if pending else None,
            allow_idp_initiated=connection.allow_idp_initiated, now=now, clock_skew=settings.saml_clock_skew,
            remember_assertion=_replay_guard(db, connection.idp_entity_id),
        )
    except saml_errors.SamlError as exc:
        raise SsoRejected(exc.message, code=exc.code) from None
    identity = provisioning.ExternalIdentity(
        org_id=connection.org_id, issuer=assertion.issuer, subject=assertion.name_id,
        email=mapping.email_of(assertion, connection.email_attribute),
        name=mapping.name_of(assertion, connection.name_attribute),
        groups=mapping.groups_of(assertion, connection.group_attribute),
    )
    decision = provisioning.decide(db, identity, domain_claim=_domain_claims(db, connection))
    account = provisioning.apply(db, decision, identity, default_role=connection.default_role,
                                 admin_groups=connection.admin_groups or [], now=now)
    actor = actor.as_user(account.user_id, account.email, connection.org_id)
    token, session = sessions.start(db, account.user_id, org_id=connection.org_id, restricted=False, actor=actor,
                                    settings=settings, now=now, sso_org_id=connection.org_id,
                                    sso_name_id=assertion.name_id, sso_name_id_format=assertion.name_id_format,
                                    sso_session_index=assertion.session_index)
    record(db, actor, AuditAction.LOGIN_SUCCESS, now=now, org_id=connection.org_id, target_id=account.user_id,
           target_email=account.email, method="saml", provisioning=str(decision.action),
           idp_initiated=pending is None)
    return SsoSignIn(SignIn(token, session), pending[1] if pending else None)


def record_rejection(db: Session, slug: str, exc: GatewayError, *, actor: Actor, now: datetime) -> None:
    """The audit row of a refused SSO sign-in (written after the refused work was rolled back)."""
    org = db.scalar(select(Organization).where(Organization.slug == slug))
    record(db, actor, AuditAction.SAML_LOGIN_DENIED, now=now, org_id=org.id if org else None,
           reason=getattr(exc, "reason", None) or exc.code)


# -- single logout ---------------------------------------------------------------------------

def logout_redirect(db: Session, session_id: int, *, settings: Settings) -> str | None:
    """Where to send the browser after our own sign-out: the IdP's SLO endpoint, for SSO sessions."""
    row = db.get(UserSession, session_id)
    if row is None or row.sso_org_id is None or not row.sso_name_id:
        return None
    org = db.get(Organization, row.sso_org_id)
    if org is None:
        return None
    try:
        connection = connection_of(db, org.slug)
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
    connection = connection_of(db, slug)
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
