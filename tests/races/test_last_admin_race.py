"""Two admins demoting or deactivating each other at the same instant leave one active admin."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from gateway.accounts.models import User
from gateway.actor import Actor
from gateway.errors import GatewayError
from gateway.orgs import lifecycle
from gateway.orgs.access import AdminScope
from gateway.orgs.models import MemberStatus, Membership, Organization, Role

ROUNDS = 25
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _org_with_two_admins(make_session, n: int) -> tuple[int, list[tuple[int, str]]]:
    with make_session() as db, db.begin():
        org = Organization(slug=f"race-{n}", name=f"Race {n}", created_at=NOW)
        db.add(org)
        db.flush()
        admins = []
        for who in ("a", "b"):
            user = User(email=f"{who}{n}@race.example.com", name=f"Admin {who.upper()}", created_at=NOW)
            db.add(user)
            db.flush()
            db.add(Membership(org_id=org.id, user_id=user.id, role=Role.ADMIN, joined_at=NOW))
            admins.append((user.id, user.email))
        return org.id, admins


def _active_admins(make_session, org_id: int) -> int:
    with make_session() as db:
        return db.scalar(select(func.count()).select_from(Membership).where(
            Membership.org_id == org_id, Membership.role == Role.ADMIN,
            Membership.status == MemberStatus.ACTIVE))


def _race(make_session, org_id, admins, operation) -> list[str]:
    """Each admin acts on the other at once; returns the outcome of each ("ok" or an error code)."""
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def act(actor, target):
        scope = AdminScope(org_id, "race", "Race", Actor(user_id=actor[0], email=actor[1]))
        with make_session() as db:
            barrier.wait()
            try:
                with db.begin():
                    operation(db, scope, target[0])
                outcomes.append("ok")
            except GatewayError as exc:
                outcomes.append(exc.code)

    threads = [threading.Thread(target=act, args=(admins[0], admins[1])),
               threading.Thread(target=act, args=(admins[1], admins[0]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(outcomes)


@pytest.mark.parametrize("operation", [
    pytest.param(lambda db, scope, target: lifecycle.change_role(db, scope, target, "user", now=NOW), id="demote"),
    pytest.param(lambda db, scope, target: lifecycle.deactivate(db, scope, target, now=NOW), id="deactivate"),
])
def test_two_admins_acting_on_each_other_at_once_leave_one_active_admin(make_session, operation, request):
    base = 1000 * (1 + request.node.callspec.indices["operation"])
    for n in range(ROUNDS):
        org_id, admins = _org_with_two_admins(make_session, base + n)
        outcomes = _race(make_session, org_id, admins, operation)
        assert outcomes == ["last_admin", "ok"], f"round {n}: {outcomes}"
        assert _active_admins(make_session, org_id) == 1
