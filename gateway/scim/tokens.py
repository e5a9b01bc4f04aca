"""SCIM bearer tokens: issued once, kept as SHA-256, checked on every SCIM request.

A token reaches only its own organization's /scim/v2/<slug>/: the slug in the URL must be the
token's organization, else the answer is the same 401 as for an unknown token (nothing says whether
the slug exists).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.actor import Actor
from gateway.audit.actions import AuditAction
from gateway.audit.service import record
from gateway.errors import BadRequest, NotFound
from gateway.orgs.access import AdminScope
from gateway.orgs.models import Organization
from gateway.params import row_id
from gateway.scim.errors import ScimError
from gateway.scim.models import ScimToken

PREFIX = "idgscim_"  # recognisable in a leaked-secret scan
# last_used_at is written at most this often: SCIM requests come in bursts, and a write per request
# would serialize them on the token's row.
_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenView:
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class Caller:
    """A SCIM request's authenticated token, as the services need it."""

    token_id: int
    token_name: str
    scope: AdminScope


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _name(value) -> str:
    name = " ".join(str(value or "").split()) or "SCIM"
    if len(name) > 80 or not name.isprintable():
        raise BadRequest("A token's name is at most 80 printable characters.", code="invalid_name", field="name")
    return name


def create(db: Session, org_id: int, actor: Actor, *, name=None, now: datetime) -> tuple[ScimToken, str]:
    """A new token for the organization; the token itself is returned once and never stored.

    :raise BadRequest: a bad name.
    """
    token = PREFIX + secrets.token_urlsafe(32)  # 256 bits
    row = ScimToken(org_id=org_id, name=_name(name), token_hash=hash_token(token), created_by=actor.user_id,
                    created_at=now)
    db.add(row)
    db.flush()  # the id for the audit row
    record(db, actor, AuditAction.SCIM_TOKEN_CREATE, now=now, org_id=org_id, token_id=row.id, token_name=row.name)
    return row, token


def list_tokens(db: Session, org_id: int) -> list[TokenView]:
    rows = db.scalars(select(ScimToken).where(ScimToken.org_id == org_id).order_by(ScimToken.id.desc()))
    return [TokenView(r.id, r.name, r.created_at, r.last_used_at, r.revoked_at) for r in rows]


def revoke(db: Session, org_id: int, actor: Actor, token_id, *, now: datetime) -> None:
    """The token stops working at once (the next request checks the row).

    :raise NotFound: no such token in this organization.
    """
    token_id = row_id(token_id)
    row = db.scalar(select(ScimToken).where(ScimToken.id == token_id, ScimToken.org_id == org_id)) \
        if token_id is not None else None
    if row is None:
        raise NotFound("There is no such SCIM token.", code="unknown_scim_token")
    if row.revoked_at is None:
        row.revoked_at = now
        record(db, actor, AuditAction.SCIM_TOKEN_REVOKE, now=now, org_id=org_id, token_id=row.id,
               token_name=row.name)


def _unauthorized() -> ScimError:
    return ScimError("A valid SCIM bearer token for this organization is required.", status=401,
                     code="unauthorized")


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` header; None for anything else, an empty token included."""
    scheme, _, token = (header or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 200:
        return None
    return token


def authenticate(db: Session, slug: str, header: str | None, *, ip: str | None, user_agent: str | None,
                 now: datetime) -> Caller:
    """The caller behind an Authorization header, for the organization `slug`.

    :raise ScimError: 401 for a missing, empty, unknown or revoked token, or one of another organization.
    """
    token = bearer(header)
    if token is None:
        raise _unauthorized()
    digest = hash_token(token)
    found = db.execute(select(ScimToken, Organization).join(Organization, Organization.id == ScimToken.org_id)
                       .where(ScimToken.token_hash == digest)).first()
    if found is None:
        raise _unauthorized()
    row, org = found
    # The index found the row by its hash; compare again in constant time all the same, and only
    # then look at what else decides (revocation, organization).
    if not hmac.compare_digest(row.token_hash, digest) or row.revoked_at is not None or org.slug != slug:
        raise _unauthorized()
    if row.last_used_at is None or now - row.last_used_at >= _TOUCH_EVERY:
        db.execute(update(ScimToken).where(ScimToken.id == row.id).values(last_used_at=now))
    actor = Actor(user_id=None, email=f"scim:{row.name}", org_id=org.id, ip=ip, user_agent=user_agent)
    return Caller(row.id, row.name, AdminScope(org.id, org.slug, org.name, actor))


def throttle_key(header: str | None) -> str:
    """Each token its own budget (keyed by a prefix of its hash, never the token); no token: the address."""
    token = bearer(header)
    return "scim-token:" + hash_token(token)[:32] if token else ""
