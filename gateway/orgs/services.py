"""Creating organizations and adding members."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, joinedload

from gateway.accounts.models import User
from gateway.errors import BadRequest, Conflict
from gateway.orgs.models import MemberStatus, Membership, Organization, Role

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")


def validate_slug(slug: str) -> str:
    """:raise BadRequest: unless 1–40 lowercase letters, digits or inner hyphens."""
    slug = (slug or "").strip().lower()
    if not _SLUG.match(slug):
        raise BadRequest(
            "The organization's short name takes 1 to 40 lowercase letters, digits and hyphens.",
            code="invalid_slug", field="org_slug",
        )
    return slug


def validate_org_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not 2 <= len(name) <= 80:
        raise BadRequest("The organization's name takes 2 to 80 characters.", code="invalid_org_name", field="org_name")
    # Like a person's name: shown on every page, and PostgreSQL refuses NUL in text outright (a 500).
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise BadRequest("The organization's name cannot contain control characters.", code="invalid_org_name",
                         field="org_name")
    return name


def any_organization_exists(db: Session) -> bool:
    return db.scalar(select(exists().where(Organization.id.is_not(None))))


def create_org(db: Session, *, slug: str, name: str, now: datetime) -> Organization:
    """:raise Conflict: when the slug is taken."""
    slug, name = validate_slug(slug), validate_org_name(name)
    if db.scalar(select(Organization.id).where(Organization.slug == slug)) is not None:
        raise Conflict(f"The short name {slug!r} is taken.", code="slug_taken", field="org_slug")
    org = Organization(slug=slug, name=name, created_at=now)
    db.add(org)
    db.flush()  # the id is needed for the membership
    return org


class AlreadyMember(Conflict):
    code, message, field = "already_member", "This person is already a member of the organization.", "email"


def add_member(db: Session, org: Organization, user: User, *, role: Role, now: datetime) -> Membership:
    membership = Membership(org_id=org.id, user_id=user.id, role=role, status=MemberStatus.ACTIVE,
                            joined_at=now)
    db.add(membership)
    db.flush()  # so that the membership is visible to the session being started
    return membership


def membership_to_use(db: Session, user: User) -> Membership | None:
    """The organization a new session works in: the last one used, else the oldest active one."""
    active = list(
        db.scalars(
            select(Membership)
            .where(Membership.user_id == user.id, Membership.status == MemberStatus.ACTIVE)
            .order_by(Membership.joined_at, Membership.id)
        )
    )
    for membership in active:
        if membership.org_id == user.last_org_id:
            return membership
    return active[0] if active else None


def memberships_of(db: Session, user_id: int) -> list[Membership]:
    """Every organization a user belongs to, with their role and standing, oldest first."""
    return list(db.scalars(
        select(Membership).options(joinedload(Membership.org))
        .where(Membership.user_id == user_id).order_by(Membership.joined_at, Membership.id)
    ))


def is_active_member(db: Session, user_id: int, org_id: int) -> bool:
    return db.scalar(select(exists().where(Membership.user_id == user_id, Membership.org_id == org_id,
                                           Membership.status == MemberStatus.ACTIVE)))
