"""The `idgate` command line: init and org create."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from gateway.accounts.models import User
from gateway.orgs.models import Membership, Organization, Role


def test_org_create_prints_a_temporary_password_once_and_stores_only_its_hash(runner, db):
    result = runner.invoke(args=["org", "create", "acme", "--name", "Acme", "--admin-email", "Ada@Example.com",
                                 "--admin-name", "Ada Admin"])
    assert result.exit_code == 0, result.output
    temporary = re.search(r"Temporary password \(shown once\): (\S+)", result.output).group(1)
    assert len(temporary) == 16

    user = db.scalar(select(User).where(User.email == "ada@example.com"))
    assert user.must_change_password
    assert temporary not in user.password_hash and user.password_hash.startswith("$argon2id$")
    membership = db.scalar(select(Membership).where(Membership.user_id == user.id))
    assert membership.role == Role.ADMIN and membership.org.slug == "acme"


def test_org_create_refuses_a_taken_slug_without_writing_anything(runner, db):
    assert runner.invoke(args=["org", "create", "acme", "--name", "Acme", "--admin-email", "a@example.com",
                               "--admin-name", "Ada Admin"]).exit_code == 0
    result = runner.invoke(args=["org", "create", "acme", "--name", "Other", "--admin-email", "b@example.com",
                                 "--admin-name", "Bob Admin"])
    assert result.exit_code != 0
    assert "taken" in result.output
    assert db.scalar(select(func.count()).select_from(Organization)) == 1
    assert db.scalar(select(User).where(User.email == "b@example.com")) is None


def test_org_create_refuses_a_bad_email_with_a_clear_message(runner, db):
    result = runner.invoke(args=["org", "create", "acme", "--name", "Acme", "--admin-email", "not-an-email",
                                 "--admin-name", "Ada Admin"])
    assert result.exit_code != 0
    assert "valid email" in result.output
    assert db.scalar(select(func.count()).select_from(Organization)) == 0


def test_init_is_idempotent(runner):
    first = runner.invoke(args=["init"])
    second = runner.invoke(args=["init"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "Database ready" in second.output
