"""Groups that map to roles: a member's role follows the mapped groups they are in.

The rule, decided here and nowhere else:

- A group may carry a role (`Group.role`): admin, auditor, user, or one of the organization's custom
  roles, by name. A group with a role is a *mapped* group.
- When a member joins or leaves a mapped group, or a group's role changes (set, changed, cleared) or a
  mapped group is deleted, each member that change touched gets the most privileged role among the
  roles of the mapped groups they are in now: admin > auditor > a custom role > user (between two
  custom roles, the first by name). A member the change left in no mapped group becomes a user: the
  groups gave the role, and leaving them takes it back.
- A member whom no such change touches keeps the role they have, whoever gave it: joining or leaving
  a group without a role changes no one's role, and mapping a group changes only its own members.
  So a role an admin gives by hand to a member of a mapped group lasts until that member's mapped
  groups next change.
- Every change goes through `orgs.lifecycle.change_role`, the console's own: the last active admin is
  never demoted (LastAdmin, 409, and the caller's whole request is undone), the change is audited
  as `member:role_change` naming the group, and every worker sees it on the member's next request.
- An SSO sign-in that puts the member in, or takes them out of, mapped groups filled from the IdP
  (groups.services.sync_from_idp) is such a change too (`follow_sign_in`), with two differences: it
  never refuses the sign-in (the last active admin keeps their role, as provisioning keeps it), and
  it does not apply while the SSO connection names admin groups: those decide the role at every
  sign-in (accounts.provisioning.mapped_role), and two rules taking turns would flip it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.groups.models import Group, GroupMember
from gateway.actor import Actor
from gateway.orgs import lifecycle, roles
from gateway.orgs.access import AdminScope
from gateway.orgs.models import Membership, Organization, Role

_RANK = {Role.ADMIN: 3, Role.AUDITOR: 2, Role.USER: 0}  # a custom role ranks 1
_CUSTOM = 1


def parse(db: Session, org_id: int, value) -> str | None:
    """The role a group maps to, by name; None for no role.

    :raise BadRequest: `unknown_role`, neither built in nor one of the organization's roles (nor empty).
    """
    if value is None:
        return None
    roles.resolve(db, org_id, value)
    return str(value).strip().lower()


def highest(names) -> str:
    """The most privileged of these role names (user when there are none)."""
    best = str(Role.USER)
    for name in sorted(set(names)):
        if _rank(name) > _rank(best):
            best = name
    return best


def _rank(name: str) -> int:
    return _RANK.get(name, _CUSTOM)


def members_of(db: Session, group_id: int) -> list[int]:
    """The membership ids in a group (to apply the rule to them after the group changes)."""
    return list(db.scalars(select(GroupMember.membership_id).where(GroupMember.group_id == group_id)))


def follow(db: Session, scope: AdminScope, membership_ids, *, group: str, now: datetime) -> None:
    """Apply the rule (module docstring) to the members a change of the group named `group` touched.

    Call it after the membership rows changed (flushed), in the same transaction.

    :raise LastAdmin: the change would demote the organization's last active admin; its message names
        the group. The caller lets it undo the whole request.
    """
    changes = []
    for membership_id in sorted(set(membership_ids)):
        mapped = db.scalars(select(Group.role).join(GroupMember, GroupMember.group_id == Group.id)
                            .where(GroupMember.membership_id == membership_id, Group.role.is_not(None)))
        wanted = highest(mapped)
        membership = db.get(Membership, membership_id)
        if membership is not None and membership.org_id == scope.org_id and membership.role_name != wanted:
            changes.append((membership, wanted))
    # Promotions first: a change that makes B an admin and takes A out (an IdP swapping its admins)
    # must not count A as the last admin before B is one.
    changes.sort(key=lambda change: (-_rank(change[1]), change[0].id))
    for membership, wanted in changes:
        try:
            lifecycle.change_role(db, scope, membership.user_id, wanted, now=now, group=group)
        except lifecycle.LastAdmin:
            raise lifecycle.LastAdmin(
                f"{membership.user.email} is the last active admin of the organization: the change to group "
                f"{group} would make them {wanted}. Make someone else an admin first.") from None


def follow_sign_in(db: Session, org_id: int, user_id: int, groups: list[str], *, actor: Actor,
                   now: datetime) -> None:
    """Apply the rule to a member whose mapped groups an SSO sign-in changed (`groups`, their names),
    as the IdP's doing (`actor`): the sign-in goes on whatever it finds (module docstring)."""
    if not groups:
        return
    org = db.get(Organization, org_id)
    membership_id = db.scalar(select(Membership.id).where(Membership.org_id == org_id, Membership.user_id == user_id))
    try:
        follow(db, AdminScope(org.id, org.slug, org.name, actor), [membership_id], group=", ".join(groups), now=now)
    except lifecycle.LastAdmin:
        pass  # refused before anything was written: the last active admin stays one
