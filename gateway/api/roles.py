"""/api/v1/orgs/<slug>/roles: the built-in roles and the organization's own (the same services as
the console)."""

from __future__ import annotations

from gateway.api import body_as, bp, operation, scope_for
from gateway.api.schemas import (
    CustomRoleChange,
    NewRole,
    OrgRole,
    RoleAnswer,
    RoleDeleted,
    RoleList,
)
from gateway.clock import now
from gateway.db import get_session
from gateway.orgs import roles


def _role(scope, name: str) -> RoleAnswer:
    return RoleAnswer(role=next(OrgRole.of(r) for r in roles.list_roles(get_session(), scope.org_id)
                                if r.name == name))


@bp.get("/orgs/<slug>/roles")
@operation(RoleList)
def list_roles(slug: str):
    """The built-in roles, then the organization's own, with how many members have each."""
    return RoleList(roles=[OrgRole.of(r) for r in roles.list_roles(get_session(), scope_for(slug).org_id)])


@bp.post("/orgs/<slug>/roles")
@operation(RoleAnswer, status=201, body=NewRole, refusals=(409,), links={"role_name": "/role/name"})
def create_role(slug: str):
    """Create a role of the organization's own; give it to members through their `role`.

    400 `invalid_role_name`, `built_in_role`, `too_long`; 409 `role_exists`.
    """
    scope = scope_for(slug)
    body = body_as(NewRole)
    role = roles.create_role(get_session(), scope, body.name, body.description, now=now())
    return _role(scope, role.name)


@bp.patch("/orgs/<slug>/roles/<role_name>")
@operation(RoleAnswer, body=CustomRoleChange)
def update_role(slug: str, role_name: str):
    """Change a custom role's description (built-in roles are not changed here: 404).

    400 `too_long`.
    """
    scope = scope_for(slug)
    body = body_as(CustomRoleChange)
    role = roles.update_role(get_session(), scope, role_name, body.description, now=now())
    return _role(scope, role.name)


@bp.delete("/orgs/<slug>/roles/<role_name>")
@operation(RoleDeleted)
def delete_role(slug: str, role_name: str):
    """Delete a custom role: its members become users, and rules that named it admit nobody by it."""
    moved = roles.delete_role(get_session(), scope_for(slug), role_name, now=now())
    return RoleDeleted(deleted=True, members_moved=moved)
