"""/api/v1/orgs/<slug>/groups: groups of members, by hand or from the IdP (the same services as
/admin/groups)."""

from __future__ import annotations

from gateway.api import body_as, bp, operation, scope_for
from gateway.api.schemas import (
    Group,
    GroupAnswer,
    GroupChange,
    GroupList,
    GroupMember,
    GroupMemberAdded,
    GroupMemberList,
    NewGroup,
    NewGroupMember,
    NoContent,
)
from gateway.clock import now
from gateway.db import get_session
from gateway.groups import services as groups


def _group(scope, group_id) -> GroupAnswer:
    group = groups.get_group(get_session(), scope.org_id, group_id)
    return GroupAnswer(group=next(Group.of(g) for g in groups.list_groups(get_session(), scope.org_id)
                                  if g.id == group.id))


@bp.get("/orgs/<slug>/groups")
@operation(GroupList)
def list_groups(slug: str):
    """The organization's groups, by name, with how many members each has."""
    return GroupList(groups=[Group.of(g) for g in groups.list_groups(get_session(), scope_for(slug).org_id)])


@bp.post("/orgs/<slug>/groups")
@operation(GroupAnswer, status=201, body=NewGroup, refusals=(409,), links={"group_id": "/group/id"})
def create_group(slug: str):
    """Create a group; with a `role`, the members put in it take that role.

    400 `invalid_group_name`, `too_long`, `unknown_role`; 409 `group_exists`.
    """
    scope = scope_for(slug)
    body = body_as(NewGroup)
    group = groups.create_group(get_session(), scope, body.name, description=body.description,
                                sso_name=body.sso_name, role=body.role, now=now())
    return _group(scope, group.id)


@bp.get("/orgs/<slug>/groups/<group_id>")
@operation(GroupAnswer)
def get_group(slug: str, group_id: str):
    """One group."""
    return _group(scope_for(slug), group_id)


@bp.patch("/orgs/<slug>/groups/<group_id>")
@operation(GroupAnswer, body=GroupChange, refusals=(409,))
def update_group(slug: str, group_id: str):
    """Rename a group, or change its description, the IdP group that fills it or the role it maps to; the rest stays.

    The rules that name it follow a rename (they hold the group, not its name). A new `role` applies to its
    members at once: each takes the most privileged role of their groups that have one, or `user` when none
    has. 400 `invalid_group_name`, `too_long`, `unknown_role`; 409 `group_exists`, `last_admin` (the new
    role would demote the last active admin: nothing changes).
    """
    scope = scope_for(slug)
    body = body_as(GroupChange)
    groups.update_group(get_session(), scope, group_id, now=now(), **body.model_dump(exclude_unset=True))
    return _group(scope, group_id)


@bp.delete("/orgs/<slug>/groups/<group_id>")
@operation(NoContent, status=204, refusals=(409,))
def delete_group(slug: str, group_id: str):
    """Delete a group: its members leave it, and rules that named it admit nobody by it.

    Its members' roles follow, as when they leave it. 409 `last_admin`: the last active admin would be demoted.
    """
    groups.delete_group(get_session(), scope_for(slug), group_id, now=now())
    return NoContent()


@bp.get("/orgs/<slug>/groups/<group_id>/members")
@operation(GroupMemberList)
def list_group_members(slug: str, group_id: str):
    """A group's members, by name, and how each came to be in it."""
    members = groups.members_of(get_session(), scope_for(slug).org_id, group_id)
    return GroupMemberList(members=[GroupMember.of(m) for m in members])


@bp.post("/orgs/<slug>/groups/<group_id>/members")
@operation(GroupMemberAdded, body=NewGroupMember, refusals=(409,), links={"user_id": "/member/user_id"})
def add_group_member(slug: str, group_id: str):
    """Put a member of the organization in the group by hand (already in it: nothing changes).

    A group with a role gives it to them (the most privileged of their groups' roles). 409 `last_admin`:
    the last active admin would be demoted.
    """
    scope = scope_for(slug)
    body = body_as(NewGroupMember)
    added = groups.add_member(get_session(), scope, group_id, body.user_id, now=now())
    member = next(m for m in groups.members_of(get_session(), scope.org_id, group_id) if m.user_id == body.user_id)
    return GroupMemberAdded(member=GroupMember.of(member), added=added)


@bp.delete("/orgs/<slug>/groups/<group_id>/members/<user_id>")
@operation(NoContent, status=204, refusals=(409,))
def remove_group_member(slug: str, group_id: str, user_id: str):
    """Take a member out of the group (not in it: nothing changes).

    Leaving a group with a role: they take the most privileged role of their other groups that have one, or
    `user`. 409 `last_admin`: the last active admin would be demoted.

    A member the IdP put in is put back at their next SSO sign-in while the IdP still lists them.
    """
    groups.remove_member(get_session(), scope_for(slug), group_id, user_id, now=now())
    return NoContent()
