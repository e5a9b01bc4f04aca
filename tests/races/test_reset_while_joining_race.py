"""An admin resetting a member's password while that person joins another organization.

The reset is for accounts one organization alone holds (the password opens every organization the
account belongs to). Whichever comes first, the reset never goes through once the account belongs
elsewhere: it either went through before the other membership existed, or it is refused.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from gateway.accounts.models import User
from gateway.actor import Actor
from gateway.audit.actions import AuditAction
from gateway.audit.models import AuditEvent
from gateway.config import Settings
from gateway.errors import GatewayError
from gateway.invitations import services as invitations
from gateway.invitations.models import Invitation
from gateway.orgs.access import AdminScope
from gateway.orgs.members import reset_password
from gateway.orgs.models import Membership, Organization, Role
from tests.races.conftest import FAST_PASSWORDS, PASSWORD, at_once

ROUNDS = 15
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_a_reset_never_lands_on_an_account_that_belongs_elsewhere(make_session):
    settings = Settings()
    for n in range(ROUNDS):
        code = f"reset-race-{n}-" + "x" * 30
        with make_session() as db, db.begin():
            home, other = (Organization(slug=f"reset-race-{n}-{k}", name="Reset Race", created_at=NOW)
                           for k in ("home", "other"))
            admin = User(email=f"admin{n}@reset.example.com", name="Ad Min", created_at=NOW)
            member = User(email=f"member{n}@reset.example.com", name="Mem Ber",
                          password_hash=FAST_PASSWORDS.hash(PASSWORD), created_at=NOW)
            db.add_all([home, other, admin, member])
            db.flush()
            db.add_all([Membership(org_id=home.id, user_id=admin.id, role=Role.ADMIN, joined_at=NOW),
                        Membership(org_id=home.id, user_id=member.id, role=Role.USER, joined_at=NOW),
                        Invitation(org_id=other.id, email=member.email, role=Role.USER,
                                   code_hash=invitations.hash_code(code), created_at=NOW,
                                   expires_at=NOW + timedelta(hours=24))])
            scope = AdminScope(home.id, home.slug, home.name, Actor(user_id=admin.id, email=admin.email))
            member_id, email = member.id, member.email
        actions = iter(("reset", "join"))

        def act(barrier):
            action = next(actions)
            with make_session() as db:
                barrier.wait()
                try:
                    with db.begin():
                        if action == "reset":
                            reset_password(db, scope, member_id, passwords=FAST_PASSWORDS, now=NOW)
                        else:
                            invitations.accept_with_password(db, code, email=email, password=PASSWORD,
                                                             passwords=FAST_PASSWORDS, actor=Actor(),
                                                             settings=settings, now=NOW)
                    return f"{action} ok"
                except GatewayError as exc:
                    return f"{action} {exc.code}"

        outcomes = sorted(at_once(act))

        assert outcomes in (["join ok", "reset member_elsewhere"], ["join ok", "reset ok"],
                            # the reset replaced the password the invitation was accepted with
                            ["join invalid_credentials", "reset ok"]), f"round {n}: {outcomes}"
        if outcomes == ["join ok", "reset ok"]:
            with make_session() as db:
                order = db.scalars(select(AuditEvent.action).where(AuditEvent.target_id == member_id,
                                                                   AuditEvent.action.in_([
                                                                       AuditAction.USER_PASSWORD_RESET,
                                                                       AuditAction.INVITATION_ACCEPT]))
                                   .order_by(AuditEvent.id)).all()
            assert order == [AuditAction.USER_PASSWORD_RESET, AuditAction.INVITATION_ACCEPT], \
                f"round {n}: the reset went through after the account joined another organization"
