"""SCIM Groups: the organization's groups (gateway.groups), as its IdP creates, fills and removes them.

`displayName` is kept as the IdP spells it; the name apps receive (X-Auth-Groups) is derived from it
in the characters that header allows. Member changes are row inserts (ON CONFLICT DO NOTHING) and
deletes, never a rewrite of the whole list: two PATCHes adding different members at the same moment
both land, and the database decides a member added twice.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from sqlalchemy import delete as sql_delete, func, select
from sqlalchemy.orm import Session

from gateway.accounts.models import User
from gateway.audit.actions import AuditAction
from gateway.audit.service import record
from gateway.db import insert_if_absent
from gateway.groups import roles as group_roles, services as group_services
from gateway.groups.models import Group, GroupMember, Source
from gateway.orgs.models import Membership
from gateway.scim import filters, patch
from gateway.scim.errors import invalid_path, invalid_syntax, invalid_value, mutability, not_found, uniqueness
from gateway.scim.filters import Column
from gateway.scim.schemas import GROUP_SCHEMA, with_meta
from gateway.scim.tokens import Caller
from gateway.scim.users import attribute, check_version

KNOWN = {"schemas", "id", "externalid", "meta", "displayname", "members"}
MAX_MEMBERS_PER_REQUEST = 10_000


def _app_name(display_name: str) -> str:
    name = re.sub(r"[^a-z0-9_.:-]+", "-", display_name.lower()).strip("-")[:56]
    return name if name and name[0].isalnum() else f"g{secrets.token_hex(3)}"


def _parse(document) -> tuple[str, str | None, list[str] | None]:
    if not isinstance(document, dict):
        raise invalid_syntax("A group is a JSON object.")
    schemas = attribute(document, "schemas")
    if schemas is not None and (not isinstance(schemas, list) or GROUP_SCHEMA not in schemas):
        raise invalid_syntax(f"A group names the schema {GROUP_SCHEMA}.")
    unknown = [key for key in document if key.lower() not in KNOWN and not key.lower().startswith("urn:")]
    if unknown:
        raise invalid_syntax(f"Unknown attribute {unknown[0]!r}.")
    display = attribute(document, "displayName")
    if not isinstance(display, str) or not display.strip() or len(display) > 256 or not display.isprintable():
        raise invalid_value("displayName is 1 to 256 printable characters.")
    external_id = attribute(document, "externalId")
    if external_id is not None and (not isinstance(external_id, str) or len(external_id) > 256):
        raise invalid_value("externalId is a string of at most 256 characters.")
    members = attribute(document, "members")
    return display.strip(), external_id, _member_ids(members) if members is not None else None


def _member_ids(value) -> list[str]:
    if not isinstance(value, list):
        value = [value]
    if len(value) > MAX_MEMBERS_PER_REQUEST:
        raise invalid_value(f"At most {MAX_MEMBERS_PER_REQUEST} members per request.")
    ids = []
    for item in value:
        member_id = attribute(item, "value") if isinstance(item, dict) else None
        if not isinstance(member_id, str) or not member_id or len(member_id) > 64:
            raise invalid_value("Each member is an object with the member's id as value.")
        ids.append(member_id)
    return ids


def document(db: Session, group: Group, base: str) -> dict:
    members = db.execute(select(Membership.scim_id, User.name).join(GroupMember, GroupMember.membership_id ==
                                                                     Membership.id)
                         .join(User, User.id == Membership.user_id)
                         .where(GroupMember.group_id == group.id).order_by(Membership.id)).all()
    doc = {"schemas": [GROUP_SCHEMA], "id": group.scim_id, "displayName": group.display_name or group.name,
           "members": [{"value": scim_id, "$ref": f"{base}/Users/{scim_id}"}
                       for scim_id, name in members]}
    if group.external_id is not None:
        doc["externalId"] = group.external_id
    return with_meta(doc, resource_type="Group", created=group.created_at, modified=group.modified_at or group.created_at,
                     location=f"{base}/Groups/{group.scim_id}")


def _find(db: Session, caller: Caller, scim_id, *, lock: bool = False) -> Group:
    if not isinstance(scim_id, str) or len(scim_id) > 64:
        raise not_found()
    query = select(Group).where(Group.org_id == caller.scope.org_id, Group.scim_id == scim_id)
    if lock:
        query = query.with_for_update()
    group = db.scalar(query)
    if group is None:
        raise not_found()
    return group


def get(db: Session, caller: Caller, scim_id, base: str) -> dict:
    return document(db, _find(db, caller, scim_id), base)


def _resolve(path: filters.AttrPath):
    dotted = path.dotted
    if dotted == "displayname":
        return Column(func.lower(func.coalesce(Group.display_name, Group.name)))
    if dotted == "externalid":
        return Column(Group.external_id, case_exact=True)
    if dotted == "id":
        return Column(Group.scim_id, case_exact=True)
    if dotted in ("members", "members.value"):
        members = (select(GroupMember.group_id).join(Membership, Membership.id == GroupMember.membership_id)
                   .where(GroupMember.group_id == Group.id))
        return Column(Membership.scim_id, case_exact=True,
                      eq=lambda value: Group.id.in_(members.where(Membership.scim_id == value)))
    if dotted == "meta.lastmodified":
        return Column(func.coalesce(Group.modified_at, Group.created_at), kind="datetime")
    if dotted == "meta.created":
        return Column(Group.created_at, kind="datetime")
    raise filters.invalid_filter(f"Groups cannot be filtered by {dotted!r}.")


def list_groups(db: Session, caller: Caller, *, filter_text: str | None, start: int, count: int,
                base: str, with_members: bool = True) -> tuple[int, list[dict]]:
    condition = filters.to_sql(filters.parse_filter(filter_text), _resolve) if filter_text is not None else None
    query = select(Group).where(Group.org_id == caller.scope.org_id)
    if condition is not None:
        query = query.where(condition)
    total = db.scalar(select(func.count()).select_from(query.subquery()))
    if count == 0:
        return total, []
    groups = db.scalars(query.order_by(Group.id).offset(start - 1).limit(count)).all()
    return total, [document(db, group, base) for group in groups]


def _ensure_free(db: Session, org_id: int, display: str, name: str, *, other_than: int | None = None) -> None:
    query = select(Group.id).where(Group.org_id == org_id,
                                   (func.lower(func.coalesce(Group.display_name, Group.name)) == display.lower())
                                   | (Group.name == name))
    if other_than is not None:
        query = query.where(Group.id != other_than)
    if db.scalar(query.limit(1)) is not None:
        raise uniqueness(f"The organization has a group named {display} already.")


def _memberships(db: Session, org_id: int, scim_ids: list[str]) -> dict[str, tuple[int, int, str]]:
    """scim_id → (membership id, user id, email) for members of this organization.

    :raise ScimError: invalidValue naming an id that is no member here (another organization's included).
    """
    if not scim_ids:
        return {}
    found = {}
    unique = list(dict.fromkeys(scim_ids))
    for start in range(0, len(unique), 500):
        chunk = unique[start:start + 500]
        found.update({row[0]: row[1:] for row in db.execute(
            select(Membership.scim_id, Membership.id, Membership.user_id, User.email)
            .join(User, User.id == Membership.user_id)
            .where(Membership.org_id == org_id, Membership.scim_id.in_(chunk)))})
    if missing := [value for value in unique if value not in found]:
        raise invalid_value(f"{missing[0]} is not a member of this organization.")
    return found


def _add_members(db: Session, caller: Caller, group: Group, scim_ids: list[str], now: datetime) -> list[int]:
    """Returns the membership ids it put in the group (for _follow_role, once the request's changes are made)."""
    added = []
    for scim_id, (membership_id, user_id, email) in _memberships(db, group.org_id, scim_ids).items():
        if insert_if_absent(db, GroupMember, group_id=group.id, membership_id=membership_id, source=Source.SCIM,
                            added_at=now):
            added.append(membership_id)
            record(db, caller.scope.actor, AuditAction.GROUP_MEMBER_ADD, now=now, org_id=group.org_id,
                   target_id=user_id, target_email=email, group=group.name, via="scim")
    return added


def _remove_members(db: Session, caller: Caller, group: Group, membership_rows, now: datetime) -> list[int]:
    """Returns the membership ids it took out of the group."""
    removed = []
    for membership_id, user_id, email in membership_rows:
        gone = db.execute(sql_delete(GroupMember).where(GroupMember.group_id == group.id,
                                                        GroupMember.membership_id == membership_id)).rowcount
        if gone:
            removed.append(membership_id)
            record(db, caller.scope.actor, AuditAction.GROUP_MEMBER_REMOVE, now=now, org_id=group.org_id,
                   target_id=user_id, target_email=email, group=group.name, via="scim")
    return removed


def _follow_role(db: Session, caller: Caller, group: Group, membership_ids: list[int], now: datetime) -> None:
    """A group mapped to a role: the members who joined or left it take the role the rule gives them
    (gateway.groups.roles). Applied once all of a request's member changes are made, so that a PUT or
    PATCH swapping one admin for another (remove A, add B) never sees the organization without one.
    Demoting the last active admin raises LastAdmin: a 409 whose detail says why, and the view undoes
    the whole request, membership rows included."""
    if group.role is not None and membership_ids:
        group_roles.follow(db, caller.scope, membership_ids, group=group.name, now=now)


def _current_members(db: Session, group: Group) -> list[tuple[str, int, int, str]]:
    return [tuple(row) for row in db.execute(
        select(Membership.scim_id, Membership.id, Membership.user_id, User.email)
        .join(GroupMember, GroupMember.membership_id == Membership.id).join(User, User.id == Membership.user_id)
        .where(GroupMember.group_id == group.id))]


def _set_members(db: Session, caller: Caller, group: Group, scim_ids: list[str], now: datetime) -> list[int]:
    wanted = set(_memberships(db, group.org_id, scim_ids))
    current = _current_members(db, group)
    removed = _remove_members(db, caller, group, [row[1:] for row in current if row[0] not in wanted], now)
    held = {row[0] for row in current}
    return removed + _add_members(db, caller, group, [value for value in scim_ids if value not in held], now)


def create(db: Session, caller: Caller, body, *, base: str, now: datetime) -> dict:
    display, external_id, members = _parse(body)
    name = _app_name(display)
    _ensure_free(db, caller.scope.org_id, display, name)
    group = group_services.create_group(db, caller.scope, name, now=now)  # the console's own, audited
    group.display_name, group.external_id, group.modified_at = display, external_id, now
    _add_members(db, caller, group, members or [], now)  # a new group maps to no role yet: no one's changes
    return document(db, group, base)


def _rename(db: Session, caller: Caller, group: Group, display: str, now: datetime) -> None:
    if display == (group.display_name or group.name):
        return
    name = _app_name(display) if display.lower() != group.name else group.name
    _ensure_free(db, group.org_id, display, name, other_than=group.id)
    old, group.name, group.display_name = group.name, name, display
    record(db, caller.scope.actor, AuditAction.GROUP_UPDATE, now=now, org_id=group.org_id, group=name,
           old_name=old, via="scim")


def replace(db: Session, caller: Caller, scim_id, body, *, if_match: str | None, base: str, now: datetime) -> dict:
    group = _find(db, caller, scim_id, lock=True)
    check_version(document(db, group, base), if_match)
    display, external_id, members = _parse(body)
    _rename(db, caller, group, display, now)
    group.external_id = external_id
    group.modified_at = now
    _follow_role(db, caller, group, _set_members(db, caller, group, members or [], now), now)
    return document(db, group, base)


def modify(db: Session, caller: Caller, scim_id, body, *, if_match: str | None, base: str, now: datetime) -> dict:
    """PATCH /Groups/<id>: member operations become inserts and deletes; the rest is applied to the JSON."""
    ops = patch.operations(body)
    # No lock on the group's row for member changes: each is its own row, and the database decides.
    group = _find(db, caller, scim_id)
    if if_match:
        check_version(document(db, group, base), if_match)
    touched = []
    for op in ops:
        for single in (patch.without_path(op) if op.path is None else [op]):
            touched += _apply(db, caller, group, single, now)
    _follow_role(db, caller, group, touched, now)
    group.modified_at = now
    db.flush()
    return document(db, group, base)


def _apply(db: Session, caller: Caller, group: Group, op: patch.Operation, now: datetime) -> list[int]:
    """One operation; returns the membership ids it put in or took out of the group."""
    path = op.path
    name = path.attr.name
    if name == "members":
        if path.attr.sub or path.sub:
            raise mutability("A member's sub-attributes cannot be changed; add or remove the member.")
        if path.filter is not None:
            if op.op != "remove":
                raise invalid_value("Add members with path members and a list of values.")
            current = _current_members(db, group)
            chosen = [row for row in current if filters.matches(path.filter, {"value": row[0], "type": "User"})]
            return _remove_members(db, caller, group, [row[1:] for row in chosen], now)
        if op.op == "add":
            return _add_members(db, caller, group, _member_ids(op.value), now)
        if op.op == "replace":
            return _set_members(db, caller, group, _member_ids(op.value) if op.value else [], now)
        if op.value:  # remove these (Okta, Entra)
            found = _memberships_lenient(db, group.org_id, _member_ids(op.value))
            return _remove_members(db, caller, group, found, now)
        # remove all
        return _remove_members(db, caller, group, [row[1:] for row in _current_members(db, group)], now)
    if name == "displayname":
        if op.op == "remove":
            raise mutability("displayName is required.")
        if not isinstance(op.value, str) or not op.value.strip() or len(op.value) > 256:
            raise invalid_value("displayName is 1 to 256 printable characters.")
        _rename(db, caller, group, op.value.strip(), now)
        return []
    if name == "externalid":
        if op.op == "remove":
            group.external_id = None
        elif isinstance(op.value, str) and len(op.value) <= 256:
            group.external_id = op.value
        else:
            raise invalid_value("externalId is a string of at most 256 characters.")
        return []
    if name == "id" and op.op != "remove" and op.value == group.scim_id:
        return []  # Okta repeats the id beside the new displayName
    if name in ("id", "meta", "schemas"):
        raise mutability(f"{name} cannot be changed.")
    raise invalid_path(f"Groups have no attribute {name!r}.")


def _memberships_lenient(db: Session, org_id: int, scim_ids: list[str]):
    # Removing someone who is not (or no longer) a member here is already done.
    return [tuple(row) for row in db.execute(
        select(Membership.id, Membership.user_id, User.email).join(User, User.id == Membership.user_id)
        .where(Membership.org_id == org_id, Membership.scim_id.in_(list(dict.fromkeys(scim_ids))[:10_000])))]


def delete(db: Session, caller: Caller, scim_id, *, if_match: str | None, base: str, now: datetime) -> None:
    group = _find(db, caller, scim_id)
    check_version(document(db, group, base), if_match)
    group_services.delete_group(db, caller.scope, group.id, now=now)  # as an admin's: its members leave it
