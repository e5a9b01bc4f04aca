"""Roles: the built-in three (admin, auditor, user) and an organization's custom roles.

A custom role is a name apps receive in X-Auth-Role and access rules can name; in the console its
members have a User's rights. Custom names never shadow a built-in one, so a member's role name
alone says what they may do in the console (gateway.orgs.access).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gateway.apps.models import App, AppRuleRole
from gateway.audit.actions import AuditAction
from gateway.audit.service import record
from gateway.errors import BadRequest, Conflict, NotFound
from gateway.groups.models import Group
from gateway.orgs.access import AdminScope
from gateway.orgs.models import CustomRole, Membership, Role

NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
BUILT_IN = {Role.ADMIN: "Administers the organization.",
            Role.AUDITOR: "Reads everything an admin reads; changes nothing.",
            Role.USER: "Signs in and reaches the organization's apps."}


@dataclass(frozen=True)
class RoleView:
    name: str
    description: str
    built_in: bool
    members: int


def parse_name(value) -> str:
    """:raise BadRequest: not a role name we can store and send in a header."""
    name = str(value or "").strip().lower()
    if not NAME.match(name):
        raise BadRequest("A role name is 1 to 40 lower-case letters, digits, '.', '_' or '-', starting with a "
                         "letter or digit.", code="invalid_role_name", field="name")
    return name


def resolve(db: Session, org_id: int, value) -> tuple[Role, int | None]:
    """The (console role, custom role id) a role name means in this organization.

    :raise BadRequest: neither built in nor one of the organization's custom roles.
    """
    name = str(value or "").strip().lower()
    if name in Role.__members__.values():
        return Role(name), None
    custom_id = db.scalar(select(CustomRole.id).where(CustomRole.org_id == org_id, CustomRole.name == name))
    if custom_id is None:
        raise BadRequest("The role must be admin, auditor, user or one of the organization's roles.",
                         code="unknown_role", field="role")
    return Role.USER, custom_id


def names(db: Session, org_id: int) -> list[str]:
    """Every role name a member can have here: the built-in ones, then the custom ones by name."""
    custom = db.scalars(select(CustomRole.name).where(CustomRole.org_id == org_id).order_by(CustomRole.name))
    return [str(role) for role in BUILT_IN] + list(custom)


def list_roles(db: Session, org_id: int) -> list[RoleView]:
    counts = dict(db.execute(
        select(func.coalesce(CustomRole.name, Membership.role), func.count())
        .select_from(Membership).outerjoin(CustomRole, CustomRole.id == Membership.custom_role_id)
        .where(Membership.org_id == org_id)
        .group_by(func.coalesce(CustomRole.name, Membership.role))).all())
    built_in = [RoleView(str(role), text, True, counts.get(str(role), 0)) for role, text in BUILT_IN.items()]
    custom = db.scalars(select(CustomRole).where(CustomRole.org_id == org_id).order_by(CustomRole.name))
    return built_in + [RoleView(role.name, role.description, False, counts.get(role.name, 0)) for role in custom]


def get_role(db: Session, org_id: int, name) -> CustomRole:
    """:raise NotFound: no custom role of that name here (built-in roles are not custom)."""
    role = db.scalar(select(CustomRole).where(CustomRole.org_id == org_id,
                                              CustomRole.name == str(name or "").strip().lower()))
    if role is None:
        raise NotFound("There is no such role in this organization.", code="unknown_role")
    return role


def create_role(db: Session, scope: AdminScope, name, description: str = "", *, now: datetime) -> CustomRole:
    """:raise BadRequest: a bad or built-in name. :raise Conflict: the organization has one so named."""
    name = parse_name(name)
    if name in Role.__members__.values():
        raise BadRequest(f"{name} is a built-in role.", code="built_in_role", field="name")
    if db.scalar(select(CustomRole.id).where(CustomRole.org_id == scope.org_id, CustomRole.name == name)):
        raise Conflict(f"The organization has a role named {name} already.", code="role_exists", field="name")
    role = CustomRole(org_id=scope.org_id, name=name, description=_description(description), created_at=now)
    db.add(role)
    db.flush()
    record(db, scope.actor, AuditAction.ROLE_CREATE, now=now, org_id=scope.org_id, role=name)
    return role


def update_role(db: Session, scope: AdminScope, name, description: str, *, now: datetime) -> CustomRole:
    """Only the description changes: the name is what apps and rules know the role by."""
    role = get_role(db, scope.org_id, name)
    role.description = _description(description)
    record(db, scope.actor, AuditAction.ROLE_UPDATE, now=now, org_id=scope.org_id, role=role.name)
    return role


def delete_role(db: Session, scope: AdminScope, name, *, now: datetime) -> int:
    """Delete a custom role; its members become users (returns how many). Rules naming it stop
    admitting anyone by it, and groups mapped to it map to no role."""
    role = get_role(db, scope.org_id, name)
    moved = db.execute(update(Membership).where(Membership.custom_role_id == role.id)
                       .values(custom_role_id=None, version=Membership.version + 1)).rowcount
    # Groups mapped to it map to no role from now on (gateway.groups.roles); its members are users above.
    db.execute(update(Group).where(Group.org_id == scope.org_id, Group.role == role.name).values(role=None))
    db.execute(AppRuleRole.__table__.delete().where(
        AppRuleRole.role == role.name,
        AppRuleRole.app_id.in_(select(App.id).where(App.org_id == scope.org_id))))
    db.delete(role)
    record(db, scope.actor, AuditAction.ROLE_DELETE, now=now, org_id=scope.org_id, role=role.name, members=moved)
    return moved


def _description(value) -> str:
    text = str(value or "").strip()
    if len(text) > 200:
        raise BadRequest("A description is at most 200 characters.", code="too_long", field="description")
    return text
