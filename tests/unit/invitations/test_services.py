"""Invitations: issued with a role and a one-time link, locked to one address, expiring,
single-use, withdrawn by deletion."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from gateway.accounts import services as accounts
from gateway.accounts.models import User
from gateway.actor import Actor
from gateway.audit.models import AuditEvent
from gateway.errors import (
    BadRequest,
    Conflict,
    GatewayError,
    InvalidCredentials,
    NotFound,
    PolicyViolation,
)
from gateway.invitations import services as invitations
from gateway.invitations.models import Invitation
from gateway.invitations.services import EmailMismatch, InvitationInvalid
from gateway.mail.models import OutboxMessage
from gateway.orgs.access import AdminScope
from gateway.orgs.models import Membership, Organization, Role
from gateway.orgs.services import AlreadyMember
from gateway.sessions import services as sessions
from gateway.sessions.models import UserSession
from tests.conftest import STRONG_PASSWORD
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

NEW_PASSWORD = "orchid canyon velvet 4471 drizzle"
INVITEE = "invitee@example.com"
SMTP = "smtp://127.0.0.1:2525"


@pytest.fixture
def settings(app):
    return app.extensions["idgate.settings"]


@pytest.fixture
def passwords(app):
    return app.extensions["idgate.passwords"]


@pytest.fixture
def actor() -> Actor:
    return Actor(ip="198.51.100.4", user_agent="pytest")


@pytest.fixture
def org(db):
    return OrganizationFactory(name="Acme")


@pytest.fixture
def admin(db, org):
    return MembershipFactory(org=org, admin=True)


@pytest.fixture
def scope(org, admin):
    actor = Actor(user_id=admin.user_id, email=admin.user.email, org_id=org.id)
    return AdminScope(org.id, org.slug, org.name, actor)


@pytest.fixture
def invite(db, scope, settings, clock):
    """Issue an invitation as the admin; returns (invitation, code)."""
    def invite(email=INVITEE, role="user", send_mail=False, scope=scope):
        issued = invitations.issue(db, scope, email=email, role=role,
                                   send_mail=send_mail, settings=settings,
                                   now=clock.now())
        return issued.invitation, issued.code
    return invite


@pytest.fixture
def register(db, passwords, actor, settings, clock):
    def register(code, email=INVITEE, name="In Vitee", password=NEW_PASSWORD):
        return invitations.accept_as_new_user(
            db, code, email=email, name=name, password=password, passwords=passwords,
            actor=actor, settings=settings, now=clock.now())
    return register


@pytest.fixture
def sign_in_and_join(db, passwords, actor, settings, clock):
    def sign_in_and_join(code, email=INVITEE, password=STRONG_PASSWORD):
        return invitations.accept_with_password(
            db, code, email=email, password=password, passwords=passwords, actor=actor,
            settings=settings, now=clock.now())
    return sign_in_and_join


@pytest.fixture
def resolve(db, settings, clock):
    def resolve(token):
        return sessions.resolve(db, token, settings=settings, now=clock.now())
    return resolve


@pytest.fixture
def signed_in(db, passwords, settings, clock, resolve):
    """A password sign-in of `membership`'s user; returns (token, SessionContext)."""
    def signed_in(membership):
        token = accounts.sign_in_with_password(
            db, email=membership.user.email, password=STRONG_PASSWORD,
            passwords=passwords, actor=Actor(), settings=settings,
            now=clock.now()).token
        return token, resolve(token)
    return signed_in


def as_the_edge(db, call, *args, **kwargs) -> GatewayError:
    """Make a call that must be refused, and settle it as the request's edge does
    (gateway.web.undo): its writes are undone, unless the service recorded it."""
    savepoint = db.begin_nested()
    try:
        call(*args, **kwargs)
    except GatewayError as exc:
        if exc.recorded:
            savepoint.commit()
        else:
            savepoint.rollback()
        return exc
    savepoint.rollback()
    pytest.fail(f"{call.__name__} was not refused")


def _events(db, action):
    return db.scalars(select(AuditEvent).where(AuditEvent.action == action)
                      .order_by(AuditEvent.id)).all()


def _count(db, model, *where) -> int:
    return db.scalar(select(func.count()).select_from(model).where(*where))


def _memberships(db, user) -> dict[int, Role]:
    rows = db.scalars(select(Membership).where(Membership.user_id == user.id))
    return {m.org_id: m.role for m in rows}


def _still_valid(db, code, clock) -> bool:
    try:
        invitations.find_valid(db, code, now=clock.now())
    except InvitationInvalid:
        return False
    return True


class TestIssue:
    def test_keeps_only_the_codes_hash_and_hands_the_link_out_once(self, invite,
                                                                   settings):
        invitation, code = invite()
        assert len(code) >= 43  # 256 bits, base64url
        assert invitation.code_hash == hashlib.sha256(code.encode()).hexdigest()
        link = invitations.magic_link(settings, code)
        assert link == f"{settings.base_url}/invite/{code}"

    def test_locks_the_address_in_its_normal_form_with_the_role(self, invite, admin,
                                                                clock):
        invitation, _ = invite(email="  In.Vitee@Example.COM ", role="Admin")
        assert invitation.email == "in.vitee@example.com"
        assert invitation.role == Role.ADMIN
        assert invitation.invited_by == admin.user_id
        assert invitation.created_at == clock.now()

    @pytest.mark.settings(invitation_ttl="2h")
    def test_expires_after_the_configured_lifetime(self, invite, clock):
        invitation, _ = invite()
        assert invitation.expires_at == clock.now() + timedelta(hours=2)

    def test_is_recorded_in_the_audit_log(self, db, invite, scope):
        invitation, code = invite(role="admin")
        [event] = _events(db, "invitation:create")
        assert (event.org_id, event.actor_id, event.target_email) == (
            scope.org_id, scope.actor.user_id, INVITEE)
        assert event.details == {"role": "admin", "invitation_id": invitation.id,
                                 "mailed": False}
        assert code not in str(event.details)

    def test_without_mail_nothing_is_queued(self, db, invite):
        invite()
        assert _count(db, OutboxMessage) == 0

    @pytest.mark.settings(smtp_url=SMTP)
    def test_mails_the_link_through_the_outbox(self, db, invite, settings, scope):
        _, code = invite(send_mail=True)
        [message] = db.scalars(select(OutboxMessage)).all()
        assert message.recipient == INVITEE
        assert message.subject == "You are invited to Acme"
        assert invitations.magic_link(settings, code) in message.body
        assert scope.actor.email in message.body and "within 24 hours" in message.body
        assert _events(db, "invitation:create")[0].details["mailed"] is True

    @pytest.mark.settings(smtp_url=SMTP, invitation_ttl="30m")
    def test_the_mail_never_promises_more_time_than_the_link_has(self, db, invite):
        invite(send_mail=True)
        body = db.scalar(select(OutboxMessage.body))
        count, unit = re.search(r"within (\d+) (hour|minute)s?", body).groups()
        promised = timedelta(**{f"{unit}s": int(count)})
        assert promised <= timedelta(minutes=30), body

    def test_asking_for_mail_without_an_smtp_server_is_refused(self, db, invite):
        with pytest.raises(BadRequest) as refused:
            invite(send_mail=True)
        assert refused.value.code == "mail_not_configured"
        assert _count(db, Invitation) == 0 and _events(db, "invitation:create") == []

    @pytest.mark.parametrize("standing", ["active", "inactive"])
    def test_refuses_an_address_that_is_already_a_member(self, db, org, invite,
                                                         standing):
        MembershipFactory(org=org, user__email=INVITEE, inactive=standing == "inactive")
        with pytest.raises(AlreadyMember) as refused:
            invite(email=INVITEE.upper())
        assert (refused.value.code, refused.value.status) == ("already_member", 409)
        assert _count(db, Invitation) == 0 and _events(db, "invitation:create") == []

    def test_an_account_that_is_a_member_elsewhere_can_be_invited(self, invite):
        MembershipFactory(user__email=INVITEE)
        assert invite()[0].email == INVITEE

    def test_refuses_a_second_invitation_even_once_the_first_expired(self, db, invite,
                                                                     clock, settings):
        invite()
        clock.advance(seconds=settings.invitation_ttl.total_seconds() + 1)
        with pytest.raises(Conflict) as refused:
            invite(email=INVITEE.upper())
        assert refused.value.code == "already_invited"
        assert _count(db, Invitation) == 1
        assert len(_events(db, "invitation:create")) == 1

    def test_another_organization_may_invite_the_same_address(self, invite):
        other = OrganizationFactory()
        elsewhere = AdminScope(other.id, other.slug, other.name, Actor())
        first, _ = invite()
        second, _ = invite(scope=elsewhere)
        assert first.email == second.email and first.org_id != second.org_id

    @pytest.mark.parametrize("email, role, code", [
        ("not an email", "user", "invalid_email"),
        (INVITEE, "owner", "unknown_role"),
        (INVITEE, None, "unknown_role"),
    ])
    def test_refuses_a_bad_address_or_role(self, db, invite, email, role, code):
        with pytest.raises(BadRequest) as refused:
            invite(email=email, role=role)
        assert refused.value.code == code
        assert _count(db, Invitation) == 0 and _events(db, "invitation:create") == []


class TestFindValid:
    def test_finds_the_invitation_by_its_code(self, db, invite, clock):
        invitation, code = invite()
        assert invitations.find_valid(db, code, now=clock.now()) is invitation

    @pytest.mark.settings(invitation_ttl="24h")
    def test_expires_to_the_second(self, db, invite, clock):
        invitation, code = invite()
        clock.advance(hours=23, minutes=59, seconds=59)
        assert _still_valid(db, code, clock)
        assert not invitations.is_expired(invitation, clock.now())
        clock.advance(seconds=1)
        assert not _still_valid(db, code, clock)
        assert invitations.is_expired(invitation, clock.now())

    @pytest.mark.parametrize("code", ["", None, "nope", "A" * 43, "x" * 129, "\ud800"])
    def test_unknown_and_garbage_codes_are_invalid_alike(self, db, invite, clock, code):
        invite()
        with pytest.raises(InvitationInvalid) as refused:
            invitations.find_valid(db, code, now=clock.now())
        assert (refused.value.code, refused.value.status) == ("invitation_invalid", 404)
        assert refused.value.message == InvitationInvalid.message


class TestConfirmEmail:
    def test_accepts_the_invited_address_however_it_is_typed(self, invite):
        invitation, _ = invite()
        typed = "  INVITEE@Example.com "
        assert invitations.confirm_email(invitation, typed) == INVITEE

    @pytest.mark.parametrize("typed", [
        "other@example.com",
        "invitee+x@example.com",      # another plus-address
        "ｉｎｖｉｔｅｅ@example.com",  # fullwidth letters
        "not an email",
        "",
        None,
    ])
    def test_refuses_every_other_address(self, invite, typed):
        invitation, _ = invite()
        with pytest.raises(EmailMismatch) as refused:
            invitations.confirm_email(invitation, typed)
        assert (refused.value.code, refused.value.status) == ("email_mismatch", 403)


class TestListAndGet:
    def test_lists_this_organizations_invitations_newest_first(self, db, invite, clock,
                                                               scope):
        invite(email="old@example.com")
        clock.advance(days=30)  # expired ones are listed too
        invite(email="new@example.com")
        other = OrganizationFactory()
        invite(email="theirs@example.com",
               scope=AdminScope(other.id, other.slug, other.name, Actor()))
        assert [i.email for i in invitations.list_pending(db, scope)] == [
            "new@example.com", "old@example.com"]

    def test_filters_by_role_and_searches_the_address_literally(self, db, invite,
                                                                scope):
        invite(email="a_b@example.com", role="admin")
        invite(email="axb@example.com")

        def listed(**filters):
            return [i.email for i in invitations.list_pending(db, scope, **filters)]
        assert listed(role="admin") == ["a_b@example.com"]
        assert listed(search=" A_B ") == ["a_b@example.com"]
        assert len(listed(role="owner")) == 2  # not a role: no filter

    def test_get_finds_an_invitation_of_this_organization(self, db, invite, scope):
        invitation, _ = invite()
        assert invitations.get(db, scope, str(invitation.id)) is invitation

    @pytest.mark.parametrize("invitation_id", [None, "abc", 0, -1, 2**31])
    def test_get_refuses_ids_that_name_no_row(self, db, scope, invitation_id):
        with pytest.raises(NotFound) as refused:
            invitations.get(db, scope, invitation_id)
        assert refused.value.code == "unknown_invitation"


class TestRevoke:
    def test_the_link_stops_working_at_once(self, db, invite, scope, clock):
        invitation, code = invite()
        invitations.revoke(db, scope, invitation.id, now=clock.now())
        assert not _still_valid(db, code, clock)
        assert _count(db, Invitation) == 0

    def test_is_recorded_in_the_audit_log(self, db, invite, scope, clock):
        invitation, _ = invite()
        invitation_id = invitation.id
        invitations.revoke(db, scope, invitation_id, now=clock.now())
        [event] = _events(db, "invitation:delete")
        assert (event.actor_id, event.target_email) == (scope.actor.user_id, INVITEE)
        assert event.details == {"invitation_id": invitation_id}

    def test_the_address_may_be_invited_again_with_a_new_link(self, db, invite, scope,
                                                               clock):
        invitation, code = invite()
        invitations.revoke(db, scope, invitation.id, now=clock.now())
        _, new_code = invite()
        assert new_code != code and _still_valid(db, new_code, clock)

    def test_refuses_another_organizations_invitation(self, db, invite, scope, clock):
        other = OrganizationFactory()
        elsewhere = AdminScope(other.id, other.slug, other.name, Actor())
        theirs, code = invite(scope=elsewhere)
        with pytest.raises(NotFound):
            invitations.revoke(db, scope, theirs.id, now=clock.now())
        assert _still_valid(db, code, clock) and _events(db, "invitation:delete") == []


class TestAcceptAsNewUser:
    def test_creates_the_account_a_personal_organization_and_the_membership(
            self, db, org, invite, register, passwords, resolve, clock):
        _, code = invite(role="admin")
        signed_in = register(code, email="Invitee@Example.com")
        user = db.scalar(select(User).where(User.email == INVITEE))
        assert passwords.verify(user.password_hash, NEW_PASSWORD)
        assert (user.last_login_at, user.last_org_id) == (clock.now(), org.id)
        [personal] = db.scalars(select(Organization)
                                .where(Organization.id != org.id)).all()
        assert personal.name == "In Vitee (personal)"
        assert personal.slug.startswith("invitee-")
        assert _memberships(db, user) == {personal.id: Role.ADMIN, org.id: Role.ADMIN}
        assert signed_in.restricted is False
        assert (resolve(signed_in.token).org_id, resolve(signed_in.token).role) == (
            org.id, "admin")

    def test_records_the_acceptance_and_the_sign_in(self, db, org, invite, register,
                                                    actor):
        _, code = invite()
        register(code)
        user = db.scalar(select(User).where(User.email == INVITEE))
        [accepted] = _events(db, "invitation:accept")
        assert (accepted.org_id, accepted.actor_id, accepted.target_id) == (
            org.id, user.id, user.id)
        assert (accepted.ip, accepted.details) == (actor.ip, {"role": "user"})
        [login] = _events(db, "login:success")
        assert (login.org_id, login.details) == (org.id, {"method": "invitation"})

    def test_is_single_use(self, db, invite, register):
        _, code = invite()
        register(code)
        assert _count(db, Invitation) == 0
        with pytest.raises(InvitationInvalid):
            register(code, email=INVITEE)

    def test_an_expired_invitation_is_refused(self, db, invite, register, clock,
                                              settings):
        _, code = invite()
        clock.advance(seconds=settings.invitation_ttl.total_seconds())
        with pytest.raises(InvitationInvalid):
            register(code)
        assert _count(db, User, User.email == INVITEE) == 0

    def test_refuses_another_address_before_writing_anything(self, db, invite,
                                                             register):
        _, code = invite()
        users = _count(db, User)
        with pytest.raises(EmailMismatch):
            register(code, email="attacker@example.com")
        assert _count(db, User) == users and _count(db, Organization) == 1

    def test_refuses_an_address_that_has_an_account_already(self, db, invite, register,
                                                            clock):
        _, code = invite()
        UserFactory(email=INVITEE)
        with pytest.raises(Conflict) as refused:
            register(code)
        assert refused.value.code == "email_taken"
        assert _still_valid(db, code, clock)

    @pytest.mark.parametrize("given, error", [
        ({"password": "short"}, PolicyViolation),
        ({"name": "X"}, BadRequest),
    ])
    def test_a_refused_registration_leaves_nothing_and_keeps_the_invitation(
            self, db, invite, register, clock, given, error):
        _, code = invite()
        assert isinstance(as_the_edge(db, register, code, **given), error)
        assert _count(db, User, User.email == INVITEE) == 0
        assert _count(db, Organization) == 1 and _still_valid(db, code, clock)


class TestAcceptWithPassword:
    def test_joins_with_the_invited_role_and_keeps_every_other_membership(
            self, db, org, invite, sign_in_and_join, resolve, clock):
        elsewhere = MembershipFactory(user__email=INVITEE, admin=True)
        _, code = invite(email=INVITEE)
        signed_in = sign_in_and_join(code)
        user = elsewhere.user
        assert _memberships(db, user) == {elsewhere.org_id: Role.ADMIN,
                                          org.id: Role.USER}
        assert (user.last_login_at, user.last_org_id) == (clock.now(), org.id)
        assert resolve(signed_in.token).org_id == org.id
        assert [e.target_id for e in _events(db, "invitation:accept")] == [user.id]

    def test_is_single_use(self, db, invite, sign_in_and_join):
        MembershipFactory(user__email=INVITEE)
        _, code = invite()
        sign_in_and_join(code)
        with pytest.raises(InvitationInvalid):
            sign_in_and_join(code)

    def test_a_temporary_password_opens_a_restricted_session(self, invite,
                                                             sign_in_and_join):
        MembershipFactory(user__email=INVITEE, user__temporary=True)
        _, code = invite()
        assert sign_in_and_join(code).restricted is True

    def test_a_wrong_password_is_audited_and_nothing_else_is_kept(
            self, db, org, invite, sign_in_and_join, clock):
        user = MembershipFactory(user__email=INVITEE).user
        _, code = invite()
        refused = as_the_edge(db, sign_in_and_join, code, password="a guess, not it")
        assert isinstance(refused, InvalidCredentials) and refused.recorded
        [failure] = _events(db, "login:failure")
        assert (failure.org_id, failure.target_id, failure.target_email) == (
            org.id, user.id, INVITEE)
        assert failure.details == {"method": "invitation", "reason": "wrong_password"}
        assert _still_valid(db, code, clock) and org.id not in _memberships(db, user)
        assert user.last_login_at is None and _events(db, "invitation:accept") == []

    def test_an_address_without_an_account_fails_like_a_wrong_password(
            self, db, invite, sign_in_and_join):
        _, code = invite()
        with pytest.raises(InvalidCredentials) as refused:
            sign_in_and_join(code)
        assert refused.value.message == InvalidCredentials.message
        [failure] = _events(db, "login:failure")
        assert (failure.target_id, failure.details["reason"]) == (None, "unknown_email")

    def test_an_sso_only_account_has_no_password_to_give(self, db, invite,
                                                         sign_in_and_join):
        MembershipFactory(user__email=INVITEE, user__sso=True)
        _, code = invite()
        with pytest.raises(InvalidCredentials):
            sign_in_and_join(code, password="")
        assert _events(db, "invitation:accept") == []

    def test_refuses_another_address_even_with_its_right_password(self, db, invite,
                                                                  sign_in_and_join):
        MembershipFactory(user__email="other@example.com")
        _, code = invite()
        with pytest.raises(EmailMismatch):
            sign_in_and_join(code, email="other@example.com")
        assert _events(db, "login:failure") == []

    def test_someone_who_became_a_member_meanwhile_is_refused_and_keeps_the_link(
            self, db, org, invite, sign_in_and_join, clock):
        _, code = invite()
        user = MembershipFactory(org=org, user__email=INVITEE).user
        refused = as_the_edge(db, sign_in_and_join, code)
        assert isinstance(refused, AlreadyMember) and refused.code == "already_member"
        assert _count(db, Membership, Membership.user_id == user.id) == 1
        assert _still_valid(db, code, clock)


class TestAcceptSignedIn:
    def test_joins_and_moves_the_session_to_the_new_organization(self, db, org, invite,
                                                                 signed_in, resolve,
                                                                 clock):
        home = MembershipFactory(user__email=INVITEE)
        token, ctx = signed_in(home)
        _, code = invite(role="admin")
        membership = invitations.accept_signed_in(db, code, email=INVITEE, session=ctx,
                                                  actor=Actor(), now=clock.now())
        assert (membership.org_id, membership.role) == (org.id, Role.ADMIN)
        assert (resolve(token).org_id, resolve(token).role) == (org.id, "admin")
        assert home.user.last_org_id == org.id
        assert _count(db, Invitation) == 0
        assert len(_events(db, "invitation:accept")) == 1

    def test_a_session_started_through_an_idp_stays_in_its_organization(
            self, db, org, invite, signed_in, resolve, clock):
        home = MembershipFactory(user__email=INVITEE)
        token, ctx = signed_in(home)
        # As gateway.sso.signin starts it: pinned to the organization whose IdP vouched.
        db.execute(update(UserSession).where(UserSession.id == ctx.session_id)
                   .values(sso_org_id=home.org_id))
        _, code = invite()
        invitations.accept_signed_in(db, code, email=INVITEE, session=ctx,
                                     actor=Actor(), now=clock.now())
        assert org.id in _memberships(db, home.user)
        assert resolve(token).org_id == home.org_id

    def test_refuses_the_session_of_someone_else(self, db, org, invite, signed_in,
                                                 clock):
        other = MembershipFactory()
        _, ctx = signed_in(other)
        _, code = invite()
        with pytest.raises(EmailMismatch, match="signed in as someone else"):
            invitations.accept_signed_in(db, code, email=INVITEE, session=ctx,
                                         actor=Actor(), now=clock.now())
        assert org.id not in _memberships(db, other.user)
        assert _still_valid(db, code, clock)

    def test_refuses_a_typed_address_that_is_not_the_invited_one(self, db, invite,
                                                                 signed_in, clock):
        _, ctx = signed_in(MembershipFactory(user__email=INVITEE))
        _, code = invite()
        with pytest.raises(EmailMismatch):
            invitations.accept_signed_in(db, code, email="other@example.com",
                                         session=ctx, actor=Actor(), now=clock.now())
        assert _still_valid(db, code, clock)
