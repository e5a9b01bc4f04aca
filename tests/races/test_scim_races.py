"""SCIM on PostgreSQL: PATCHes adding different members to one group at once lose none (fleet #50724);
a PATCH and a DELETE of one user at once leave one consistent outcome."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

from sqlalchemy import func, select

from gateway.accounts.models import User
from gateway.actor import Actor
from gateway.config import load_settings
from gateway.errors import GatewayError
from gateway.groups.models import Group, GroupMember
from gateway.orgs.access import AdminScope
from gateway.orgs.models import Membership, Organization, Role
from gateway.scim import groups, users
from gateway.scim.tokens import Caller

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
BASE = "http://127.0.0.1:5000/scim/v2/race"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SETTINGS = load_settings({}, {"DATABASE_URL": "sqlite://"})


def _org(make_session, n: int, people: int) -> tuple[Caller, list[str], str]:
    with make_session() as db, db.begin():
        org = Organization(slug=f"scim-race-{n}", name=f"Race {n}", created_at=NOW)
        db.add(org)
        db.flush()
        ids = []
        for who in range(people + 1):
            user = User(email=f"p{who}-{n}@race.example.com", name=f"Person {who}", created_at=NOW)
            db.add(user)
            db.flush()
            membership = Membership(org_id=org.id, user_id=user.id, role=Role.ADMIN if who == 0 else Role.USER,
                                    joined_at=NOW)
            db.add(membership)
            db.flush()
            ids.append(membership.scim_id)
        group = Group(org_id=org.id, name="team", display_name="Team", created_at=NOW)
        db.add(group)
        db.flush()
        scope = AdminScope(org.id, org.slug, org.name, Actor(email="scim:race"))
        return Caller(1, "race", scope), ids[1:], group.scim_id


def _at_once(make_session, actions) -> list[str]:
    barrier = threading.Barrier(len(actions))
    outcomes: list[str] = []

    def run(action):
        with make_session() as db:
            barrier.wait()
            try:
                with db.begin():
                    action(db)
                outcomes.append("ok")
            except GatewayError as exc:
                outcomes.append(exc.code)

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_concurrent_patches_adding_different_members_lose_none(make_session):
    for n in range(10):
        caller, people, group_id = _org(make_session, n, 4)

        def adder(scim_id):
            body = {"schemas": [PATCH], "Operations": [{"op": "Add", "path": "members", "value": [{"value": scim_id}]}]}
            return lambda db: groups.modify(db, caller, group_id, body, if_match=None, base=BASE, now=NOW)

        assert _at_once(make_session, [adder(p) for p in people]) == ["ok"] * len(people)
        with make_session() as db:
            count = db.scalar(select(func.count()).select_from(GroupMember).join(Group)
                              .where(Group.scim_id == group_id))
        assert count == len(people)


def test_a_patch_and_a_delete_of_one_user_at_once(make_session):
    for n in range(10, 20):
        caller, people, _group = _org(make_session, n, 1)
        body = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
        outcomes = _at_once(make_session, [
            lambda db: users.modify(db, caller, people[0], body, if_match=None, base=BASE, settings=SETTINGS, now=NOW),
            lambda db: users.delete(db, caller, people[0], if_match=None, base=BASE, now=NOW),
        ])
        # Either the PATCH came first (then the DELETE removed the deactivated member), or the DELETE did
        # (then the PATCH found nobody): never a 500, never a member left half-deleted.
        assert sorted(outcomes) in (["ok", "ok"], ["not_found", "ok"]), outcomes
        with make_session() as db:
            assert db.scalar(select(Membership).where(Membership.scim_id == people[0])) is None


def test_two_patches_taking_the_two_admins_out_of_the_admin_group_leave_one_admin(make_session):
    """Each PATCH alone is allowed (the other is still an admin); at once, the organization's lock in
    the role change (orgs.lifecycle) makes the second count after the first: one is refused, and its
    member stays in the group."""
    for n in range(5):
        caller, people, group_id = _org(make_session, 100 + n, 1)
        with make_session() as db, db.begin():
            group = db.scalar(select(Group).where(Group.scim_id == group_id))
            group.role = "admin"
            admins = db.scalars(select(Membership).where(Membership.org_id == caller.scope.org_id)).all()
            for membership in admins:
                membership.role = Role.ADMIN
                db.add(GroupMember(group_id=group.id, membership_id=membership.id, added_at=NOW))
            admin_ids = [membership.scim_id for membership in admins]

        def remover(scim_id):
            body = {"schemas": [PATCH], "Operations": [{"op": "remove", "path": "members",
                                                        "value": [{"value": scim_id}]}]}
            return lambda db: groups.modify(db, caller, group_id, body, if_match=None, base=BASE, now=NOW)

        assert sorted(_at_once(make_session, [remover(i) for i in admin_ids])) == ["last_admin", "ok"]
        with make_session() as db:
            still = db.scalars(select(Membership.scim_id).where(Membership.org_id == caller.scope.org_id,
                                                                Membership.role == Role.ADMIN)).all()
            in_group = db.scalars(select(Membership.scim_id).join(GroupMember, GroupMember.membership_id ==
                                                                  Membership.id)
                                  .where(GroupMember.group_id == group.id)).all()
            assert len(still) == 1 and set(in_group) == set(still)  # the refused one stays, as admin
