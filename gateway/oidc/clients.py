"""Registering an organization's OpenID Connect clients.

A client is an application of the organization (gateway.apps) that signs in through our provider:
it is created with the app, named by it, and admits whom the app's rule admits. Its redirect URIs
are kept as written and matched exactly: no wildcard, no normalisation (Keycloak's redirect CVEs
came from matching "the same" URI loosely). A confidential client's secret is shown once and kept
as a SHA-256 verifier.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway.apps import services as apps
from gateway.apps.models import App
from gateway.audit.actions import AuditAction
from gateway.audit.service import record
from gateway.errors import BadRequest, Conflict, NotFound
from gateway.oidc.models import OidcClient, OidcClientUri, SigningAlg, UriKind
from gateway.orgs.access import AdminScope
from gateway.params import row_id

MAX_URIS = 10
MAX_URI_LENGTH = 2000
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class ClientView:
    id: int
    app_id: int
    name: str
    client_id: str
    public: bool
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    backchannel_logout_uri: str | None
    id_token_alg: str
    require_consent: bool
    created_at: datetime


def hash_secret(secret: str) -> str:
    # A 256-bit random secret needs no slow hash: SHA-256 is a sound verifier for it.
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def secret_matches(client: OidcClient, secret) -> bool:
    if client.secret_hash is None or not isinstance(secret, str):
        return False
    return hmac.compare_digest(client.secret_hash, hash_secret(secret))


def check_uri(value, field: str = "redirect_uris") -> str:
    """An absolute https URI (http on loopback only, for local tools), without fragment or user
    info, kept exactly as written. :raise BadRequest: anything else."""
    text = value.strip() if isinstance(value, str) else ""
    problem = None
    if not text or len(text) > MAX_URI_LENGTH or not text.isprintable() or " " in text:
        problem = "is empty, too long or holds a space or control character"
    elif not text.isascii():
        # A URI is ASCII (RFC 3986 §2; an IRI's other characters are percent-encoded, as browsers
        # send them, so a raw one would never match). It also keeps a URI within what PostgreSQL
        # can index (2000 bytes: the key of oidc_client_uris).
        problem = "holds a character that is not ASCII: percent-encode it"
    else:
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 (raises on a bad port)
        except ValueError:
            parts, problem = None, "cannot be read"
        if parts is not None:
            if parts.scheme not in ("https", "http") or not parts.hostname:
                problem = "must be an absolute https URI"
            elif parts.scheme == "http" and parts.hostname not in _LOOPBACK:
                problem = "must use https (http only on 127.0.0.1, [::1] or localhost)"
            elif "@" in parts.netloc:
                problem = "must not name a user"
            elif "#" in text:
                problem = "must not have a fragment"
            elif "*" in text:
                problem = "must not hold a wildcard: each URI is matched exactly"
    if problem:
        raise BadRequest(f"{text[:100]!r} {problem}.", code="invalid_uri", field=field)
    return text


def _uris(values, field: str, *, needed: bool) -> list[str]:
    if values is None:
        values = []
    if isinstance(values, str):
        values = values.split()
    if not isinstance(values, (list, tuple)):
        raise BadRequest("A list of URIs is expected.", code="invalid_uri", field=field)
    # Counted as given, before repeats are dropped: the API's document says `maxItems` of the list sent.
    if len(values) > MAX_URIS:
        raise BadRequest(f"At most {MAX_URIS} URIs.", code="too_many_uris", field=field)
    uris = list(dict.fromkeys(check_uri(value, field) for value in values))
    if needed and not uris:
        raise BadRequest("A client needs at least one redirect URI.", code="no_redirect_uri", field=field)
    return uris


def _alg(value) -> SigningAlg:
    try:
        return SigningAlg(SigningAlg.RS256 if value is None else value)
    except ValueError:
        raise BadRequest("The ID token is signed RS256 or ES256.", code="invalid_alg",
                         field="id_token_signed_response_alg") from None


def create_client(db: Session, scope: AdminScope, *, name, redirect_uris, public: bool = False,
                  post_logout_redirect_uris=(), backchannel_logout_uri=None, id_token_alg=None,
                  require_consent: bool = False, now: datetime) -> tuple[OidcClient, str | None]:
    """A client and its app (open to everyone in the organization until its rule says otherwise);
    returns it and, for a confidential client, its secret (shown once)."""
    login = _uris(redirect_uris, "redirect_uris", needed=True)
    logout = _uris(post_logout_redirect_uris, "post_logout_redirect_uris", needed=False)
    backchannel = check_uri(backchannel_logout_uri, "backchannel_logout_uri") if backchannel_logout_uri else None
    alg = _alg(id_token_alg)
    app = apps.create_app(db, scope, name=name, routes=(), now=now, needs_routes=False)
    secret = None if public else secrets.token_urlsafe(32)
    client = OidcClient(app_id=app.id, org_id=scope.org_id, client_id=secrets.token_urlsafe(18),
                        secret_hash=None if secret is None else hash_secret(secret), id_token_alg=alg,
                        require_consent=bool(require_consent), backchannel_logout_uri=backchannel, created_at=now)
    db.add(client)
    db.flush()  # the client's id, for its URIs
    _set_uris(db, client, UriKind.LOGIN, login)
    _set_uris(db, client, UriKind.LOGOUT, logout)
    record(db, scope.actor, AuditAction.OIDC_CLIENT_CREATE, now=now, org_id=scope.org_id, app=app.name,
           client_id=client.client_id, public=secret is None, redirect_uris=login)
    return client, secret


_UNSET = object()


def update_client(db: Session, scope: AdminScope, client_pk, *, redirect_uris=_UNSET,
                  post_logout_redirect_uris=_UNSET, backchannel_logout_uri=_UNSET, id_token_alg=_UNSET,
                  require_consent=_UNSET, now: datetime) -> OidcClient:
    """Change what is given; the rest stays. (The name and the rule are the app's: gateway.apps.)"""
    client = get_client(db, scope.org_id, client_pk)
    # Everything is checked before anything is written.
    login = None if redirect_uris is _UNSET else _uris(redirect_uris, "redirect_uris", needed=True)
    logout = (None if post_logout_redirect_uris is _UNSET
              else _uris(post_logout_redirect_uris, "post_logout_redirect_uris", needed=False))
    if backchannel_logout_uri is not _UNSET and backchannel_logout_uri:
        backchannel_logout_uri = check_uri(backchannel_logout_uri, "backchannel_logout_uri")
    alg = _UNSET if id_token_alg is _UNSET else _alg(id_token_alg)
    if backchannel_logout_uri is not _UNSET:
        client.backchannel_logout_uri = backchannel_logout_uri or None
    if alg is not _UNSET:
        client.id_token_alg = alg
    if require_consent is not _UNSET:
        client.require_consent = bool(require_consent)
    if login is not None:
        _set_uris(db, client, UriKind.LOGIN, login)
    if logout is not None:
        _set_uris(db, client, UriKind.LOGOUT, logout)
    db.flush()
    record(db, scope.actor, AuditAction.OIDC_CLIENT_UPDATE, now=now, org_id=scope.org_id,
           app=db.get(App, client.app_id).name, client_id=client.client_id)
    return client


def rotate_secret(db: Session, scope: AdminScope, client_pk, *, now: datetime) -> str:
    """A new secret for a confidential client (shown once); the old one stops working at once.
    :raise Conflict: a public client has no secret (the client, not the request, is what refuses)."""
    client = get_client(db, scope.org_id, client_pk)
    if client.secret_hash is None:
        raise Conflict("A public client has no secret: it proves itself with PKCE alone.", code="public_client")
    secret = secrets.token_urlsafe(32)
    client.secret_hash = hash_secret(secret)
    record(db, scope.actor, AuditAction.OIDC_CLIENT_SECRET, now=now, org_id=scope.org_id,
           app=db.get(App, client.app_id).name, client_id=client.client_id)
    return secret


def delete_client(db: Session, scope: AdminScope, client_pk, *, now: datetime) -> None:
    """The client, its app and everything it was given (grants, tokens) go (audited by the app's
    deletion, which takes a client along however it is reached)."""
    client = get_client(db, scope.org_id, client_pk)
    apps.delete_app(db, scope, client.app_id, now=now)


def get_client(db: Session, org_id: int, client_pk) -> OidcClient:
    """:raise NotFound: no such client in this organization."""
    client_pk = row_id(client_pk)
    client = db.get(OidcClient, client_pk) if client_pk is not None else None
    if client is None or client.org_id != org_id:
        raise NotFound("There is no such OpenID Connect client in this organization.", code="unknown_client")
    return client


def by_client_id(db: Session, client_id) -> OidcClient | None:
    if not isinstance(client_id, str) or not 1 <= len(client_id) <= 64 or not client_id.isprintable():
        return None  # (PostgreSQL refuses a NUL in a query outright)
    return db.scalar(select(OidcClient).where(OidcClient.client_id == client_id))


def uris_of(db: Session, client_pk: int, kind: UriKind) -> list[str]:
    return list(db.scalars(select(OidcClientUri.uri).where(OidcClientUri.client_pk == client_pk,
                                                            OidcClientUri.kind == kind)
                           .order_by(OidcClientUri.uri)))


def view(db: Session, client: OidcClient) -> ClientView:
    return ClientView(
        id=client.id, app_id=client.app_id, name=db.get(App, client.app_id).name, client_id=client.client_id,
        public=client.secret_hash is None, redirect_uris=uris_of(db, client.id, UriKind.LOGIN),
        post_logout_redirect_uris=uris_of(db, client.id, UriKind.LOGOUT),
        backchannel_logout_uri=client.backchannel_logout_uri, id_token_alg=str(client.id_token_alg),
        require_consent=client.require_consent, created_at=client.created_at)


def list_clients(db: Session, org_id: int) -> list[ClientView]:
    clients = db.scalars(select(OidcClient).join(App, App.id == OidcClient.app_id)
                         .where(OidcClient.org_id == org_id).order_by(App.name, OidcClient.id))
    return [view(db, client) for client in clients]


def _set_uris(db: Session, client: OidcClient, kind: UriKind, uris: list[str]) -> None:
    db.execute(delete(OidcClientUri).where(OidcClientUri.client_pk == client.id, OidcClientUri.kind == kind))
    db.add_all(OidcClientUri(client_pk=client.id, kind=kind, uri=uri) for uri in uris)


def asking(db: Session, next_url) -> tuple[str, str] | None:
    """(the app's name, its redirect URI) when a sign-in goes on to an authorization request of a
    client whose redirect URI is registered: the sign-in page names the app, and lets its form lead
    there (the chain of redirects after the post ends at the client)."""
    if not isinstance(next_url, str) or not next_url.startswith("/oauth/authorize?"):
        return None
    query = parse_qs(next_url.split("?", 1)[1])
    client = by_client_id(db, (query.get("client_id") or [None])[0])
    redirect_uri = (query.get("redirect_uri") or [None])[0]
    if client is None or redirect_uri not in uris_of(db, client.id, UriKind.LOGIN):
        return None
    return db.get(App, client.app_id).name, redirect_uri
