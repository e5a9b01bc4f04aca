"""Prepared statements: SQLAlchemy's SQL and conversions, the driver's execution, the same rows and errors."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, insert, literal, select, update
from sqlalchemy.exc import IntegrityError, InvalidRequestError, NoResultFound

from gateway import prepared
from gateway.accounts.models import User
from gateway.audit.models import AuditEvent
from gateway.db import core_execute
from gateway.errors import BadRequest
from gateway.orgs.models import Membership, MemberStatus, Role
from tests.factories import OrganizationFactory

_users, _members, _events = User.__table__, Membership.__table__, AuditEvent.__table__
_NEW_USER = insert(_users).returning(_users.c.id, _users.c.must_change_password, _users.c.created_at)
_USER_BY_EMAIL = select(_users.c.id, _users.c.email, literal(True).label("found")).where(
    _users.c.email == bindparam("email"))
_NEW_MEMBER = insert(_members).returning(_members.c.role, _members.c.status)
_NEW_MEMBER_ID = insert(_members).returning(_members.c.scim_id)
_APPEND = insert(_events).returning(_events.c.details, _events.c.occurred_at)
_RENAME = update(_users).where(_users.c.id == bindparam("user"))

# Three hours east of UTC: stored and read back as the same instant, in UTC.
EAST = timezone(timedelta(hours=3))
NOW = datetime(2026, 6, 1, 15, 30, 0, 123456, tzinfo=EAST)


def _new_user(db, email="ada@example.com"):
    return core_execute(db, _NEW_USER, {"email": email, "name": "Ada", "created_at": NOW}).first()


def test_values_go_through_each_types_own_conversion_and_come_back_as_sqlalchemy_reads_them(db):
    org = OrganizationFactory()
    user = _new_user(db)
    member = core_execute(db, _NEW_MEMBER, {"org_id": org.id, "user_id": user.id, "role": Role.ADMIN,
                                            "joined_at": NOW}).first()
    event = core_execute(db, _APPEND, {"occurred_at": NOW, "action": "test:types",
                                       "details": {"method": "saml", "nested": [1, None]}}).first()

    assert user.created_at == NOW and user.created_at.tzinfo == timezone.utc
    assert user.must_change_password is False  # the column's Python-side default, filled in
    assert (member.role, member.status) == (Role.ADMIN, MemberStatus.ACTIVE)
    assert event.details == {"method": "saml", "nested": [1, None]}
    # What the ORM reads is what was meant, whichever way it was written.
    assert db.get(User, user.id).created_at == NOW
    assert db.scalar(select(Membership.role).where(Membership.user_id == user.id)) == Role.ADMIN


def test_a_default_made_by_a_function_is_made_again_for_every_row(db):
    org = OrganizationFactory()
    made = [core_execute(db, _NEW_MEMBER_ID,
                         {"org_id": org.id, "user_id": _new_user(db, email).id, "role": Role.USER, "joined_at": NOW}
                         ).first().scim_id for email in ("ada@example.com", "bob@example.com")]

    assert all(len(scim_id) == 36 for scim_id in made) and made[0] != made[1]  # a random UUID each


def test_rows_answer_by_position_and_by_name(db):
    user_id = _new_user(db).id

    row = core_execute(db, _USER_BY_EMAIL, {"email": "ada@example.com"}).first()
    assert row == (user_id, "ada@example.com", True)
    assert (row.id, row.found, row[1:]) == (user_id, True, ("ada@example.com", True))
    assert core_execute(db, _USER_BY_EMAIL, {"email": "nobody@example.com"}).first() is None
    assert core_execute(db, _USER_BY_EMAIL, {"email": "nobody@example.com"}).all() == []


def test_scalar_one_insists_on_one_row(db):
    with pytest.raises(NoResultFound):
        core_execute(db, _USER_BY_EMAIL, {"email": "nobody@example.com"}).scalar_one()


def test_an_update_sets_what_the_parameters_name(db):
    user_id = _new_user(db).id
    core_execute(db, _RENAME, {"user": user_id, "name": "Ada L."})

    assert db.scalar(select(User.name).where(User.id == user_id)) == "Ada L."


def test_a_missing_parameter_is_refused_not_sent_as_null(db):
    with pytest.raises(InvalidRequestError):
        core_execute(db, _USER_BY_EMAIL, {})


def test_the_drivers_refusals_are_sqlalchemys_exceptions_and_the_transaction_rolls_back(db):
    _new_user(db)
    with pytest.raises(IntegrityError):
        _new_user(db)  # the same email: the unique index decides
    db.rollback()

    assert core_execute(db, _USER_BY_EMAIL, {"email": "ada@example.com"}).first() is None


def test_one_preparation_per_statement_dialect_and_parameter_names(db):
    dialect = db.get_bind().dialect
    renaming = prepared.prepared(_RENAME, dialect, ("user", "name"))

    assert prepared.prepared(_RENAME, dialect, ("user", "name")) is renaming
    assert prepared.prepared(_RENAME, dialect, ("user", "email")) is not renaming


def test_hooks_see_every_statement_before_it_runs(db, monkeypatch):
    seen = []
    monkeypatch.setattr(prepared, "_hooks", [*prepared._hooks, lambda conn, st, values: seen.append(st.writes)])
    _new_user(db)
    core_execute(db, _USER_BY_EMAIL, {"email": "ada@example.com"})

    assert seen == [True, False]


def test_nul_characters_are_a_clear_400_on_postgresql(db, is_postgres):
    if not is_postgres:
        pytest.skip("SQLite stores NUL characters; PostgreSQL cannot")
    with pytest.raises(BadRequest) as refused:
        _new_user(db, email="ada\x00@example.com")
    assert refused.value.code == "nul_character"
