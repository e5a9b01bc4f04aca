"""Managing groups and their members: by hand, and from the IdP's group attribute at each sign-in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session

from gateway.accounts.models import User
from gateway.audit.actions import AuditAction
from gateway.audit.service import record
from gateway.db import core_execute, insert_if_absent
from gateway.errors import BadRequest, Conflict, NotFound
from gateway.groups import roles as group_roles
from gateway.groups.models import Group, GroupMember, Source
from gateway.orgs.access import AdminScope, get_member
from gateway.orgs.models import Membership
from gateway.params import row_id

# Apps receive names comma-separated in X-Auth-Groups: no comma, space or upper case in one.
NAME = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")


@dataclass(frozen=True)
class GroupView:
    id: int
    name: str
    description: str
    sso_name: str | None
    members: int
    role: str | None = None  # the role its members take (gateway.groups.roles)


@dataclass(frozen=True)
class GroupMemberView:
    user_id: int
    name: str
    email: str
    source: str


def parse_name(value) -> str:
    """:raise BadRequest: not a name apps can receive in X-Auth-Groups."""
    name = str(value or "").strip().lower()
    if not NAME.match(name):
        raise BadRequest("A group name is 1 to 64 lower-case letters, digits, '.', '_', ':' or '-', starting with a "
                         "letter or digit.", code="invalid_group_name", field="name")
    return name


def list_groups(db: Session, org_id: int) -> list[GroupView]:
    counts = (select(GroupMember.group_id, func.count().label("members")).group_by(GroupMember.group_id)
              .subquery())
    rows = db.execute(select(Group, func.coalesce(counts.c.members, 0)).outerjoin(counts, counts.c.group_id == Group.id)
                      .where(Group.org_id == org_id).order_by(Group.name))
    return [GroupView(group.id, group.name, group.description, group.sso_name, members, group.role)
            for group, members in rows]


def get_group(db: Session, org_id: int, group_id) -> Group:
    """:raise NotFound: no such group in this organization (nor any other's, by design)."""
    group_id = row_id(group_id)
    group = db.get(Group, group_id) if group_id is not None else None
    if group is None or group.org_id != org_id:
        raise NotFound("There is no such group in this organization.", code="unknown_group")
    return group


def ids_named(db: Session, org_id: int, names) -> dict[str, int]:
    """name → id for the organization's groups `names`. :raise BadRequest: one is not a group here."""
    wanted = {parse_name(name) for name in names}
    found = dict(db.execute(select(Group.name, Group.id).where(Group.org_id == org_id, Group.name.in_(wanted))).all())
    if missing := sorted(wanted - set(found)):
        raise BadRequest(f"There is no group named {missing[0]} in this organization.", code="unknown_group",
                         field="groups")
    return found


def create_group(db: Session, scope: AdminScope, name, *, description: str = "", sso_name: str | None = None,
                 role: str | None = None, now: datetime) -> Group:
    """A group, empty; with `role`, the members put in it later take that role (gateway.groups.roles).

    :raise BadRequest: a bad name, `unknown_role`. :raise Conflict: the organization has a group so named.
    """
    name = parse_name(name)
    role = group_roles.parse(db, scope.org_id, role)
    _ensure_name_free(db, scope.org_id, name)
    group = Group(org_id=scope.org_id, name=name, description=_description(description),
                  sso_name=_sso_name(sso_name), role=role, created_at=now)
    db.add(group)
    db.flush()
    record(db, scope.actor, AuditAction.GROUP_CREATE, now=now, org_id=scope.org_id, group=name,
           **({"role": role} if role else {}))
    return group


_UNSET = object()


def update_group(db: Session, scope: AdminScope, group_id, *, name=_UNSET, description=_UNSET, sso_name=_UNSET,
                 role=_UNSET, now: datetime) -> Group:
    """Rename a group, or change its description, the IdP group that fills it or the role it maps to
    (None: none). A new role mapping applies to its members at once (gateway.groups.roles).

    :raise BadRequest: a bad name, `unknown_role`. :raise Conflict: `group_exists`.
    :raise LastAdmin: the new mapping would demote the last active admin (nothing is changed).
    """
    group = get_group(db, scope.org_id, group_id)
    changed = {}
    if name is not _UNSET and (name := parse_name(name)) != group.name:
        _ensure_name_free(db, scope.org_id, name)
        changed["old_name"], group.name = group.name, name
    if description is not _UNSET:
        group.description = _description(description)
    if sso_name is not _UNSET:
        group.sso_name = _sso_name(sso_name)
    if role is not _UNSET and (role := group_roles.parse(db, scope.org_id, role)) != group.role:
        changed["old_role"], changed["role"], group.role = group.role, role, role
    record(db, scope.actor, AuditAction.GROUP_UPDATE, now=now, org_id=scope.org_id, group=group.name, **changed)
    if "role" in changed:
        db.flush()  # the members' roles are computed from the stored mapping
        group_roles.follow(db, scope, group_roles.members_of(db, group.id), group=group.name, now=now)
    return group


def delete_group(db: Session, scope: AdminScope, group_id, *, now: datetime) -> None:
    """Its members leave it; app rules that named it stop admitting anyone by it."""
    group = get_group(db, scope.org_id, group_id)
    touched = group_roles.members_of(db, group.id) if group.role is not None else []
    db.execute(delete(GroupMember).where(GroupMember.group_id == group.id))
    db.delete(group)
    record(db, scope.actor, AuditAction.GROUP_DELETE, now=now, org_id=scope.org_id, group=group.name)
    if touched:
        db.flush()  # the members' roles are computed without the group
        group_roles.follow(db, scope, touched, group=group.name, now=now)


def members_of(db: Session, org_id: int, group_id) -> list[GroupMemberView]:
    group = get_group(db, org_id, group_id)
    rows = db.execute(select(User.id, User.name, User.email, GroupMember.source)
                      .join(Membership, Membership.id == GroupMember.membership_id)
                      .join(User, User.id == Membership.user_id)
                      .where(GroupMember.group_id == group.id).order_by(User.name, User.id))
    return [GroupMemberView(user_id, name, email, str(source)) for user_id, name, email, source in rows]


def add_member(db: Session, scope: AdminScope, group_id, user_id, *, now: datetime) -> bool:
    """Put a member in a group by hand; False when they were in it already. A group with a role
    gives it to them, by gateway.groups.roles' rule.

    :raise NotFound: no such group here. :raise BadRequest: `user_id` names no member here (the input
        is wrong, not the group). :raise LastAdmin: the group's role would demote the last active admin.
    """
    group = get_group(db, scope.org_id, group_id)
    try:
        membership = get_member(db, scope, user_id)
    except NotFound as exc:
        raise BadRequest(exc.message, code="unknown_member", field="user_id") from None
    added = insert_if_absent(db, GroupMember, group_id=group.id, membership_id=membership.id,
                             source=Source.MANUAL, added_at=now)
    if added:
        record(db, scope.actor, AuditAction.GROUP_MEMBER_ADD, now=now, org_id=scope.org_id,
               target_id=membership.user_id, target_email=membership.user.email, group=group.name)
        if group.role is not None:
            group_roles.follow(db, scope, [membership.id], group=group.name, now=now)
    return added


def remove_member(db: Session, scope: AdminScope, group_id, user_id, *, now: datetime) -> bool:
    """Take a member out of a group; False when they were not in it. Leaving a group with a role
    recomputes theirs, by gateway.groups.roles' rule.

    :raise NotFound: no such group or member here. :raise LastAdmin: it would demote the last active admin.
    """
    group = get_group(db, scope.org_id, group_id)
    membership = get_member(db, scope, user_id)
    removed = db.execute(delete(GroupMember).where(GroupMember.group_id == group.id,
                                                   GroupMember.membership_id == membership.id)).rowcount == 1
    if removed:
        record(db, scope.actor, AuditAction.GROUP_MEMBER_REMOVE, now=now, org_id=scope.org_id,
               target_id=membership.user_id, target_email=membership.user.email, group=group.name)
        if group.role is not None:
            group_roles.follow(db, scope, [membership.id], group=group.name, now=now)
    return removed


def names_of(db: Session, membership_id: int) -> list[str]:
    """The groups a member is in, by name."""
    return list(db.scalars(select(Group.name).join(GroupMember, GroupMember.group_id == Group.id)
                           .where(GroupMember.membership_id == membership_id).order_by(Group.name)))


def sync_from_idp(db: Session, org_id: int, user_id: int, idp_groups, *, now: datetime) -> list[str]:
    """At each sign-in through the organization's IdP: the member is in exactly those groups whose
    IdP name the assertion lists, among the groups filled from the IdP. Groups an admin filled by
    hand are left as they are.

    Returns the names of the groups mapped to a role that the member joined or left here (for
    gateway.groups.roles.follow_sign_in), sorted; usually none.
    """
    filled = {name: (group_id, role, group) for name, group_id, role, group
              in core_execute(db, _IDP_FILLED, {"org_id": org_id}).all()}
    if not filled:
        return []  # the common case, and the sign-in's only extra query
    membership_id = db.scalar(select(Membership.id).where(Membership.org_id == org_id, Membership.user_id == user_id))
    wanted = {filled[name][0] for name in set(idp_groups) & set(filled)}
    held = dict(db.execute(select(GroupMember.group_id, GroupMember.source)
                           .where(GroupMember.membership_id == membership_id,
                                  GroupMember.group_id.in_([group_id for group_id, _, _ in filled.values()]))).all())
    stale = [group_id for group_id, source in held.items() if source == Source.SSO and group_id not in wanted]
    if stale:
        db.execute(delete(GroupMember).where(GroupMember.membership_id == membership_id,
                                             GroupMember.group_id.in_(stale)))
    joined = sorted(wanted - set(held))
    for group_id in joined:
        insert_if_absent(db, GroupMember, group_id=group_id, membership_id=membership_id, source=Source.SSO,
                         added_at=now)
    changed = set(stale) | set(joined)
    return sorted(group for group_id, role, group in filled.values() if group_id in changed and role is not None)


# Built once, bound per call: asked at every SSO sign-in (the ACS), where the ORM's execution costs a
# third of the request's time over stock python3-saml.
_groups = Group.__table__
_IDP_FILLED = select(_groups.c.sso_name, _groups.c.id, _groups.c.role, _groups.c.name).where(
    _groups.c.org_id == bindparam("org_id"), _groups.c.sso_name.is_not(None))


def _ensure_name_free(db: Session, org_id: int, name: str) -> None:
    if db.scalar(select(Group.id).where(Group.org_id == org_id, Group.name == name)) is not None:
        raise Conflict(f"The organization has a group named {name} already.", code="group_exists", field="name")


def _description(value) -> str:
    text = str(value or "").strip()
    if len(text) > 200:
        raise BadRequest("A description is at most 200 characters.", code="too_long", field="description")
    return text


def _sso_name(value) -> str | None:
    text = str(value or "").strip()
    if len(text) > 256:
        raise BadRequest("An IdP group name is at most 256 characters.", code="too_long", field="sso_name")
    return text or None
