"""factory_boy factories that write through the test's Session."""

from __future__ import annotations

import factory
from factory.alchemy import SQLAlchemyModelFactory

from gateway.accounts.models import User
from gateway.orgs.models import MemberStatus, Membership, Organization, Role

_state: dict = {}


def bind(session, app, clock) -> None:
    _state.update(session=session, app=app, clock=clock)


def _now():
    return _state["clock"].now()


class _Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: _state["session"]  # noqa: E731
        sqlalchemy_session_persistence = "flush"


class OrganizationFactory(_Base):
    class Meta:
        model = Organization

    slug = factory.Sequence(lambda n: f"org-{n}")
    name = factory.Sequence(lambda n: f"Organization {n}")
    created_at = factory.LazyFunction(_now)


class UserFactory(_Base):
    """A password user; `password=` is hashed with the app's hasher."""

    class Meta:
        model = User
        exclude = ("password",)

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    name = factory.Sequence(lambda n: f"Person {n}")
    password = "violet tractor mango 1987 sunrise"
    password_hash = factory.LazyAttribute(
        lambda o: _state["app"].extensions["idgate.passwords"].hash(o.password) if o.password else None
    )
    created_at = factory.LazyFunction(_now)

    class Params:
        temporary = factory.Trait(must_change_password=True)
        sso = factory.Trait(sso_only=True, password=None)


class MembershipFactory(_Base):
    class Meta:
        model = Membership

    org = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.USER
    status = MemberStatus.ACTIVE
    joined_at = factory.LazyFunction(_now)

    class Params:
        admin = factory.Trait(role=Role.ADMIN)
        inactive = factory.Trait(status=MemberStatus.INACTIVE)


def member(**kwargs) -> User:
    """A user with one active membership (a new organization unless `org=` is given)."""
    return MembershipFactory(**kwargs).user
