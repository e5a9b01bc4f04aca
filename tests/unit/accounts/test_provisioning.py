"""Just-in-time provisioning: what an IdP's identity means for our accounts, and never a takeover."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.accounts import provisioning
from gateway.accounts.models import FederatedIdentity, User
from gateway.accounts.provisioning import Action, DomainClaim, ExternalIdentity, ProvisioningDenied
from gateway.orgs.models import Membership, MemberStatus, Role
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

ISSUER = "https://idp.acme.example.com"


@pytest.fixture
def org(db):
    return OrganizationFactory()


def identity(org, subject="ada@acme.example.com", email="ada@acme.example.com", name="Ada Lovelace",
             groups=()) -> ExternalIdentity:
    return ExternalIdentity(org_id=org.id, issuer=ISSUER, subject=subject, email=email, name=name,
                            groups=frozenset(groups))


def link(db, user, org, subject="ada@acme.example.com"):
    """The user as this organization's IdP knows them, as an earlier sign-in left it."""
    db.add(FederatedIdentity(user_id=user.id, org_id=org.id, issuer=ISSUER, subject=subject,
                             created_at=user.created_at))
    db.flush()


def decide(db, ext, domains=("acme.example.com",), declared_elsewhere=()):
    """`domains` this organization declared, `declared_elsewhere` the domains others did."""
    return provisioning.decide(db, ext, domain_claim=lambda domain: DomainClaim(
        here=domain in domains, elsewhere=domain in declared_elsewhere, declares_any=bool(domains)))


def apply(db, ext, decision, *, default_role=Role.USER, admin_groups=(), clock=None):
    return provisioning.apply(db, decision, ext, default_role=default_role, admin_groups=list(admin_groups),
                              now=clock.now())


def stored(db, model, **where):
    db.expire_all()
    return db.scalars(select(model).filter_by(**where)).all()


class TestDecide:
    def test_nobody_with_the_email_enrolls_with_the_normal_form(self, db, org):
        decision = decide(db, identity(org, email="  Ada@ACME.example.com "))

        assert (decision.action, decision.email) == (Action.ENROLL, "ada@acme.example.com")

    def test_a_user_linked_to_this_idp_signs_in(self, db, org):
        user = MembershipFactory(org=org, user__email="ada@acme.example.com", user__sso=True).user
        link(db, user, org)

        decision = decide(db, identity(org))

        assert decision.action == Action.AUTH and decision.found.user_id == user.id

    def test_the_link_wins_over_the_email_the_idp_sends_now(self, db, org):
        user = MembershipFactory(org=org, user__email="ada@acme.example.com", user__sso=True).user
        link(db, user, org)
        UserFactory(email="someone.else@acme.example.com")

        decision = decide(db, identity(org, email="someone.else@acme.example.com"))

        assert decision.action == Action.AUTH and decision.found.user_id == user.id

    def test_a_linked_user_whose_membership_is_deactivated_is_refused(self, db, org):
        user = MembershipFactory(org=org, inactive=True, user__email="ada@acme.example.com").user
        link(db, user, org)

        decision = decide(db, identity(org))

        assert (decision.action, decision.reason) == (Action.DENY, "deactivated")

    def test_a_password_user_elsewhere_is_not_taken_over(self, db, org):
        MembershipFactory(user__email="ada@acme.example.com")  # a member of another organization

        decision = decide(db, identity(org))

        assert (decision.action, decision.reason) == (Action.DENY, "account_exists")

    def test_a_member_on_an_undeclared_domain_is_not_taken_over(self, db, org):
        MembershipFactory(org=org, user__email="ada@acme.example.com")

        decision = decide(db, identity(org), domains=["other.example.com"])

        assert (decision.action, decision.reason) == (Action.DENY, "account_exists")

    def test_a_member_on_a_declared_domain_is_linked(self, db, org):
        user = MembershipFactory(org=org, user__email="ada@acme.example.com").user

        decision = decide(db, identity(org))

        assert decision.action == Action.LINK and decision.found.user_id == user.id

    def test_a_deactivated_member_on_a_declared_domain_is_refused(self, db, org):
        MembershipFactory(org=org, inactive=True, user__email="ada@acme.example.com")

        decision = decide(db, identity(org))

        assert (decision.action, decision.reason) == (Action.DENY, "deactivated")

    def test_a_link_made_by_another_organization_signs_nobody_in_here(self, db, org):
        # Its admin may have connected an IdP with our entity ID and their own key.
        elsewhere = OrganizationFactory()
        user = MembershipFactory(org=elsewhere, admin=True, user__email="ada@acme.example.com").user
        link(db, user, elsewhere)

        decision = decide(db, identity(org))

        assert (decision.action, decision.reason) == (Action.DENY, "account_exists")

    def test_a_member_who_also_belongs_elsewhere_is_linked_here(self, db, org):
        # (Their SSO session then stays in this organization: sessions.switch_org.)
        user = MembershipFactory(org=org, user__email="ada@acme.example.com").user
        MembershipFactory(user=user, admin=True)

        decision = decide(db, identity(org))

        assert decision.action == Action.LINK and decision.found.user_id == user.id

    def test_nobody_is_enrolled_on_a_domain_the_organization_did_not_declare(self, db, org):
        decision = decide(db, identity(org, email="ceo@other.example.com"))

        assert (decision.action, decision.reason) == (Action.DENY, "foreign_domain")

    def test_without_declared_domains_any_domain_no_one_else_declared_enrolls(self, db, org):
        assert decide(db, identity(org, email="ann@anywhere.example.com"), domains=()).action == Action.ENROLL
        refused = decide(db, identity(org, email="ceo@other.example.com"), domains=(),
                         declared_elsewhere={"other.example.com"})
        assert (refused.action, refused.reason) == (Action.DENY, "foreign_domain")

    @pytest.mark.parametrize(("email", "reason"), [(None, "no_email"), ("", "no_email"),
                                                    ("not an address", "invalid_email")])
    def test_an_unusable_email_is_refused_unless_linked(self, db, org, email, reason):
        decision = decide(db, identity(org, email=email))

        assert (decision.action, decision.reason) == (Action.DENY, reason)


class TestApply:
    def test_enrolls_an_sso_only_user_with_an_active_membership(self, db, org, clock):
        ext = identity(org)

        account = apply(db, ext, decide(db, ext), default_role=Role.USER, clock=clock)

        user = stored(db, User, id=account.user_id)[0]
        assert (user.email, user.name, user.sso_only, user.password_hash) == (
            "ada@acme.example.com", "Ada Lovelace", True, None)
        assert (user.last_login_at, user.last_org_id) == (clock.now(), org.id)
        membership = stored(db, Membership, user_id=user.id)[0]
        assert (membership.org_id, membership.role, membership.status) == (org.id, Role.USER, MemberStatus.ACTIVE)
        assert [(f.issuer, f.subject) for f in stored(db, FederatedIdentity, user_id=user.id)] == [
            (ISSUER, "ada@acme.example.com")]

    def test_a_returning_user_gets_the_idps_current_name(self, db, org, clock):
        first = identity(org)
        account = apply(db, first, decide(db, first), clock=clock)
        clock.advance(minutes=5)
        later = identity(org, name="Ada King")

        assert apply(db, later, decide(db, later), clock=clock) == account

        user = stored(db, User, id=account.user_id)[0]
        assert (user.name, user.last_login_at) == ("Ada King", clock.now())

    def test_linking_keeps_the_members_name_and_adds_the_link(self, db, org, clock):
        user = MembershipFactory(org=org, user__email="ada@acme.example.com", user__name="Ada").user
        ext = identity(org)

        apply(db, ext, decide(db, ext), clock=clock)

        assert stored(db, User, id=user.id)[0].name == "Ada"
        assert len(stored(db, FederatedIdentity, user_id=user.id)) == 1

    def test_an_admin_group_promotes_and_leaving_it_demotes(self, db, org, clock):
        MembershipFactory(org=org, admin=True)  # another admin, so a demotion is allowed
        ext = identity(org, groups=["idgate-admins"])
        account = apply(db, ext, decide(db, ext), admin_groups=["idgate-admins"], clock=clock)
        assert stored(db, Membership, user_id=account.user_id)[0].role == Role.ADMIN

        ext = identity(org, groups=["staff"])
        apply(db, ext, decide(db, ext), admin_groups=["idgate-admins"], clock=clock)

        membership = stored(db, Membership, user_id=account.user_id)[0]
        assert (membership.role, membership.version) == (Role.USER, 2)

    def test_groups_never_demote_the_last_active_admin(self, db, org, clock):
        ext = identity(org, groups=["idgate-admins"])
        account = apply(db, ext, decide(db, ext), admin_groups=["idgate-admins"], clock=clock)

        ext = identity(org, groups=[])
        apply(db, ext, decide(db, ext), admin_groups=["idgate-admins"], clock=clock)

        assert stored(db, Membership, user_id=account.user_id)[0].role == Role.ADMIN

    def test_a_refusal_raises_and_writes_nothing(self, db, org, clock):
        MembershipFactory(user__email="ada@acme.example.com")
        ext = identity(org)

        with pytest.raises(ProvisioningDenied) as denied:
            apply(db, ext, decide(db, ext), clock=clock)

        assert denied.value.reason == "account_exists"
        assert stored(db, FederatedIdentity) == []
